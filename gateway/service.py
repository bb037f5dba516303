"""One open gateway installation: its database, keys, clock and ledger, for every channel to use.

Channels (CLI, portal, SFTP, courier desk, hot folder) hold a `Gateway` and do their work in
`unit()`: one transaction in which the change and its log entry are written together.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gateway.clock import Clock, from_environment
from gateway.crypto.keystore import KeyStore
from gateway.home import Home
from gateway.installation import installation_id, log_origin, open_engine
from gateway.ledger.log import Event, Ledger
from gateway.settings import Settings
from gateway.settings import load as load_settings
from gateway.store import db


@dataclass
class Gateway:
    home: Home
    engine: Engine
    keys: KeyStore
    clock: Clock
    ledger: Ledger
    settings: Settings

    @classmethod
    def open(cls, home: Home, clock: Clock | None = None) -> Gateway:
        config = load_settings(home.root)
        clock = clock or from_environment()
        engine = open_engine(home, config)
        keys = KeyStore(home.keys)
        with db.session_scope(engine, read_only=True) as session:
            installation, origin = installation_id(session), log_origin(session)
        return cls(home, engine, keys, clock, Ledger(keys.signing_key(), installation, clock, origin), config)

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
        """Sign the head at shutdown, so the last entries are covered by a checkpoint."""
        with self.unit() as session:
            self.ledger.checkpoint(session)
        self.engine.dispose()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
