"""A pruned log (FORMAT.md, log/prunings.jsonl), written by the independent builder: a gap the
signed statements account for is no finding; any other gap, or a statement that does not hold, is."""
from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest

from audit.findings import build_report
from audit.jcs import canonical
from audit.verify import verify
from tests.audit.bundle_builder import CREATED_AT, Builder, Signer, actor, build_bundle, read_lines, update_manifest_hash, write_lines
from tests.audit.conftest import copy_bundle, failures, named, policy_of, run_audit, trust

ENTRIES = "log/entries.jsonl"
CHECKPOINTS = "log/checkpoints.jsonl"
PRUNINGS = "log/prunings.jsonl"


@pytest.fixture(scope="module")
def pruned_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bundle(tmp_path_factory.mktemp("pruned") / "bundle", prune=[10, 30])


@pytest.fixture
def pruned(pruned_template: Path, tmp_path: Path) -> Path:
    return copy_bundle(pruned_template, tmp_path / "pruned")


def small(tmp_path: Path, *, cuts: list[int], name: str = "b", **prune_kw) -> Path:
    """A plain log of logins with a checkpoint every 5 entries, pruned at `cuts`."""
    b = Builder(checkpoint_every=5)
    for n in range(23):
        b.record("auth.login", CREATED_AT.replace(month=1, day=1 + n), channel="lgwan-asp",
                 who=actor("s.staff", "kurume", "staff"))
    for cut in cuts:
        b.prune(cut, CREATED_AT - timedelta(days=30), **prune_kw)
    return b.write(tmp_path / name, created_at=CREATED_AT)


def test_a_pruned_bundle_verifies_and_reports_what_was_pruned(pruned: Path) -> None:
    proc = run_audit("verify", str(pruned), *trust(pruned), "--json")
    out = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stdout
    assert out["log"]["pruned"]["entries"] == 30
    assert [(s["first"], s["last"], s["accepted"]) for s in out["log"]["pruned"]["statements"]] == \
        [(1, 10, True), (11, 30, True)]
    first = json.loads(read_lines(pruned / ENTRIES)[0])
    assert first["seq"] == 31
    assert "pruned under 2 signed statement(s)" in run_audit("verify", str(pruned), *trust(pruned)).stdout
    rep = json.loads(run_audit("report", str(pruned), *trust(pruned), "--json").stdout)
    assert {f["kind"] for f in rep["findings"] if not f["prevented"]} == set()


def test_the_html_report_states_the_pruning(pruned: Path, tmp_path: Path) -> None:
    html = tmp_path / "r.html"
    assert run_audit("report", str(pruned), *trust(pruned), "-o", str(html)).returncode == 0
    text = html.read_text(encoding="utf-8")
    assert "保存期間満了による削除" in text and "11〜30 件目" in text


def test_a_scoped_pruned_bundle_verifies(tmp_path: Path) -> None:
    bundle = build_bundle(tmp_path / "s", prune=[20], scope="kurume-2020-teigaku")
    result = verify(bundle, policy_of(bundle))
    assert result.verified, [f.line() for f in result.failures]
    assert result.log.base == 20


def test_entries_removed_without_a_statement_are_log_tampered(tmp_path: Path) -> None:
    bundle = small(tmp_path, cuts=[10], statement=False)
    fs = failures(bundle)
    assert named(fs, "log-tampered", ENTRIES, where="1", detail="removed without a valid pruning statement")
    assert named(fs, "log-tampered", CHECKPOINTS, where="1", detail="prev is not null")
    rep = build_report(bundle, policy_of(bundle))
    assert "log-tampered" in {f.kind for f in rep.findings}


def test_lines_removed_from_a_pruned_bundle_are_log_tampered(pruned: Path) -> None:
    lines = read_lines(pruned / ENTRIES)
    write_lines(pruned / ENTRIES, lines[3:])
    update_manifest_hash(pruned, ENTRIES)
    fs = failures(pruned)
    assert named(fs, "log-tampered", ENTRIES, where="1", detail="entries 31–33 missing")


