"""Opening the installation a second time in the same process must never lose what the first one
writes afterwards.

A regression of the merge that made database files 0600: `db.connect` opened and closed the
existing `gateway.db` to create it owner-only, and closing any descriptor of a file drops every
POSIX lock the process holds on it, SQLite's included. A `gateway` command in another process then
believed it was the last connection, checkpointed and reset the WAL on exit, and the transactions
the first process committed afterwards went into a WAL nobody reads: the portal's log entries
vanished for every other process (seen as a test reading `gateway log` in a subprocess).
"""
from __future__ import annotations

import json
import sqlite3

from gateway.clock import FixedClock
from gateway.home import Home
from gateway.ledger.log import Event
from gateway.service import Gateway
from tests.conftest import run_gateway
from tests.portal.conftest import REHEARSAL


def test_a_second_open_in_the_same_process_keeps_the_first_ones_writes(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("GATEWAY_HOME", str(home))
    monkeypatch.delenv("GATEWAY_DB_URL", raising=False)
    run_gateway("init")
    first = Gateway.open(Home(home), FixedClock(REHEARSAL))
    try:
        first.record(Event(action="test.before", channel="system"))
        second = Gateway.open(Home(home), FixedClock(REHEARSAL))  # as the CLI run in-process does
        second.engine.dispose()
        run_gateway("log", "--json")  # another process comes and goes
        for n in range(3):
            first.record(Event(action=f"test.after.{n}", channel="system"))
        seen = json.loads(run_gateway("log", "--action", "test.", "--json").stdout)
        assert [e["action"] for e in seen] == ["test.before", "test.after.0", "test.after.1", "test.after.2"]
        with sqlite3.connect(home / "gateway.db") as raw:
            assert raw.execute("select count(*) from log_entries where action like 'test.%'").fetchone() == (4,)
    finally:
        first.engine.dispose()
