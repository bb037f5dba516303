"""Bundle format 2: C2SP checkpoints cosigned by witnesses, judged under the verifier's trust policy.

The attacks are the ones issue 17 names, done to the exported files as an operator would
(tests/audit/attacker.py): rewrite the log so refusals disappear, re-chain it, re-sign it with a
fresh key put into keys.json, or with the gateway's real key.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from audit.cosignature import Cosigner
from audit.note import generate_key, parse
from audit.trust import PolicyError
from audit.trust import parse as parse_policy
from tests.audit.attacker import hide_refusals
from tests.audit.bundle_builder import Signer, build_bundle, edit_entry, policy_toml, trust_path
from tests.audit.conftest import copy_bundle, report_json, run_audit, trust


@pytest.fixture(scope="module")
def real_key() -> Signer:
    return Signer.generate()


@pytest.fixture(scope="module")
def witnessed_template(tmp_path_factory: pytest.TempPathFactory, real_key: Signer) -> Path:
    return build_bundle(tmp_path_factory.mktemp("witnessed") / "bundle", format=2, witnesses=2, rotate=False,
                        genesis=real_key)


@pytest.fixture
def witnessed(witnessed_template: Path, tmp_path: Path) -> Path:
    return copy_bundle(witnessed_template, tmp_path / "bundle")


def verify_json(bundle: Path, *args: str) -> tuple[int, dict]:
    proc = run_audit("verify", str(bundle), *args, "--json")
    return proc.returncode, json.loads(proc.stdout)


def kinds(out: dict) -> set[str]:
    return {f["kind"] for f in out["failures"]}


def test_a_witnessed_bundle_verifies_and_says_what_it_rests_on(witnessed: Path) -> None:
    notes = sorted((witnessed / "checkpoints").glob("*.note"))
    assert notes and not (witnessed / "log" / "checkpoints.jsonl").exists()
    assert len(parse(notes[-1].read_bytes()).signatures) == 3  # the gateway and two witnesses
    proc = run_audit("verify", str(witnessed), *trust(witnessed))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "検証成功 verified" in proc.stdout
    rests = [line for line in proc.stdout.splitlines() if line.startswith("信頼の根拠 / rests on:")]
    assert len(rests) == 1
    assert "witness0.example.jp/w, witness1.example.jp/w (quorum 2)" in rests[0]
    code, out = verify_json(witnessed, *trust(witnessed))
    assert code == 0 and out["format"] == 2 and out["origin"] == "kurume.example.jp/gateway"
    assert out["witnessed"] == json.loads((witnessed / "MANIFEST.json").read_bytes())["log"]["size"]
    assert all(len(h["cosigners"]) == 2 for h in out["log"]["tree_heads"])
    report = report_json(witnessed)
    assert report["verified"] is True
    assert not [f for f in report["findings"] if not f["prevented"] and f["severity"] in ("warning", "violation")]


def test_without_a_policy_it_is_unverifiable(witnessed: Path) -> None:
    code, out = verify_json(witnessed)
    assert code == 1 and out["verified"] is False and out["unverifiable"] is True
    proc = run_audit("report", str(witnessed), "--json")
    assert proc.returncode == 1 and "検証不能" in proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["verified"] is False and rep["unverifiable"] is True
    html = witnessed.parent / "r.html"
    proc = run_audit("report", str(witnessed), "-o", str(html))
    assert proc.returncode == 1 and "検証成功" not in proc.stdout + proc.stderr
    assert "検証不能" in html.read_text(encoding="utf-8") and "検証成功" not in html.read_text(encoding="utf-8")


def test_rewritten_and_resigned_with_a_fresh_key_in_keys_json(witnessed: Path, tmp_path: Path) -> None:
    policy = tmp_path / "city.trust.toml"
    shutil.copyfile(trust_path(witnessed), policy)  # what the council member holds, from the city
    attacker = Signer.generate()
    assert hide_refusals(witnessed, attacker, fresh_key=True) == 2
    # Self-consistent: without a policy nothing is wrong inside it, and it is still never "verified".
    code, out = verify_json(witnessed)
    assert code == 1 and out["unverifiable"] is True and out["failures"] == []
    proc = run_audit("verify", str(witnessed))
    assert "検証成功" not in proc.stdout + proc.stderr and "検証不能" in proc.stderr
    # With the city's policy it fails, and says why.
    code, out = verify_json(witnessed, "--trust", str(policy))
    assert code == 1 and out["verified"] is False
    details = " ".join(f["detail"] for f in out["failures"])
    assert "is not a key the trust policy names" in details
    assert "not signed by a trusted gateway key" in details
    rep = json.loads(run_audit("report", str(witnessed), "--trust", str(policy), "--json").stdout)
    assert rep["verified"] is False and "evidence-forged" in {f["kind"] for f in rep["findings"]}


def test_rewritten_and_resigned_with_the_real_key_fails_on_the_witnesses(witnessed: Path, real_key: Signer) -> None:
    """The operator holds the gateway's key; the witnesses' cosignatures are what it cannot redo."""
    original = report_json(witnessed)
    assert {f["kind"] for f in original["findings"] if f["prevented"]} == {"unapproved-field", "brute-force"}
    hide_refusals(witnessed, real_key, fresh_key=False)
    code, out = verify_json(witnessed, *trust(witnessed))
    assert code == 1 and out["verified"] is False
    assert kinds(out) == {"log-unwitnessed"}  # every gateway signature holds; no witness vouched for it
    assert out["witnessed"] == 0
    rep = report_json(witnessed)
    assert {f["kind"] for f in rep["findings"] if not f["prevented"] and f["severity"] != "info"} == {"log-unwitnessed"}


def test_real_key_rewrite_keeping_the_cosignature_lines_is_caught(witnessed: Path, real_key: Signer) -> None:
    hide_refusals(witnessed, real_key, fresh_key=False, keep_cosignatures=True)
    code, out = verify_json(witnessed, *trust(witnessed))
    assert code == 1
    assert any("cosignature of witness" in f["detail"] and "invalid signature" in f["detail"] for f in out["failures"])
    assert "log-unwitnessed" in kinds(out)


def test_an_edited_entry_breaks_the_roots_the_witnesses_cosigned(witnessed: Path) -> None:
    edit_entry(witnessed, 3, lambda e: e.update(source="192.0.2.1"))
    code, out = verify_json(witnessed, *trust(witnessed))
    assert code == 1
    assert any(f["file"].startswith("checkpoints/") and "Merkle root" in f["detail"] for f in out["failures"])
    # Exactly tampered: the witnesses did cosign heads covering every entry; the log no longer matches them.
    assert kinds(out) == {"log-tampered"} and out["witnessed"] == json.loads(
        (witnessed / "MANIFEST.json").read_bytes())["log"]["size"]


def test_log_unwitnessed_fault_is_exactly_one_warning(tmp_path: Path) -> None:
    bundle = build_bundle(tmp_path / "b", format=2, witnesses=1, faults=["log-unwitnessed"], refusals=False)
    rep = report_json(bundle)
    serious = [f for f in rep["findings"] if f["severity"] in ("warning", "violation")]
    assert [(f["kind"], f["severity"], f["prevented"]) for f in serious] == [("log-unwitnessed", "warning", False)]
    assert "ウィットネス" in serious[0]["detail_ja"]
    proc = run_audit("verify", str(bundle), *trust(bundle))
    assert proc.returncode == 1 and "[warning] checkpoints/" in proc.stdout


def test_cosignatures_by_witnesses_the_policy_does_not_name_count_for_nothing(witnessed: Path, tmp_path: Path) -> None:
    policy = parse_policy(trust_path(witnessed).read_bytes())
    stranger = Cosigner.from_signer(generate_key("stranger.example/w"))
    mine = tmp_path / "mine.toml"
    mine.write_text(policy_toml(policy.origin, [str(k) for k in policy.log_keys], [str(stranger.verifier)], 1))
    code, out = verify_json(witnessed, "--trust", str(mine))
    assert code == 1 and kinds(out) == {"log-unwitnessed"}
    none = tmp_path / "none.toml"
    none.write_text(policy_toml(policy.origin, [str(k) for k in policy.log_keys], [], 0))
    proc = run_audit("verify", str(witnessed), "--trust", str(none))
    assert proc.returncode == 0 and "witnesses なし / none (quorum 0)" in proc.stdout


def test_a_policy_for_another_origin_refuses_every_checkpoint(witnessed: Path, tmp_path: Path) -> None:
    policy = parse_policy(trust_path(witnessed).read_bytes())
    other = generate_key("fukuoka.example.jp/gateway")
    path = tmp_path / "other.toml"
    path.write_text(policy_toml(other.name, [str(other.verifier)], [str(w) for w in policy.witnesses], 2))
    code, out = verify_json(witnessed, "--trust", str(path))
    assert code == 1
    assert any("is not the log's origin" in f["detail"] for f in out["failures"])


def test_a_pruned_format_2_bundle_verifies_from_the_frontier(tmp_path: Path) -> None:
    bundle = build_bundle(tmp_path / "b", format=2, witnesses=1, prune=[10, 30])
    code, out = verify_json(bundle, *trust(bundle))
    assert code == 0, out["failures"]
    assert out["log"]["pruned"]["entries"] == 30
    lines = (bundle / "log" / "prunings.jsonl").read_bytes().split(b"\n")[:-1]
    statement = json.loads(lines[-1])
    statement["frontier"][0] = "00" * 32
    from audit.jcs import canonical
    from tests.audit.bundle_builder import update_manifest_hash, write_lines
    write_lines(bundle / "log" / "prunings.jsonl", lines[:-1] + [canonical(statement)])
    update_manifest_hash(bundle, "log/prunings.jsonl")
    code, out = verify_json(bundle, *trust(bundle))
    assert code == 1
    assert any("frontier does not fold" in f["detail"] for f in out["failures"])


@pytest.mark.parametrize("text,why", [
    ('format = "audit-trust-policy/1"\n[log]\norigin = "o"\nkeys = []\n[witnesses]\nquorum = 0\nkeys = []\n',
     "at least one"),
    ('format = "audit-trust-policy/1"\nextra = 1\n', "unknown key"),
    ('format = "audit-trust-policy/2"\n', "format"),
    ('format = "audit-trust-policy/1"\n[log]\norigin = "o"\nkeys = ["x"]\n', "verifier key"),
])
def test_policies_are_read_strictly(text: str, why: str) -> None:
    with pytest.raises(PolicyError, match=why):
        parse_policy(text.encode())


def test_policy_keys_are_checked_for_type_origin_quorum_and_separation() -> None:
    log = generate_key("city.example/log")
    w = Cosigner.from_signer(generate_key("w.example/w"))
    good = policy_toml(log.name, [str(log.verifier)], [str(w.verifier)], 1)
    assert parse_policy(good.encode()).quorum == 1
    for bad, why in [
        (policy_toml("other.example/log", [str(log.verifier)], [str(w.verifier)], 1), "not named after the origin"),
        (policy_toml(log.name, [str(log.verifier)], [str(w.verifier)], 2), "quorum"),
        (policy_toml(log.name, [str(log.verifier)], [str(generate_key("w2").verifier)], 1), "expected 0x04"),
        (policy_toml(log.name, [str(w.verifier)], [], 0), "expected 0x01"),
        (policy_toml(log.name, [str(log.verifier)], [str(Cosigner.from_signer(log).verifier)], 1), "another party"),
        (policy_toml(log.name, [str(log.verifier)], [str(w.verifier), str(w.verifier)], 1), "twice"),
        (good.replace("quorum = 1", "quorum = 1\nurl = 'x'"), "unknown key"),
    ]:
        with pytest.raises(PolicyError, match=why):
            parse_policy(bad.encode())
