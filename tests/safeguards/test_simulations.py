"""The safeguards in `gateway simulate` (issue 20, item 6): the scenario that replays them, and the
new finding kinds come back exactly when injected, together with others."""
from __future__ import annotations

import json

import pytest

from tests.conftest import run_gateway

NEW_KINDS = ["download-over-limit", "incident-unreported", "instruction-overdue", "second-check-missing"]


@pytest.fixture(autouse=True)
def fast_scrypt(monkeypatch):
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    monkeypatch.delenv("GATEWAY_FAKE_NOW", raising=False)


def simulate(tmp_path, scenario: str, *faults: str, records: int = 200, seed: int = 1) -> dict:
    out = tmp_path / "run"
    args = ["simulate", scenario, "--records", str(records), "--seed", str(seed), "-o", str(out), "--json"]
    for f in faults:
        args += ["--fault", f]
    return json.loads(run_gateway(*args).stdout)


def test_the_safeguards_scenario_reports_only_the_outside_hand_over(tmp_path):
    result = simulate(tmp_path, "kurume-safeguards")
    assert result["injected"] == [] and result["verified"] is True
    assert result["findings"] == ["unapproved-transfer"]  # LINE WORKS, unapproved at its time
    report = json.loads((tmp_path / "run" / "report.json").read_text(encoding="utf-8"))
    kurume = next(a for a in report["approval_summaries"] if a["id"] == "kurume-2020-teigaku")
    assert [t["second_check"]["decision"] for t in kurume["transfers"] if t["second_check"]] == ["approved", "rejected"]
    assert [r["downloaded"] for r in kurume["recalls"]] == [False, True]
    assert [e["event"] for e in kurume["incidents"][0]["events"]] == [
        "reported", "contractor-report", "instructed", "instruction-done", "publication", "closed"]
    later = next(a for a in report["approval_summaries"] if a["id"] == "kurume-2021-line-works")
    assert len(later["regularises"]) == 1
    outside = next(f for f in report["findings"] if f["kind"] == "unapproved-transfer")
    assert "kurume-2021-line-works" in outside["detail"]


def test_the_new_kinds_together_with_others_come_back_exactly(tmp_path):
    kinds = sorted([*NEW_KINDS, "receipt-missing", "non-designated-handler"])
    result = simulate(tmp_path, "shinjuku-2020", *kinds, records=300, seed=5)
    assert result["injected"] == kinds
    assert result["findings"] == kinds
