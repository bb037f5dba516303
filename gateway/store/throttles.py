"""A login throttle's row, created if missing and locked for the caller's transaction.

Several logins from one source at once (a proxy, a NAT, HAProxy in front of several nodes) each
count a failure against the same row. Read-then-insert lets two of them insert it together, which
PostgreSQL refuses with a unique violation (SQLite serialises its writers, so it never showed
there). `INSERT ... ON CONFLICT DO NOTHING` and then `SELECT ... FOR UPDATE` gives each the one
row, in turn, also when a successful login deletes it meanwhile.
"""
from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.store.failures import DatabaseBusy
from gateway.store.models_portal import LoginThrottle

ATTEMPTS = 5


def locked_throttle(session: Session, scope: str, key: str) -> LoginThrottle:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for _ in range(ATTEMPTS):
        session.execute(insert(LoginThrottle).values(scope=scope, key=key, failures=0).on_conflict_do_nothing())
        row = session.get(LoginThrottle, (scope, key), with_for_update=True, populate_existing=True)
        if row is not None:
            return row
        # A successful login of the same account deleted the row while this waited for its lock
        # (READ COMMITTED then finds nothing): make it again.
    raise DatabaseBusy()  # deleted under it every time: as busy as a database gets
