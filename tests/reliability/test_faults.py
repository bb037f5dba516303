"""Right answers to faults (issue 26, finding 8): a locked database, a read-only home, a damaged
or missing database, a database server away: each its own bilingual answer with what to do,
never "not initialised, run `gateway init`" and never a traceback; reads never wait for the
write lock; the portal answers 503 with Retry-After while PostgreSQL is away; approval values
are range-checked."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import APPROVALS, REHEARSAL_START, run_gateway

LOCKER = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
if sys.argv[2] == "exclusive":
    con.execute("PRAGMA locking_mode=EXCLUSIVE")  # no one else may even read
    con.execute("BEGIN EXCLUSIVE")
else:
    con.execute("BEGIN IMMEDIATE")  # the write lock, as a long send would hold it
print("locked", flush=True)
time.sleep(60)
"""


@contextmanager
def locked(database: Path, how: str):
    proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(database), how], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield
    finally:
        proc.kill()
        proc.wait()


def answer(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def sqlite_file(db_url: str) -> Path:
    return Path(db_url.removeprefix("sqlite:///"))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_locked_database_is_busy_not_uninitialised(home, db_url):
    with locked(sqlite_file(db_url), "exclusive"):
        t0 = time.monotonic()
        got = answer(run_gateway("approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml"), "--json",
                                 check=False, env={"GATEWAY_DB_BUSY_TIMEOUT_MS": "300"}))
        assert got["category"] == "busy" and "try again" in got["en"] and "init" not in got["en"]
        assert time.monotonic() - t0 < 8  # the configured timeout, not the driver's 5 s on top


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_reading_the_log_never_waits_for_the_write_lock(home, db_url):
    with locked(sqlite_file(db_url), "immediate"):
        t0 = time.monotonic()
        entries = json.loads(run_gateway("log", "--json").stdout)
        assert time.monotonic() - t0 < 5  # the busy timeout is 10 s: it did not wait for it
        assert entries[0]["action"] == "system.init"
        run_gateway("approval", "list")
        run_gateway("user", "list")


def test_a_home_never_initialised_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_HOME", str(tmp_path / "nothing"))
    monkeypatch.delenv("GATEWAY_DB_URL", raising=False)
    got = answer(run_gateway("log", "--json", check=False))
    assert got["category"] == "unavailable" and "not initialised" in got["en"] and "gateway init" in got["en"]


def test_an_unreachable_database_server_is_not_uninitialised(tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    monkeypatch.setenv("GATEWAY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GATEWAY_DB_URL", f"postgresql+psycopg://postgres@127.0.0.1:{port}/gateway")
    got = answer(run_gateway("init", "--json", check=False))
    assert got["category"] == "unavailable" and "cannot reach the database" in got["en"]
    got = answer(run_gateway("log", "--json", check=False))
    assert "cannot reach the database" in got["en"] and "init" not in got["en"].split("not initialised")[0]


@pytest.fixture
def tmpfs(tmp_path):
    """A small file system of our own (tests run as root), unmounted afterwards."""
    mount = tmp_path / "fs"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_read_only_home_says_read_only(tmpfs, monkeypatch):
    monkeypatch.setenv("GATEWAY_HOME", str(tmpfs / "home"))
    monkeypatch.delenv("GATEWAY_DB_URL", raising=False)
    run_gateway("init", "--rehearsal", env={"GATEWAY_FAKE_NOW": REHEARSAL_START})
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    got = answer(run_gateway("approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml"), "--json", check=False,
                             env={"GATEWAY_FAKE_NOW": "2020-06-01T10:00:00+09:00"}))
    assert got["category"] == "unavailable" and "read-only" in got["en"] and "読み取り専用" in got["ja"]
    subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], check=True)
    run_gateway("approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml"),
                env={"GATEWAY_FAKE_NOW": "2020-06-01T10:00:00+09:00"})


def _approval(tmp_path: Path, old: str, new: str) -> Path:
    text = (APPROVALS / "kurume-2020-teigaku.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "absurd.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", ["gateway_days", "max_records", "nesting"])
def test_absurd_approval_values_are_refused_with_their_name(home, tmp_path, case):
    text = (APPROVALS / "kurume-2020-teigaku.toml").read_text(encoding="utf-8")
    if case == "gateway_days":
        path = _approval(tmp_path, "gateway_days = 7", "gateway_days = 10000000000")
        name = "retention.gateway_days"
    elif case == "max_records":
        line = next(x for x in text.splitlines() if x.startswith("max_records"))
        path = _approval(tmp_path, line, f"max_records = {2**63}")
        name = "data.max_records"
    else:
        path = tmp_path / "nested.toml"
        path.write_text(text + "\nx = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
        name = "nested too deeply"
    got = answer(run_gateway("approval", "add", str(path), "--json", check=False))
    assert got["category"] == "invalid" and name in got["en"]
    assert json.loads(run_gateway("approval", "list", "--json").stdout) == []


@pytest.mark.postgres
def test_the_portal_answers_503_with_retry_after_while_postgres_is_away(tmp_path, monkeypatch):
    from gateway.channels.lgwan_asp import terminals
    from gateway.channels.lgwan_asp.server import PortalServer
    from gateway.home import Home
    from gateway.ledger.log import Actor
    from gateway.service import Gateway
    from gateway.cluster import postgres as postgres_server

    server = postgres_server.start()
    try:
        monkeypatch.setenv("GATEWAY_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("GATEWAY_DB_URL", server.new_database())
        run_gateway("init", "--rehearsal", env={"GATEWAY_FAKE_NOW": REHEARSAL_START})
        run_gateway("approval", "add", str(APPROVALS / "kurume-2020-teigaku.toml"))
        run_gateway("user", "add", "s.staff", "--org", "kurume", "--role", "staff", "--name", "職員")
        gw = Gateway.open(Home(tmp_path / "home"))
        t = terminals.issue(gw, "s.staff", tmp_path / "certs", actor=Actor(user="cli:test", role="admin"))
        import ssl

        ctx = ssl.create_default_context(cafile=str(tmp_path / "home" / "keys" / "ca.crt"))
        ctx.load_cert_chain(t.cert, t.key)
        with PortalServer(gw) as portal, httpx.Client(base_url=f"https://127.0.0.1:{portal.port}", verify=ctx,
                                                      timeout=30) as client:
            assert client.get("/login").status_code == 200
            server.kill()
            away = client.get("/login")
            assert away.status_code == 503 and away.headers["retry-after"]
            assert "データベース" in away.text
            api = client.get("/api/v1/transfers")
            assert api.status_code == 503 and api.json()["category"] == "unavailable"
            server.restart()
            assert client.get("/login").status_code == 200  # back without restarting the portal
        gw.engine.dispose()
    finally:
        server.stop()
