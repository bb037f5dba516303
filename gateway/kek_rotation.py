"""Rotating the key-encryption key, so that an erased data key is unreadable wherever a copy lies.

Crypto-erase sets a blob's wrapped data key to NULL, but the old value lingers where no program
can reach to scrub it: SQLite free pages and WAL frames, PostgreSQL dead row versions and WAL
segments, database backups. Those copies are useless once the KEK generation they are wrapped
under is destroyed, and a rotation does exactly that:

1. create the new generation's key (a file, fsynced; or an object in the token) — durable before
   anything is wrapped under it;
2. in one transaction: record the new generation, retire every older one, re-wrap every live
   data key under the new one;
3. after that commit, destroy the retired generations' keys;
4. record that they are destroyed, with a log entry.

A crash anywhere leaves every live blob readable: before 2 commits, every row still names an
older generation whose key exists (a key made in 1 is adopted by the next rotation); after it,
every live row names the new one. A rerun finishes 3 and 4. Named fault points let the tests
kill the process at each step (`gateway.store.faultpoints`).

Writers in other processes (portal, SFTP) wrap new data keys in the transaction that records
them, under the current generation read with a shared lock (`current_generation`): a rotation's
step 2 waits for them, and they wait for it, so no live row can be left under a retired
generation. One sweep that erases many blobs rotates once, after its erasures.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, exists, func, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from gateway.crypto.kek import Keyring
from gateway.errors import Conflict
from gateway.ledger.log import Event, Ledger
from gateway.store import db, faultpoints
from gateway.store import models as m
from gateway.store.models_kek import KekGeneration

ACTION = "kek.rotate"
SCRUB_LOCK_TIMEOUT_MS = 5000
LOCK_NOT_AVAILABLE = "55P03"
CHUNK = 1000  # rows re-wrapped per statement: memory stays flat however many blobs are live
_blobs = cast(Table, m.Blob.__table__)


@dataclass
class Rotation:
    generation: int | None = None  # the new current generation; None if only destruction was finished
    backend: str | None = None
    rewrapped: int = 0
    destroyed: list[int] = field(default_factory=list)
    scrubbed: bool = False  # old row versions folded away too (defence in depth; see scrub)

    def to_dict(self) -> dict[str, Any]:
        return {"generation": self.generation, "backend": self.backend, "rewrapped": self.rewrapped,
                "destroyed": self.destroyed, "scrubbed": self.scrubbed}


class RotationConflict(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "別の処理が同時に鍵暗号化鍵を更新しました。何も変更していません。もう一度実行してください。",
            "another process rotated the key-encryption key at the same time; nothing was changed. Run it again.",
        )


def ensure_current(session: Session, keyring: Keyring, *, at: datetime) -> int | None:
    """At init: make generation 1 in the configured backend if none exists. Returns the new id."""
    if session.scalar(select(KekGeneration.id).where(KekGeneration.retired_at.is_(None)).limit(1)) is not None:
        return None
    new_id = (session.scalar(select(func.max(KekGeneration.id))) or 0) + 1
    keyring.backend(keyring.default_backend).create(new_id)
    session.add(KekGeneration(id=new_id, backend=keyring.default_backend, created_at=at))
    session.flush()
    return new_id


def rewrap_due(session: Session, keyring: Keyring) -> bool:
    """An erased blob's old wrapped key is still under a generation that is not retired, or the
    current generation is not in the backend the configuration names (a move to the HSM)."""
    live_gens = select(KekGeneration.id).where(KekGeneration.retired_at.is_(None))
    erased_under_live = session.scalar(select(exists().where(
        m.Blob.wrapped_key.is_(None), m.Blob.kek_generation.in_(live_gens))))
    return bool(erased_under_live) or backend_changed(session, keyring)


def backend_changed(session: Session, keyring: Keyring) -> bool:
    backends = set(session.scalars(select(KekGeneration.backend).where(KekGeneration.retired_at.is_(None))))
    return bool(backends) and backends != {keyring.default_backend}


def _destroy_pending(session: Session) -> list[tuple[int, str]]:
    return [(g.id, g.backend) for g in session.scalars(
        select(KekGeneration).where(KekGeneration.retired_at.is_not(None), KekGeneration.destroyed_at.is_(None))
        .order_by(KekGeneration.id))]


def rotate(engine: Engine, ledger: Ledger, keyring: Keyring, *, now: datetime, force: bool = False) -> Rotation | None:
    """Rotate if an erasure (or `force`, or a change of backend) calls for it, and finish any
    rotation a crash interrupted. None when there was nothing to do."""
    with db.session_scope(engine, read_only=True) as s:
        rewrap = force or rewrap_due(s, keyring)
        pending = _destroy_pending(s)
        new_id = (s.scalar(select(func.max(KekGeneration.id))) or 0) + 1
    if not rewrap and not pending:
        return None
    result = Rotation()
    if rewrap:
        backend = keyring.default_backend
        keyring.backend(backend).create(new_id)
        faultpoints.reached("kek-rotate:after-new-kek")
        result.generation, result.backend = new_id, backend
        result.rewrapped = _switch(engine, keyring, new_id, backend, now)
        faultpoints.reached("kek-rotate:after-rewrap")
        with db.session_scope(engine, read_only=True) as s:
            pending = _destroy_pending(s)
    for generation, backend in pending:
        keyring.backend(backend).destroy(generation)
        faultpoints.reached("kek-rotate:after-destroy")
    result.destroyed = [g for g, _ in pending]
    with db.session_scope(engine) as s:
        for generation in result.destroyed:
            row = s.get(KekGeneration, generation)
            if row is not None and row.destroyed_at is None:
                row.destroyed_at = now
        ledger.record(s, Event(action=ACTION, channel="system", reason=_reason(result)))
    result.scrubbed = scrub(engine)
    return result


def _switch(engine: Engine, keyring: Keyring, new_id: int, backend: str, now: datetime) -> int:
    try:
        with db.session_scope(engine) as s:
            s.add(KekGeneration(id=new_id, backend=backend, created_at=now))
            s.flush()
            # Locking the rows waits for writers that hold the current generation (shared), and
            # makes later ones wait for this commit and then find the new generation.
            for old in s.scalars(select(KekGeneration).where(KekGeneration.retired_at.is_(None),
                                                             KekGeneration.id != new_id)
                                 .with_for_update()).all():
                old.retired_at = now
            s.flush()
            return _rewrap_live(s, keyring, new_id, backend)
    except IntegrityError:
        raise RotationConflict() from None


def _rewrap_live(session: Session, keyring: Keyring, target: int, backend: str) -> int:
    backends = {row.id: row.backend for row in session.execute(select(KekGeneration.id, KekGeneration.backend))}
    total, after = 0, ""
    while True:
        rows = session.execute(
            select(_blobs.c.id, _blobs.c.kek_generation, _blobs.c.wrapped_key)
            .where(_blobs.c.wrapped_key.is_not(None), _blobs.c.kek_generation != target, _blobs.c.id > after)
            .order_by(_blobs.c.id).limit(CHUNK)
        ).all()
        if not rows:
            return total
        updates = []
        for blob_id, generation, wrapped in rows:
            aad = blob_id.encode()
            data_key = keyring.unwrap(backends[generation], generation, wrapped, aad)
            updates.append({"b_id": blob_id, "b_key": keyring.wrap(backend, target, data_key, aad)})
        session.execute(update(_blobs).where(_blobs.c.id == bindparam("b_id"))
                        .values(wrapped_key=bindparam("b_key"), kek_generation=target), updates)
        total += len(rows)
        after = rows[-1].id
        faultpoints.reached("kek-rotate:mid-rewrap")


def scrub(engine: Engine) -> bool:
    """Defence in depth once old versions are useless: fold SQLite's WAL into the database and
    truncate it (secure_delete zeroes what the checkpoint frees); on PostgreSQL, rewrite the
    blobs table so its dead row versions go. Neither reaches WAL archives or backups, which is
    why the rotation, not this, is what makes the erasure final. False when a reader with an
    older snapshot was in the way: the next rotation's scrub, or SQLite's own checkpoints, do
    it later, and what stays meanwhile is under destroyed keys."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            # On the driver's connection: SQLAlchemy would wrap the statement in BEGIN IMMEDIATE,
            # and SQLite checkpoints only outside a transaction. It waits (busy timeout) for
            # readers of older snapshots, then reports them as busy.
            raw = conn.connection.driver_connection
            assert raw is not None
            busy, _, _ = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            return busy == 0
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # VACUUM FULL needs the table to itself; queued behind a long reader it would also
            # hold up every reader after it, so it gives up after a short wait instead.
            conn.execute(text(f"SET lock_timeout = '{SCRUB_LOCK_TIMEOUT_MS}ms'"))
            try:
                conn.execute(text("VACUUM FULL blobs"))
            except OperationalError as err:
                if getattr(err.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                    raise
                return False
            finally:
                conn.execute(text("RESET lock_timeout"))
            return True
    return False


def _reason(r: Rotation) -> str:
    parts = []
    if r.generation is not None:
        parts.append(f"re-wrapped {r.rewrapped} live data keys under KEK generation {r.generation} ({r.backend})")
    if r.destroyed:
        parts.append(f"destroyed KEK generation{'s' if len(r.destroyed) > 1 else ''} "
                     f"{', '.join(map(str, r.destroyed))}")
    return "; ".join(parts) or "nothing to do"
