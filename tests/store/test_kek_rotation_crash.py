"""A sweep killed (SIGKILL) at each step of the KEK rotation: every live blob still opens, and
the next sweep completes the rotation, leaving one generation and the erased key unopenable."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.conftest import run_gateway
from tests.store.erasure import (erase_due, file_keks, find_key, generations, opens, sample, send_two,
                                 sqlite_files, unwrap_with)
from tests.test_handover import kurume  # noqa: F401  (fixture)

# In the order the sweep reaches them (gateway.kek_rotation).
POINTS = ["sweep:before-rotation", "kek-rotate:after-new-kek", "kek-rotate:mid-rewrap",
          "kek-rotate:after-rewrap", "kek-rotate:after-destroy"]


@pytest.mark.parametrize("point", POINTS)
def test_killed_at_each_step_loses_nothing_and_the_rerun_finishes(kurume, home, tmp_path, monkeypatch, point):
    erased, kept = send_two(kurume, tmp_path, monkeypatch)
    sample(home, erased, kept)
    late = (erase_due(home, erased.transfer) + timedelta(seconds=1)).isoformat()
    proc = run_gateway("retention", "sweep", "--now", late, "--json", check=False, env={"GATEWAY_FAULT_POINT": point})
    assert proc.returncode == -9, proc.stderr

    assert opens(kept, tmp_path, "after-kill")
    gens = generations(home)
    if point in ("sweep:before-rotation", "kek-rotate:after-new-kek", "kek-rotate:mid-rewrap"):
        assert gens == [(1, "file", False, False)]  # the re-wrap never committed
    else:
        assert gens == [(1, "file", True, False), (2, "file", False, False)]
    if point == "kek-rotate:after-new-kek":
        assert (home / "keys" / "kek" / "00000002.key").exists()  # made, not yet recorded

    again = json.loads(run_gateway("retention", "sweep", "--now", late, "--json").stdout)
    assert again["erased"] == []  # the erasure itself committed before any rotation step
    if point in ("kek-rotate:after-rewrap", "kek-rotate:after-destroy"):
        assert again["kek_rotation"] == {"generation": None, "backend": None, "rewrapped": 0,
                                         "destroyed": [1], "scrubbed": True}
    else:
        assert again["kek_rotation"] == {"generation": 2, "backend": "file", "rewrapped": 1,
                                         "destroyed": [1], "scrubbed": True}
    assert generations(home) == [(1, "file", True, True), (2, "file", False, False)]
    assert sorted(p.name for p in (home / "keys" / "kek").iterdir()) == ["00000002.key"]
    assert json.loads(run_gateway("retention", "sweep", "--now", late, "--json").stdout)["kek_rotation"] is None

    assert find_key(erased, [home, *sqlite_files()], unwrap_with(file_keks(home))) == []
    assert opens(kept, tmp_path, "after-rerun")
    rotations = [e for e in json.loads(run_gateway("log", "--json").stdout) if e["action"] == "kek.rotate"]
    assert len(rotations) == 1 and "destroyed KEK generation 1" in rotations[0]["reason"]
