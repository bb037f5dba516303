"""Retention on a fake clock: windows to the second, crash-safe sweeps, contractor erasure."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from gateway.home import Home
from gateway.service import Gateway
from gateway.store import models as m
from tests.conftest import city_policy, run_audit, run_gateway
from tests.helpers import certify, send, sweep_at


def erase_due(home, transfer: str) -> datetime:
    gw = Gateway.open(Home.resolve(str(home)))
    with gw.unit() as s:
        due = s.get(m.Transfer, transfer).gateway_erase_due
    gw.engine.dispose()
    return due


def test_window_to_the_second_and_evidence_verifies(kurume, home, tmp_path):
    sent = json.loads(send(kurume, tmp_path).stdout)
    due = erase_due(home, sent["transfer"])
    assert sweep_at(due - timedelta(seconds=1))["erased"] == []
    run_gateway("fetch", sent["transfer"], "-o", str(tmp_path / "a.age"), "--as", "k.tanaka", "--paper-ref", "書面 1")
    assert sweep_at(due + timedelta(seconds=1))["erased"] == [sent["transfer"]]
    assert not any(p.is_file() for p in (home / "blobs").rglob("*"))
    proc = run_gateway("fetch", sent["transfer"], "-o", str(tmp_path / "b.age"), "--as", "k.tanaka", "--paper-ref", "書面 1", check=False)
    assert proc.returncode == 1 and "消去済み" in proc.stderr and not (tmp_path / "b.age").exists()
    bundle = tmp_path / "bundle"
    run_gateway("export", "evidence", "-o", str(bundle))
    assert run_audit("verify", str(bundle), trust=city_policy(home)).returncode == 0
    erasures = [json.loads(p.read_text()) for p in (bundle / "evidence").glob("gateway-erasure-*.json")]
    assert len(erasures) == 1 and erasures[0]["method"] == "cryptographic erase of the data key and file deletion"
    assert "checked absent" in erasures[0]["verified_by"]
    refused = json.loads(run_gateway("log", "--outcome", "refused", "--json").stdout)
    assert refused[-1]["kinds"] == ["access-after-deletion"]


def test_receipt_tightens_the_window_to_the_approvals_days(kurume, home, tmp_path, monkeypatch):
    # lgwan-asp keeps copies up to 14 days; Kurume's approval allows 7 days from receipt.
    sent = json.loads(send(kurume, tmp_path, profile="lgwan-asp").stdout)
    before = erase_due(home, sent["transfer"])
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-06-01T12:00:00+09:00")
    run_gateway("receipt", sent["transfer"], "--records", "300", "--sha256", sent["sha256"], "--as", "k.tanaka", "--paper-ref", "書面 1")
    after = erase_due(home, sent["transfer"])
    assert after < before
    assert after == datetime.fromisoformat("2020-06-01T12:00:00+09:00") + timedelta(days=7)  # Kurume: 7 days


KILLER = """
import os, signal, sys
from datetime import datetime
from gateway.home import Home
from gateway.service import Gateway
from gateway.store import blobs
from gateway.retention.sweep import sweep

point = sys.argv[2]
original_erase, original_remove = blobs.BlobStore.crypto_erase, blobs.BlobStore.remove_file

def erase(self, *a, **kw):
    original_erase(self, *a, **kw)
    if point == "after-key":
        os.kill(os.getpid(), signal.SIGKILL)

def remove(self, *a, **kw):
    gone = original_remove(self, *a, **kw)
    if point == "after-file":
        os.kill(os.getpid(), signal.SIGKILL)
    return gone

