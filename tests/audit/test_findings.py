"""Each after-the-fact fault comes back as exactly that finding; refusals come back as prevented."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.findings import build_report, severity_of
from tests.audit.bundle_builder import AFTER_THE_FACT, build_bundle
from tests.audit.conftest import policy_of, report_json, run_audit, trust

WARNINGS = {"receipt-missing", "media-not-returned", "log-unwitnessed"}


def serious(report_json: dict) -> list[dict]:
    return [f for f in report_json["findings"] if f["severity"] in ("warning", "violation")]


@pytest.mark.parametrize("kind", AFTER_THE_FACT)
def test_each_fault_yields_exactly_its_kind(kind: str, tmp_path: Path) -> None:
    bundle = build_bundle(tmp_path / "b", faults=[kind], refusals=False)
    report = build_report(bundle, policy_of(bundle)).to_json()
    found = serious(report)
    assert {f["kind"] for f in found} == {kind}, [f["detail"] for f in found]
    for f in found:
        assert f["prevented"] is False
        assert f["severity"] == ("warning" if kind in WARNINGS else "violation")
        assert f["detail"]
    assert report["verified"] is (kind not in ("log-tampered", "evidence-forged"))


@pytest.mark.parametrize("kind", ["receipt-mismatch", "deletion-overdue", "gateway-retention-overrun",
                                  "media-not-returned", "custody-gap", "unapproved-transfer"])
def test_findings_name_approval_transfer_and_evidence(kind: str, tmp_path: Path) -> None:
    report = report_json(build_bundle(tmp_path / "b", faults=[kind], refusals=False))
    (finding,) = serious(report)
    assert finding["approval"] and finding["transfer"] and finding["evidence"]
    docs = {p.stem for p in (tmp_path / "b" / "evidence").iterdir()}
    assert set(finding["evidence"]) <= docs


def test_many_faults_at_once(tmp_path: Path) -> None:
    # receipt-missing and media-not-returned would remove the very receipt and return that
    # receipt-mismatch and custody-gap corrupt in the builder's flow, so they are left out here.
    faults = set(AFTER_THE_FACT) - {"receipt-missing", "media-not-returned"}
    bundle = build_bundle(tmp_path / "b", faults=faults, refusals=False)
    assert {f["kind"] for f in serious(build_report(bundle, policy_of(bundle)).to_json())} == faults


def test_refused_entries_yield_prevented_findings(tmp_path: Path) -> None:
    report = report_json(build_bundle(tmp_path / "b"))
    prevented = [f for f in report["findings"] if f["prevented"]]
    assert sorted(f["kind"] for f in prevented) == ["brute-force", "unapproved-field"]
    for f in prevented:
        assert f["severity"] == severity_of(f["kind"]) == "violation"
    assert [f for f in report["findings"] if not f["prevented"]] == []
    field = next(f for f in prevented if f["kind"] == "unapproved-field")
    assert field["approval"] == "kurume-2020-teigaku"


def test_clean_bundle_has_no_warning_or_violation(tmp_path: Path) -> None:
    report = report_json(build_bundle(tmp_path / "b", refusals=False))
    assert report["verified"] is True
    assert serious(report) == []


def test_clean_scoped_bundle_has_no_warning_or_violation(tmp_path: Path) -> None:
    report = report_json(build_bundle(tmp_path / "b", refusals=False, scope="kurume-2020-teigaku"))
    assert report["verified"] is True
    assert serious(report) == []
    assert [a["id"] for a in report["approval_summaries"]] == ["kurume-2020-teigaku"]


def test_report_cli_json_and_html(tmp_path: Path) -> None:
    bundle = build_bundle(tmp_path / "b", faults=["receipt-mismatch", "log-tampered"])
    html = tmp_path / "report.html"
    proc = run_audit("report", str(bundle), *trust(bundle), "--json", "-o", str(html))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["verified"] is False
    kinds = {f["kind"] for f in serious(out)}
    assert kinds == {"receipt-mismatch", "log-tampered", "unapproved-field", "brute-force"}
    for f in out["findings"]:
        assert set(f) >= {"kind", "severity", "prevented", "approval", "transfer", "detail"}
    text = html.read_text(encoding="utf-8")
    assert "証跡監査報告書" in text and "検証失敗" in text and "受領確認の不一致" in text
    summary = {a["id"]: a for a in out["approval_summaries"]}
    assert summary["kurume-2020-teigaku"]["transfers"][0]["record_count"] == 305115


def test_report_escapes_hostile_text(tmp_path: Path) -> None:
    bundle = build_bundle(tmp_path / "b")
    path = bundle / "approvals" / "kurume-2020-teigaku.toml"
    path.write_text(path.read_text().replace('title = "', 'title = "<script>alert(1)</script>'))
    html = tmp_path / "r.html"
    assert run_audit("report", str(bundle), *trust(bundle), "-o", str(html)).returncode == 0
    text = html.read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_report_on_unreadable_bundle_exits_1(tmp_path: Path) -> None:
    assert run_audit("report", str(tmp_path / "missing")).returncode == 1
    (tmp_path / "empty").mkdir()
    assert run_audit("report", str(tmp_path / "empty")).returncode == 1


def test_report_on_tampered_bundle_still_produced(tmp_path: Path) -> None:
    bundle = build_bundle(tmp_path / "b")
    (bundle / "MANIFEST.json").write_bytes(b"{garbage")
    proc = run_audit("report", str(bundle), *trust(bundle), "--json")
    assert proc.returncode == 0
    out = json.loads(proc.stdout)
    assert out["verified"] is False
    assert any(f["kind"] == "evidence-forged" for f in out["findings"])


def test_deadlines_not_yet_passed_are_not_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deadlines are judged as of the manifest's created_at, not the auditor's clock."""
    from tests.audit import bundle_builder as bb

    monkeypatch.setattr(bb, "CREATED_AT", bb.jst(2020, 5, 18, 12))  # right after the first send
    bundle = bb.build_bundle(tmp_path / "early", refusals=False, faults=["receipt-missing", "deletion-overdue"])
    report = build_report(bundle, policy_of(bundle)).to_json()
    assert serious(report) == []


def test_terminal_escapes_in_bundle_text_are_neutralised(tmp_path: Path) -> None:
    from tests.audit.bundle_builder import CREATED_AT, Builder, jst

    b = Builder()
    b.record("auth.login", jst(2020, 6, 1), channel="lgwan-asp", outcome="refused", kinds=["brute-force"],
             reason="\x1b[2J\x1b]0;pwned\x07 locked \u202eevil")
    bundle = b.write(tmp_path / "b", created_at=CREATED_AT)
    proc = run_audit("report", str(bundle), *trust(bundle))
    assert proc.returncode == 0
    assert "\x1b" not in proc.stdout and "\u202e" not in proc.stdout
    assert "\\x1b[2J" in proc.stdout
