"""The SFTP server's source lock shared by every node on one PostgreSQL database: a source locked
after repeated failed logins on one node is locked on all, and failures on different nodes add up
(HAProxy spreads a guesser's connections over the nodes).

Kept in the portal's throttle table under the scope `sftp`, on the real clock (the lock is about
real attempts per real minute, also in a rehearsal). One node alone keeps it in memory (limits.py).
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from gateway.clock import real_now
from gateway.store import db
from gateway.store.models_portal import LoginThrottle
from gateway.store.throttles import locked_throttle

SCOPE = "sftp"


class SharedLockout:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def locked_for(self, source: str) -> float:
        """Seconds the source stays locked (0 when it is not)."""
        with db.session_scope(self.engine, read_only=True) as session:
            row = session.get(LoginThrottle, (SCOPE, source[:200]))
            until = row.locked_until if row is not None else None
        if until is None:
            return 0.0
        return max(0.0, (until - real_now()).total_seconds())

    def failed(self, source: str, *, max_failures: int, window: float, lockout: float) -> float:
        """Count a failed login on any node; the seconds of the lock this failure begins (0 if none)."""
        now = real_now()
        with db.session_scope(self.engine) as session:
            row = locked_throttle(session, SCOPE, source[:200])  # failures on two nodes at once: one row
            if row.first_failure_at is None or now - row.first_failure_at > timedelta(seconds=window):
                row.failures, row.first_failure_at = 0, now
            row.failures += 1
            if row.failures >= max_failures and not (row.locked_until is not None and row.locked_until > now):
                row.locked_until = now + timedelta(seconds=lockout)
                row.failures, row.first_failure_at = 0, None
                return lockout
        return 0.0
