"""Rehearsals are sealed (issue 26, finding 5): `gateway simulate` with GATEWAY_DB_URL set wrote
the rehearsal into that database, after which the installation's own export failed `audit
verify`; a simulation into a used database reported findings that were not there."""
from __future__ import annotations

import json
import sqlite3

import pytest

from tests.conftest import city_policy, run_audit, run_gateway


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    monkeypatch.delenv("GATEWAY_FAKE_NOW", raising=False)


def count(database, table: str) -> int:
    with sqlite3.connect(database) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_rehearsal_never_writes_into_the_database_the_shell_names(home, db_url, tmp_path):
    production = db_url.removeprefix("sqlite:///")
    before = count(production, "log_entries")
    out = tmp_path / "rehearsal"
    result = json.loads(run_gateway("simulate", "kurume-2020", "--records", "50", "-o", str(out), "--json").stdout)
    assert result["verified"] is True and result["findings"] == []
    assert count(production, "log_entries") == before  # GATEWAY_DB_URL (set by the fixture) was never read
    settings = (out / "home" / "gateway.toml").read_text()
    assert "sealed = true" in settings and str(out / "home" / "gateway.db") in settings
    bundle = tmp_path / "installation"
    run_gateway("export", "evidence", "-o", str(bundle))
    assert run_audit("verify", str(bundle), trust=city_policy(home)).returncode == 0


def test_a_rehearsal_database_must_be_named_and_empty(tmp_path, monkeypatch):
    used = tmp_path / "used.db"
    with sqlite3.connect(used) as con:
        con.execute("CREATE TABLE something (x)")
    proc = run_gateway("simulate", "kurume-2020", "--records", "50", "-o", str(tmp_path / "a"),
                       "--rehearsal-db", f"sqlite:///{used}", check=False)
    assert proc.returncode == 1 and "not empty" in proc.stderr and "空ではありません" in proc.stderr
    empty = tmp_path / "empty.db"
    result = json.loads(run_gateway("simulate", "kurume-2020", "--records", "50", "-o", str(tmp_path / "b"),
                                    "--rehearsal-db", f"sqlite:///{empty}", "--json").stdout)
    assert result["verified"] is True and count(empty, "log_entries") > 0
    # A sealed home ignores GATEWAY_DB_URL for good, also for commands run on it afterwards.
    monkeypatch.setenv("GATEWAY_DB_URL", f"sqlite:///{used}")
    shown = json.loads(run_gateway("settings", "show", "--json", "--home", str(tmp_path / "b" / "home")).stdout)
    assert shown["db"]["url"] == f"sqlite:///{empty}" and shown["db"]["sealed"] is True
