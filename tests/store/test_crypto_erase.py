"""Crypto-erase is final: after `gateway retention sweep`, no byte on disk opens an erased blob.

Each test sends two packages, lets the sweep erase the first, and scans every file under the
home (and PostgreSQL's data directory) for the erased data key: in clear, or wrapped in any
form a key-encryption key that still exists opens. The second package must still open.
"""
from __future__ import annotations

import json
import os
from datetime import timedelta

from gateway.home import Home
from gateway.ledger.log import Event
from gateway.service import Gateway
from tests.conftest import move_clock, run_gateway
from tests.store.erasure import (
    brute_force,
    erase_due,
    file_keks,
    find_key,
    generations,
    mode,
    on_disk,
    opens,
    sample,
    send_two,
    sqlite_files,
    unwrap_with,
)


def sweep(at, **env) -> dict:
    move_clock(at)
    return json.loads(run_gateway("retention", "sweep", "--now", at.isoformat(), "--json", env=env).stdout)


def test_erased_key_is_nowhere_on_disk_in_a_form_any_kek_opens(kurume, home, tmp_path, monkeypatch, request):
    erased, kept = send_two(kurume, tmp_path, monkeypatch)
    assert opens(erased, tmp_path, "before")
    sample(home, erased, kept)
    result = sweep(erase_due(home, erased.transfer) + timedelta(seconds=1))
    assert result["erased"] == [erased.transfer]
    assert result["kek_rotation"] == {"generation": 2, "backend": "file", "rewrapped": 1,
                                      "destroyed": [1], "scrubbed": True}
    assert generations(home) == [(1, "file", True, True), (2, "file", False, False)]
    assert not (home / "keys" / "kek" / "00000001.key").exists()

    unwrap = unwrap_with(file_keks(home))
    assert find_key(erased, on_disk(home, request), unwrap) == []
    assert brute_force(erased, [home, *sqlite_files()], unwrap) == []
    assert opens(kept, tmp_path, "kept")
    assert not opens(erased, tmp_path, "after")


def test_the_scan_finds_the_key_while_the_old_kek_lives(kurume, home, tmp_path, monkeypatch, request):
    # The same scan, stopped after the erasure and before the rotation (the process killed
    # there): the old wrapped key is still on disk and the old KEK still opens it. This is
    # what every sweep left before KEK rotation, and it shows the scan above can see it.
    erased, kept = send_two(kurume, tmp_path, monkeypatch)
    sample(home, erased, kept)
    late = erase_due(home, erased.transfer) + timedelta(seconds=1)
    move_clock(late)
    proc = run_gateway("retention", "sweep", "--now", late.isoformat(), check=False,
                       env={"GATEWAY_FAULT_POINT": "sweep:before-rotation"})
    assert proc.returncode == -9
    found = find_key(erased, on_disk(home, request), unwrap_with(file_keks(home)))
    assert found and {f.what for f in found} == {"wrapped key an existing KEK opens"}
    assert not any(f.path.is_relative_to(home) for f in found)  # only the database holds it
    # The next sweep has nothing left to erase, and rotates all the same.
    assert sweep(late) == {"erased": [], "orphans_removed": 0,
                           "kek_rotation": {"generation": 2, "backend": "file", "rewrapped": 1,
                                            "destroyed": [1], "scrubbed": True}}
    assert find_key(erased, on_disk(home, request), unwrap_with(file_keks(home))) == []
    assert opens(kept, tmp_path, "kept")


def test_database_files_are_owner_only(tmp_path, monkeypatch):
    # The default layout (the database in the home), made under the usual umask. SQLite makes
    # -wal and -shm while a connection is open and removes them with the last one: look while
    # one is open.
    home = tmp_path / "home"
    monkeypatch.setenv("GATEWAY_HOME", str(home))
    monkeypatch.delenv("GATEWAY_DB_URL", raising=False)
    old = os.umask(0o022)
    try:
        run_gateway("init")
        gw = Gateway.open(Home.resolve(str(home)))
        try:
            gw.record(Event(action="test.write", channel="cli"))
            for name in ("gateway.db", "gateway.db-wal", "gateway.db-shm"):
                assert (home / name).exists() and mode(home / name) == "0o600", name
        finally:
            gw.engine.dispose()
    finally:
        os.umask(old)
    assert mode(home / "keys" / "kek" / "00000001.key") == "0o600"


def test_a_database_made_before_the_rule_is_tightened(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("GATEWAY_HOME", str(home))
    monkeypatch.delenv("GATEWAY_DB_URL", raising=False)
    run_gateway("init")
    os.chmod(home / "gateway.db", 0o644)
    run_gateway("log", "--json")
    assert mode(home / "gateway.db") == "0o600"