blobs.BlobStore.crypto_erase, blobs.BlobStore.remove_file = erase, remove
sweep(Gateway.open(Home.resolve(sys.argv[1])), now=datetime.fromisoformat(sys.argv[3]))
"""


@pytest.mark.parametrize("point", ["after-key", "after-file"])
def test_sweep_killed_midway_finishes_on_the_next_run(kurume, home, tmp_path, point):
    sent = json.loads(send(kurume, tmp_path).stdout)
    late = erase_due(home, sent["transfer"]) + timedelta(days=1)
    proc = subprocess.run([sys.executable, "-c", KILLER, str(home), point, late.isoformat()], env=os.environ)
    assert proc.returncode == -signal.SIGKILL
    assert sweep_at(late)["erased"] == [sent["transfer"]]
    assert sweep_at(late)["erased"] == []  # and only once
    assert not any(p.is_file() for p in (home / "blobs").rglob("*"))
    bundle = tmp_path / "bundle"
    run_gateway("export", "evidence", "-o", str(bundle))
    assert run_audit("verify", str(bundle), trust=city_policy(home)).returncode == 0
    erasures = [json.loads(p.read_text()) for p in (bundle / "evidence").glob("gateway-erasure-*.json")]
    assert len(erasures) == 1
    expected = "already absent" if point == "after-file" else "checked absent"
    assert expected in erasures[0]["verified_by"]


def test_contractor_erasure_request_decision_certificate(kurume, home, tmp_path, monkeypatch):
    sent = json.loads(send(kurume, tmp_path).stdout)
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-09-05T10:00:00+09:00")
    out = run_gateway("deletion", "request", sent["transfer"], "--items", "宛名データ一式", "--media", "作業サーバー",
                      "--quantity", "1", "--method", "暗号消去", "--planned-date", "2020-09-10", "--as", "k.tanaka", "--paper-ref", "書面 1").stdout
    deletion_id = out.strip().split()[-1]
    # A certificate before the city approves the request is refused.
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-09-11T10:00:00+09:00")
    assert certify(deletion_id, check=False).returncode == 1
    assert run_gateway("deletion", "decide", deletion_id, "--approve", "--as", "k.tanaka", "--paper-ref", "書面 1", check=False).returncode == 1
    run_gateway("deletion", "decide", deletion_id, "--approve", "--witness", "職員 一郎", "--as", "s.staff", "--paper-ref", "書面 1")
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-09-12T10:00:00+09:00")
    assert certify(deletion_id, login="x.outsider", check=False).returncode == 1
    # Erased the day before the city approved it: refused as out of order, and logged as such.
    early = certify(deletion_id, erased_at="2020-09-10T15:00:00+09:00", check=False)
    assert early.returncode == 1 and "attestation-out-of-order" in early.stderr
    certify(deletion_id)
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-12-31T10:00:00+09:00")  # long after the deadline
    bundle = tmp_path / "bundle"
    run_gateway("export", "evidence", "-o", str(bundle))
    rep = json.loads(run_audit("report", str(bundle), "--json", trust=city_policy(home)).stdout)
    assert "deletion-overdue" not in {f["kind"] for f in rep["findings"]}
    assert [f["prevented"] for f in rep["findings"] if f["kind"] == "attestation-out-of-order"] == [True]
    kinds = sorted(json.loads(p.read_text())["type"] for p in (bundle / "evidence").glob("*.json"))
    assert kinds == ["deletion-decision", "deletion-request", "erasure-certificate", "transfer"]
    certificate = next(json.loads(p.read_text()) for p in (bundle / "evidence").glob("erasure-certificate-*.json"))
    # Entered by the operator from the contractor's paper: that is what vouches for it.
    assert certificate["attested"] == {"strength": "paper", "entered_by": {"user": "admin", "org": "gateway",
                                                                          "role": "admin"},
                                       "on_behalf_of": {"user": "k.tanaka", "org": "chikugo-print"},
                                       "paper": {"sha256": None, "ref": "書面 1"}}


def test_a_sweep_that_runs_late_is_a_retention_overrun(kurume, home, tmp_path, monkeypatch):
    sent = json.loads(send(kurume, tmp_path).stdout)
    sweep_at(erase_due(home, sent["transfer"]) + timedelta(hours=14))
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-06-20T10:00:00+09:00")
    bundle = tmp_path / "bundle"
    run_gateway("export", "evidence", "-o", str(bundle))
    rep = json.loads(run_audit("report", str(bundle), "--json", trust=city_policy(home)).stdout)
    assert "gateway-retention-overrun" in {f["kind"] for f in rep["findings"]}


def test_a_contractor_that_never_certifies_is_exactly_one_deletion_overdue(kurume, home, tmp_path, monkeypatch):
    sent = json.loads(send(kurume, tmp_path).stdout)
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-06-01T12:00:00+09:00")
    run_gateway("receipt", sent["transfer"], "--records", "300", "--sha256", sent["sha256"], "--as", "k.tanaka", "--paper-ref", "書面 1")
    # Erased exactly when due (vpn-sftp keeps a copy 7 days from sending): no overrun.
    assert sweep_at(datetime.fromisoformat("2020-06-08T10:00:00+09:00"))["erased"] == [sent["transfer"]]
    due = json.loads(run_gateway("retention", "due", "--within", "365", "--json").stdout)
    assert [d["kind"] for d in due] == ["erasure-certificate"]
    monkeypatch.setenv("GATEWAY_FAKE_NOW", "2020-12-31T10:00:00+09:00")
    bundle = tmp_path / "bundle"
    run_gateway("export", "evidence", "-o", str(bundle))
    rep = json.loads(run_audit("report", str(bundle), "--json", trust=city_policy(home)).stdout)
    serious = [f for f in rep["findings"] if f["severity"] in ("warning", "violation")]
    assert [(f["kind"], f["transfer"]) for f in serious] == [("deletion-overdue", sent["transfer"])]
