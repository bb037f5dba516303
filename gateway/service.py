"""One open gateway installation: its database, keys, clock and ledger, for every channel to use.

Channels (CLI, portal, SFTP, courier desk, hot folder) hold a `Gateway` and do their work in
`unit()`: one transaction in which the change and its log entry are written together.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gateway.clock import Clock, FakeTimeRefused, for_home
from gateway.crypto.keystore import KeyStore
from gateway.home import Home
from gateway.installation import installation_id, is_rehearsal, log_origin, open_engine, remember_head
from gateway.ledger.log import Event, Ledger
from gateway.settings import Settings
from gateway.settings import load as load_settings
from gateway.store import db
from gateway.store.blobs import BlobStore, objects_for_home
from gateway.store.models import LedgerHead
from gateway.store.objects import ObjectBackend

_log = logging.getLogger("gateway")


@dataclass
class Gateway:
    home: Home
    engine: Engine
    keys: KeyStore
    clock: Clock
    ledger: Ledger
    settings: Settings
    opened_at_seq: int = 0  # the log's head when opened: close() updates the head record if it moved
    _objects: ObjectBackend | None = field(default=None, repr=False)

    def blobs(self) -> BlobStore:
        """The blob store `[blobs] url` names, under the key-encryption key as it is now (read
        afresh each time: a rotation may have moved it); the object store's client is kept."""
        if self._objects is None:
            self._objects = objects_for_home(self.home, self.settings)
        return BlobStore(self._objects, self.keys.kek(), spool=self.home.blobs)

    @classmethod
    def open(cls, home: Home, clock: Clock | None = None) -> Gateway:
        """The installation at `home`, on its one clock (clock.for_home): a production home refuses
        a fake time, and the refusal is logged (on the real clock) as the attempt it is."""
        config = load_settings(home.root)
        engine = open_engine(home, config)
        keys = KeyStore(home.keys)
        try:
            with db.session_scope(engine, read_only=True) as session:
                installation, origin = installation_id(session), log_origin(session)
                rehearsal = is_rehearsal(session)
                head = session.get(LedgerHead, 1)
                seq = head.seq if head is not None else 0
            try:
                clock = for_home(rehearsal=rehearsal, given=clock)
            except FakeTimeRefused as err:
                real = Clock()
                gw = cls(home, engine, keys, real, Ledger(keys.signing_key(), installation, real, origin, node=config.cluster.node), config)
                gw.record(Event(action="clock.refused", channel="cli", outcome="refused",
                                reason=f"a time other than the real one was given ({err.what}) in a production home"))
                err.logged = True
                raise
        except BaseException:
            engine.dispose()
            raise
        ledger = Ledger(keys.signing_key(), installation, clock, origin, node=config.cluster.node)
        return cls(home, engine, keys, clock, ledger, config, seq)

    @contextmanager
    def unit(self) -> Iterator[Session]:
        """A write transaction. On SQLite it holds the database's one write lock from its start to
        its commit: keep slow work (key derivation, password hashing, encryption, file I/O) out of
        it, before or after, or every other writer waits (and past the busy timeout, fails)."""
        with db.session_scope(self.engine) as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only snapshot, without the write lock: lookups that change nothing."""
        with db.session_scope(self.engine, read_only=True) as session:
            yield session

    def record(self, event: Event) -> int:
        """An entry on its own, e.g. a refusal whose attempted change was rolled back."""
        with self.unit() as session:
            seq, _ = self.ledger.record(session, event)
        return seq

    def close(self) -> None:
        """Sign the head at shutdown, so the last entries are covered by a checkpoint. A command
        that only read (`gateway log`) signs nothing and takes no write lock: unsigned entries of
        others are signed by the next gateway that writes (and by every export)."""
        try:
            seq, signed = self._head()
            if seq != self.opened_at_seq:  # this gateway wrote: sign the head and remember it
                if seq != signed:
                    with self.unit() as session:
                        self.ledger.checkpoint(session)
                self.remember_head()
        finally:
            self.engine.dispose()

    def remember_head(self) -> None:
        """Update the home's record of the log's head (ledger/head_record.py), which lets a later
        re-initialisation name what it cuts off. A memory, not evidence: a disk that cannot take
        it is reported, and the command that wrote the log still succeeded."""
        try:
            remember_head(self.engine, self.home)
        except OSError as err:
            _log.warning("could not update the head record in %s: %s", self.home.root, err.strerror)

    def _head(self) -> tuple[int, int]:
        """(entries, entries covered by the last checkpoint), read without the write lock."""
        with self.read() as session:
            head = session.get(LedgerHead, 1)
            return (head.seq, head.checkpoint_size) if head is not None else (0, 0)

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
