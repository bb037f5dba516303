"""Every condition of an approval has a kind and a status in the audit report (issue 21, item 2):
checked by the gateway (which rule), confirmed by a person (who, when, by what), or open."""
from __future__ import annotations

import json

from tests.conftest import city_policy, run_audit, run_gateway


def _confirm(number: str, login: str, *extra: str):
    return run_gateway("approval", "confirm", "kurume-2020-teigaku", "--condition", number, "--means",
                       "立入調査報告書（令和2年7月1日）", "--as", login, "--paper-ref", "立入調査 1", "--json",
                       *extra, check=False)


def test_a_person_confirms_a_condition_no_rule_checks(kurume, home, tmp_path):
    shown = json.loads(run_gateway("approval", "show", "kurume-2020-teigaku", "--json").stdout)
    kinds = {c["number"]: c["kind"] for c in shown["conditions"]}
    assert kinds[1] == "consultation-measure" and kinds[11] == "special-term"

    assert _confirm("11", "s.staff").returncode == 0
    outsider = _confirm("11", "x.outsider")  # the contractor cannot confirm the city's conditions
    assert outsider.returncode == 1 and "no approval" in outsider.stderr
    beyond = _confirm("99", "s.staff")
    assert beyond.returncode == 1 and "1-12" in beyond.stderr

    bundle = tmp_path / "bundle"
    run_gateway("export", "evidence", "-o", str(bundle))
    report = json.loads(run_audit("report", str(bundle), "--json", trust=city_policy(home)).stdout)
    [summary] = [a for a in report["approval_summaries"] if a["id"] == "kurume-2020-teigaku"]
    status = {c["number"]: c["status"] for c in summary["conditions"]}
    assert status[11]["state"] == "confirmed" and status[11]["by"]["user"] == "s.staff"
    assert status[11]["means"] == "立入調査報告書（令和2年7月1日）"
    assert status[3] == {"state": "checked", "rule": "erasure-certificate-required", "where": "report",
                         "ja": status[3]["ja"]}
    assert status[12] == {"state": "open"}
    html = tmp_path / "report.html"
    run_audit("report", str(bundle), "-o", str(html), trust=city_policy(home), check=False)
    text = html.read_text(encoding="utf-8")
    assert "特記事項" in text and "諮問書の保護対策" in text and "未確認" in text and "担当者が確認" in text
