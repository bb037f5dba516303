"""Common mistakes get a message that says what to do, never a traceback (issue 22)."""
from __future__ import annotations

import json
import socket
from datetime import timedelta

from tests.conftest import run_gateway
from tests.helpers import send, sweep_at
from tests.test_retention import erase_due


def assert_told(proc, *needles: str) -> None:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    ja, _, en = proc.stderr.strip().partition("\n")
    assert ja and en and not ja.isascii(), proc.stderr  # Japanese first, English second
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_check_of_a_missing_file(kurume, tmp_path):
    proc = run_gateway("check", str(tmp_path / "missing.csv"), "--approval", "kurume-2020-teigaku",
                       "--recipient", "chikugo-print", "--profile", "vpn-sftp", check=False)
    assert_told(proc, "missing.csv", "cannot open the file")


def test_fetch_into_a_missing_directory(kurume, tmp_path):
    sent = json.loads(send(kurume, tmp_path).stdout)
    target = tmp_path / "no-such-dir" / "package.age"
    proc = run_gateway("fetch", sent["transfer"], "-o", str(target), "--as", "k.tanaka", "--paper-ref", "書面 1", check=False)
    assert_told(proc, "the output folder does not exist", str(target.parent))
    assert not target.parent.exists()


def test_a_postgres_url_is_read_as_postgresql_and_anything_else_says_what_to_write(tmp_path):
    home = tmp_path / "pg"
    # postgres:// is PostgreSQL through psycopg: here no server listens, so the failure is the connection's.
    proc = run_gateway("--home", str(home), "settings", "show", "--json",
                       env={"GATEWAY_DB_URL": "postgres://gw@127.0.0.1:1/gateway"}, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["db"]["url"] == "postgresql+psycopg://gw@127.0.0.1:1/gateway"
    proc = run_gateway("--home", str(home), "init", env={"GATEWAY_DB_URL": "mysql://gw:secret@db/gateway"}, check=False)
    assert_told(proc, "postgresql+psycopg://USER@HOST:5432/DATABASE", "PostgreSQL (psycopg) and SQLite only")
    assert "secret" not in proc.stderr
    assert not (home / "gateway.toml").exists()  # a URL we cannot use is never recorded


def test_serve_on_a_port_in_use_starts_nothing_and_erases_nothing(kurume, tmp_path, monkeypatch, home):
    sent = json.loads(send(kurume, tmp_path).stdout)
    due = erase_due(home, sent["transfer"])
    monkeypatch.setenv("GATEWAY_FAKE_NOW", (due + timedelta(days=1)).isoformat())  # the copy is past due
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_gateway("serve", "--sftp-port", "0", "--portal-port", str(port), "--sweep-interval", "1",
                           check=False, timeout=60)
    assert_told(proc, f"127.0.0.1:{port}", "already in use", "Nothing was started")
    # The failed start ran no sweep: the copy that was due is still there, and the next sweep erases it.
    assert sweep_at(due + timedelta(days=1))["erased"] == [sent["transfer"]]
