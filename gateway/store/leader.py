"""Which node runs the rounds only one node may run at a time (the retention sweep, the mail
rounds), when several `gateway serve` nodes share one PostgreSQL database.

The leader holds a session-level advisory lock on a connection of its own. The lock ends with that
connection, so it ends with the node: a node killed outright (or cut off from the database) loses
it, and another node takes it at its next round. Every node asks before each round; only the one
holding the lock runs it. On SQLite there is one node, always the leader.
"""
from __future__ import annotations

import hashlib
import logging

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

_log = logging.getLogger("gateway.leader")


def _key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for `name`, the same on every node."""
    return int.from_bytes(hashlib.sha256(f"gateway-leader:{name}".encode()).digest()[:8], "big", signed=True)


class Leadership:
    def __init__(self, engine: Engine, name: str) -> None:
        self.engine, self.name, self.key = engine, name, _key(name)
        self._conn: Connection | None = None

    @property
    def shared(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def held(self) -> bool:
        """True if this node leads `name` now (taking the lead if nobody holds it)."""
        if not self.shared:
            return True
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                self._conn.commit()
                return True
            except SQLAlchemyError:  # the database restarted or failed over: the lock went with it
                self._drop()
                _log.warning("lost the lead", extra={"round": self.name})
        try:
            conn = self.engine.connect()
        except SQLAlchemyError:
            return False
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
            conn.commit()  # the lock is the session's, not the transaction's: nothing held open
        except SQLAlchemyError:
            conn.invalidate()
            conn.close()
            return False
        if not got:
            conn.close()
            return False
        self._conn = conn
        _log.info("took the lead", extra={"round": self.name})
        return True

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._conn.commit()
        except SQLAlchemyError:
            pass
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except SQLAlchemyError:
                pass
