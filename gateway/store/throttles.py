"""A login throttle's row, created if missing and locked for the caller's transaction.

Several logins from one source at once (a proxy, a NAT, HAProxy in front of several nodes) each
count a failure against the same row. Read-then-insert lets two of them insert it together, which
PostgreSQL refuses with a unique violation (SQLite serialises its writers, so it never showed
there). `INSERT ... ON CONFLICT DO NOTHING` and then `SELECT ... FOR UPDATE` gives each the one
row, in turn.
"""
from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.store.models_portal import LoginThrottle


def locked_throttle(session: Session, scope: str, key: str) -> LoginThrottle:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(LoginThrottle).values(scope=scope, key=key, failures=0).on_conflict_do_nothing())
    row = session.get(LoginThrottle, (scope, key), with_for_update=True, populate_existing=True)
    assert row is not None  # inserted above, or already there; throttle rows are deleted only on success
    return row
