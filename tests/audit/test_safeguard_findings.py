"""The auditor's findings about the safeguards (issue 20), from bundles written by the independent
bundle builder: second-check-missing after the fact, what a held or recalled transfer does not owe,
and incidents' instruction-overdue and incident-unreported."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from audit.findings import build_report
from tests.audit.bundle_builder import CREATED_AT, PRINTER, PROFILES, STAFF, STAFF2, Builder, Flow, approval_toml, jst, profile_toml, ts
from tests.audit.conftest import policy_of

A = "kurume-2020-teigaku"
CHECKER = STAFF2  # named as the approver


def _send(b: Builder, sent, *, held: bool) -> tuple[str, dict[str, Any]]:
    t = b.new_id("t")
    evidence: dict[str, Any] = {
        "transfer": t, "profile": "lgwan-asp", "channel": "lgwan-asp",
        "sender": {"user": STAFF["user"], "org": STAFF["org"]}, "recipient": {"org": "chikugo-print"},
        "parent_transfer": None, "manifest": {"record_count": 100, "columns": ["name"], "sha256": "a" * 64,
                                              "size_bytes": 100, "removed": {}},
        "package_sha256": "b" * 64, "sent_at": ts(sent), "receipt_due": ts(sent + timedelta(hours=72)),
        "gateway_erase_due": ts(sent + timedelta(days=14)), "contractor_deletion_due": ts(jst(2020, 9, 30))}
    if held:
        evidence["second_check"] = {"required": True, "reasons": ["records>50"], "approvers": [CHECKER["user"]]}
    doc = b.record("transfer.send", sent, channel="lgwan-asp", who=STAFF, approval=A, transfer=t,
                   evidence_type="transfer", evidence=evidence)
    assert doc is not None
    return t, doc


def _check(b: Builder, t: str, at, by: dict[str, Any], decision: str = "approved") -> None:
    b.record("second-check.approve", at, channel="lgwan-asp", who=by, approval=A, transfer=t,
             evidence_type="second-check", evidence={
                 "transfer": t, "decision": decision, "checked_by": {"user": by["user"], "org": by["org"]},
                 "reason": "確認した", "decided_at": ts(at)})


def _erase(b: Builder, t: str, at) -> None:
    b.record("transfer.erase", at, approval=A, transfer=t, evidence_type="gateway-erasure",
             evidence={"transfer": t, "erased_at": ts(at), "method": "crypto-erase"})


def _incident(b: Builder, at, event: str, **members: Any) -> None:
    b.record("incident." + event, at, channel="cli", who=STAFF, approval=A, evidence_type="incident",
             evidence={"incident": "I-1", "event": event, "city": "kurume", "at": ts(at), **members})


def bundle(tmp_path: Path, story: str) -> dict:
    b = Builder()
    flow = Flow(b, set())
    b.approvals[A] = approval_toml(A)
    for p in PROFILES:
        b.profiles[p] = profile_toml(p)
    sent = jst(2020, 6, 1, 10)
    b.record("system.start", sent - timedelta(days=1))
    t, doc = _send(b, sent, held=story != "not-held")
    if story in ("released", "not-held"):
        if story == "released":
            _check(b, t, sent + timedelta(hours=1), CHECKER)
        flow.lifecycle(A, t, doc, channel="lgwan-asp", recipient=PRINTER, sent=sent, fault_target=False)
    elif story == "received-unchecked":
        flow.lifecycle(A, t, doc, channel="lgwan-asp", recipient=PRINTER, sent=sent, fault_target=False)
    elif story == "self-approved":
        _check(b, t, sent + timedelta(hours=1), STAFF)
        flow.lifecycle(A, t, doc, channel="lgwan-asp", recipient=PRINTER, sent=sent, fault_target=False)
    elif story == "rejected":
        _check(b, t, sent + timedelta(hours=1), CHECKER, "rejected")
        _erase(b, t, sent + timedelta(hours=1))
    elif story == "recalled-undelivered":
        b.record("transfer.recall", sent + timedelta(hours=1), channel="cli", who=STAFF, approval=A, transfer=t,
                 evidence_type="recall", evidence={"transfer": t, "downloaded": False, "reason": "誤送付",
                                                    "recalled_by": {"user": STAFF["user"], "org": "kurume"}})
        _erase(b, t, sent + timedelta(hours=1))
    elif story.startswith("incident"):
        _check(b, t, sent + timedelta(hours=1), CHECKER)
        flow.lifecycle(A, t, doc, channel="lgwan-asp", recipient=PRINTER, sent=sent, fault_target=False)
        later = sent + timedelta(days=2)
        due = later + timedelta(days=1)
        _incident(b, later, "reported", content="誤送信", records=3, place="受託者", circumstances="宛先誤り",
                  contractor="chikugo-print" if story == "incident-unreported" else None,
                  contractor_report_due=ts(due) if story == "incident-unreported" else None)
        if story in ("incident-overdue", "incident-done"):
            _incident(b, later + timedelta(hours=1), "instructed", instruction="消去すること", due=ts(due))
            done_at = due - timedelta(hours=2) if story == "incident-done" else due + timedelta(days=3)
            _incident(b, done_at, "instruction-done", note="消去した")
    root = b.write(tmp_path / "bundle", created_at=CREATED_AT)
    return build_report(root, policy_of(root)).to_json()


def serious(report: dict) -> list[tuple[str, bool]]:
    return sorted((f["kind"], f["prevented"]) for f in report["findings"] if f["severity"] in ("warning", "violation"))


@pytest.mark.parametrize(("story", "expected"), [
    ("not-held", []),
    ("released", []),
    ("received-unchecked", [("second-check-missing", False)] * 2),  # its notice and its receipt left unchecked
    ("self-approved", [("second-check-missing", False)] * 3),  # the approval itself, the notice, the receipt
    ("rejected", []),  # owes no receipt and no erasure certificate
    ("recalled-undelivered", []),
    ("incident-done", []),
    ("incident-overdue", [("instruction-overdue", False)]),
    ("incident-unreported", [("incident-unreported", False)]),
])
def test_safeguard_findings(tmp_path: Path, story: str, expected: list) -> None:
    report = bundle(tmp_path, story)
    assert report["verified"] is True
    assert serious(report) == expected, [f["detail"] for f in report["findings"]]
