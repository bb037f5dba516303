"""One node at a time runs the retention sweep and the mail rounds; the lead survives its node's
death (issue 24, item 4): a session-level advisory lock in the shared PostgreSQL."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text

from gateway.store.leader import Leadership

pytestmark = pytest.mark.postgres


def test_one_leader_at_a_time_and_another_takes_over_when_it_dies(postgres):
    url = postgres.new_database()
    a_engine, b_engine = create_engine(url), create_engine(url)
    a, b = Leadership(a_engine, "retention"), Leadership(b_engine, "retention")
    mail_b = Leadership(b_engine, "mail")
    try:
        assert a.held() and a.held()  # asked again each round: still the leader
        assert not b.held()
        assert mail_b.held()  # another round's lead is another lock
        # Node A dies: its database session ends (as when the process is killed), and its lock with it.
        with b_engine.connect() as admin:
            pid = a._conn.execute(text("SELECT pg_backend_pid()")).scalar()  # type: ignore[union-attr]
            a._conn.commit()  # type: ignore[union-attr]
            admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        # The backend ends a moment after it is signalled; B asks each round, as the scheduler does.
        deadline = time.monotonic() + 10
        while not b.held() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert b.held()
        assert not a.held()  # A comes back: it finds its session gone and B leading
        b.release()
        assert a.held()
    finally:
        for leadership in (a, b, mail_b):
            leadership.release()
        a_engine.dispose()
        b_engine.dispose()


def test_on_sqlite_the_one_node_always_leads(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'g.db'}")
    try:
        assert Leadership(engine, "retention").held() and Leadership(engine, "retention").held()
    finally:
        engine.dispose()