def test_a_statement_signed_by_an_untrusted_key_is_forged_and_covers_nothing(tmp_path: Path) -> None:
    bundle = small(tmp_path, cuts=[10], signer=Signer.generate())
    fs = failures(bundle)
    assert named(fs, "evidence-forged", PRUNINGS, where="1", detail="not a trusted key")
    assert named(fs, "log-tampered", ENTRIES, where="1", detail="entries 1–10 missing")


def test_a_statement_with_a_broken_signature_is_forged(pruned: Path) -> None:
    lines = read_lines(pruned / PRUNINGS)
    st = json.loads(lines[1])
    st["signature"]["value"] = base64.b64encode(b"\x01" * 64).decode()
    lines[1] = canonical(st)
    write_lines(pruned / PRUNINGS, lines)
    fs = failures(pruned)
    assert named(fs, "evidence-forged", PRUNINGS, where="2", detail="does not verify")
    assert named(fs, "log-tampered", ENTRIES, where="1", detail="entries 11–30 missing")


def test_a_statement_edited_after_it_was_logged_is_forged(tmp_path: Path) -> None:
    # Signed by the gateway's own key, but not the statement its log.prune entry recorded.
    bundle = small(tmp_path, cuts=[10], bind={"id": "log-pruning-00000000000000000000", "sha256": "0" * 64})
    fs = failures(bundle)
    assert named(fs, "evidence-forged", PRUNINGS, where="1", detail="does not record it")


def test_a_dropped_statement_breaks_the_chain_of_statements(tmp_path: Path) -> None:
    bundle = small(tmp_path, cuts=[5, 15])
    lines = read_lines(bundle / PRUNINGS)
    write_lines(bundle / PRUNINGS, lines[1:])
    update_manifest_hash(bundle, PRUNINGS)
    fs = failures(bundle)
    assert named(fs, "log-tampered", PRUNINGS, where="1", detail="should follow the log's first entry")
    assert named(fs, "log-tampered", ENTRIES, where="1", detail="missing")


def test_the_statements_file_removed_is_log_tampered(pruned: Path) -> None:
    (pruned / PRUNINGS).unlink()
    fs = failures(pruned)
    assert named(fs, "log-tampered", PRUNINGS, detail="listed in MANIFEST.json but missing")
    assert named(fs, "log-tampered", ENTRIES, where="1", detail="entries 1–30 missing")


def test_a_pruned_document_left_in_the_bundle_is_forged(tmp_path: Path) -> None:
    b = Builder(checkpoint_every=5)
    b.approvals["a"] = ""
    for n in range(12):
        b.record("notice.dispatch", CREATED_AT.replace(month=1, day=1 + n), evidence_type="password-notice",
                 evidence={"transfer": f"t{n}"})
    old = next(d for d in b.documents.values() if d["log_seq"] == 2)
    b.prune(5, CREATED_AT - timedelta(days=30))
    b.documents[old["id"]] = old
    del b.approvals["a"]
    bundle = b.write(tmp_path / "b", created_at=CREATED_AT)
    fs = failures(bundle)
    assert named(fs, "evidence-forged", f"evidence/{old['id']}.json", detail="was pruned")


def test_the_first_remaining_entry_must_link_to_the_statement(tmp_path: Path) -> None:
    bundle = small(tmp_path, cuts=[10])
    lines = read_lines(bundle / ENTRIES)
    entry = json.loads(lines[0])
    entry["prev"] = "1" * 64
    lines[0] = canonical(entry)
    write_lines(bundle / ENTRIES, lines)
    update_manifest_hash(bundle, ENTRIES)
    fs = failures(bundle)
    assert named(fs, "log-tampered", ENTRIES, where="1", detail="not the head of the last pruning statement")
