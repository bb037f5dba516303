"""A write must not vanish because the same process opened its database again: `db.connect`
opened and closed the SQLite file to set its mode, which drops every POSIX lock the process held
on it; the next process to close then took itself for the last one, deleted the WAL and -shm,
and the first process's later writes went into a deleted WAL (lost). `gateway simulate` runs
commands in-process beside its portal, and lost entries so (found while testing issue 26)."""
from __future__ import annotations

import sqlite3
import subprocess
import sys

from gateway.store import db

OPEN_AND_CLOSE = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print(c.execute('select count(*) from t').fetchone()[0]); c.close()"


def other_process_count(path) -> int:
    return int(subprocess.run([sys.executable, "-c", OPEN_AND_CLOSE, str(path)], capture_output=True, text=True,
                              check=True).stdout)


def test_a_second_connect_in_the_process_keeps_its_writes_visible(tmp_path):
    path = tmp_path / "gateway.db"
    db.connect(f"sqlite:///{path}").dispose()  # creates the file, owner-only
    held = sqlite3.connect(path, isolation_level=None)  # a connection open all along (the portal's)
    held.execute("PRAGMA journal_mode=WAL")
    held.execute("CREATE TABLE t (x INTEGER)")
    held.execute("INSERT INTO t VALUES (1)")
    again = db.connect(f"sqlite:///{path}")  # an in-process command opens the database again
    assert other_process_count(path) == 1  # another process opens it and closes it
    assert path.with_name("gateway.db-wal").exists()  # it knew it was not the last one
    held.execute("INSERT INTO t VALUES (2)")
    assert other_process_count(path) == 2  # the write is where every process reads
    held.close()
    again.dispose()
