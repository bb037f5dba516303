"""The auditor derives Kurume's "VPN only for the set-up" itself (issue 20): a profile the approval
allows for the first transfer only (`[transfer] first_transfer_only`), found in the evidence on a
later transfer, is an unapproved transfer, whatever the gateway let through."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from audit.findings import build_report
from tests.audit.bundle_builder import (
    CREATED_AT,
    PRINTER,
    PROFILES,
    STAFF,
    Builder,
    Flow,
    approval_toml,
    jst,
    profile_toml,
)
from tests.audit.conftest import policy_of

APPROVAL = "kurume-2020-teigaku"


def bundle(out: Path, profiles: list[str], *, rule: bool = True) -> tuple[Path, list[str]]:
    b = Builder()
    flow = Flow(b, set())
    text = approval_toml(APPROVAL, profiles=["vpn-sftp", "lgwan-asp"])
    if rule:
        text = text.replace('profiles = ["vpn-sftp", "lgwan-asp"]',
                            'profiles = ["vpn-sftp", "lgwan-asp"]\nfirst_transfer_only = ["vpn-sftp"]', 1)
        assert "first_transfer_only" in text
    b.approvals[APPROVAL] = text
    for p in PROFILES:
        b.profiles[p] = profile_toml(p)
    t0 = jst(2020, 5, 18, 9)
    b.record("system.start", t0 - timedelta(days=3), channel="system")
    transfers = []
    for n, profile in enumerate(profiles):
        sent = t0 + timedelta(days=7 * n)
        t, doc = flow.send(APPROVAL, profile, sent, sender=STAFF, recipient="chikugo-print", records=1000,
                           deletion_due=jst(2020, 8, 31, 23, 59) + timedelta(days=30))
        flow.lifecycle(APPROVAL, t, doc, channel=PROFILES[profile][0], recipient=PRINTER, sent=sent, fault_target=False)
        transfers.append(t)
    return b.write(out, created_at=CREATED_AT), transfers


def serious(out: Path) -> list[dict]:
    report = build_report(out, policy_of(out)).to_json()
    return [f for f in report["findings"] if f["severity"] in ("warning", "violation")]


def test_a_second_transfer_over_the_set_up_line_is_an_unapproved_transfer(tmp_path):
    out, transfers = bundle(tmp_path / "b", ["vpn-sftp", "lgwan-asp", "vpn-sftp"])
    (finding,) = serious(out)
    assert finding["kind"] == "unapproved-transfer" and finding["transfer"] == transfers[2]
    assert "first transfer only" in finding["detail"] and transfers[0] in finding["detail"]


@pytest.mark.parametrize(("profiles", "rule"), [(["vpn-sftp", "lgwan-asp", "lgwan-asp"], True),
                                                (["vpn-sftp", "lgwan-asp", "vpn-sftp"], False)])
def test_the_set_up_line_once_or_an_approval_without_the_rule_is_clean(tmp_path, profiles, rule):
    out, _ = bundle(tmp_path / "b", profiles, rule=rule)
    assert serious(out) == []
