"""The fiscal-year summary for the annual operating report (運用状況報告, issue 21 item 6): hand-overs,
records, refusals, incidents and findings per department and approval, from the bundle alone."""
from __future__ import annotations

import json

from tests.conftest import run_audit, run_gateway


def test_the_year_of_a_run_is_summarised_per_department_and_approval(tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_SCRYPT_WORK_FACTOR", "10")
    monkeypatch.delenv("GATEWAY_FAKE_NOW", raising=False)
    out = tmp_path / "run"
    result = json.loads(run_gateway("simulate", "shinjuku-2020", "--records", "120", "--fault", "unapproved-field",
                                    "--fault", "receipt-mismatch", "-o", str(out), "--json").stdout)
    assert result["findings"] == ["receipt-mismatch", "unapproved-field"]
    trust = out / "trust.toml"
    html = tmp_path / "annual.html"
    summary = json.loads(run_audit("annual", str(out / "bundle"), "--fiscal-year", "2020", "--json", "-o", str(html),
                                   trust=trust).stdout)
    [department] = summary["departments"]
    [approval] = department["approvals"]
    assert approval["approval"] == "shinjuku-2020-teigaku"
    # the hand-over and its relay, less the one person on the ward's separate DV list
    assert approval["transfers"] == 2 and approval["records"] == 238
    assert approval["refusals"] == {"unapproved-field": 1}
    assert approval["findings"] == {"receipt-mismatch": 1}
    assert summary["totals"] == {"transfers": 2, "records": 238, "refusals": 1, "incidents": 0, "findings": 1}
    text = html.read_text(encoding="utf-8")
    assert "2020年度 運用状況報告" in text and department["department"] in text and "承認外の項目 1件" in text

    later = json.loads(run_audit("annual", str(out / "bundle"), "--fiscal-year", "2021", "--json",
                                 trust=trust).stdout)
    assert later["totals"] == {"transfers": 0, "records": 0, "refusals": 0, "incidents": 0, "findings": 0}
    unverifiable = run_audit("annual", str(out / "bundle"), "--fiscal-year", "2020", trust=None, check=False)
    assert unverifiable.returncode == 1
