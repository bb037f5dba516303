"""A clean bundle verifies; each way of tampering with one is detected and named precisely."""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from audit.jcs import canonical
from audit.verify import verify
from tests.audit.bundle_builder import Signer, build_bundle, edit_entry, read_lines, update_manifest_hash, write_lines
from tests.audit.conftest import failures, named, policy_of, run_audit, trust

ENTRIES = "log/entries.jsonl"
CHECKPOINTS = "log/checkpoints.jsonl"


def evidence_files(bundle: Path, prefix: str) -> list[Path]:
    return sorted((bundle / "evidence").glob(f"{prefix}-*.json"))


# -- the clean case -----------------------------------------------------------------------------

def test_clean_bundle_verifies_through_the_cli(bundle: Path) -> None:
    proc = run_audit("verify", str(bundle), *trust(bundle))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verified" in proc.stdout
    proc = run_audit("verify", str(bundle), *trust(bundle), "--json")
    out = json.loads(proc.stdout)
    assert proc.returncode == 0
    assert out["verified"] is True and out["failures"] == []
    keys = json.loads((bundle / "keys.json").read_bytes())
    assert out["genesis_key"] == keys["genesis"]
    assert len(out["trusted_keys"]) == 2  # genesis and the rotated key


def test_clean_bundle_verifies_through_the_python_api(bundle: Path) -> None:
    result = verify(bundle, policy_of(bundle))
    assert result.verified, [f.line() for f in result.failures]
    assert result.log.lines == len(read_lines(bundle / ENTRIES))
    assert len(result.checkpoints) == len(read_lines(bundle / CHECKPOINTS))
    assert len(result.documents) == len(list((bundle / "evidence").iterdir()))


def test_without_a_policy_the_verdict_is_unverifiable_never_verified(bundle: Path) -> None:
    proc = run_audit("verify", str(bundle))
    assert proc.returncode == 1
    assert "検証不能" in proc.stderr and "unverifiable" in proc.stderr
    assert "検証成功" not in proc.stdout + proc.stderr
    proc = run_audit("verify", str(bundle), "--json")
    out = json.loads(proc.stdout)
    assert proc.returncode == 1 and out["verified"] is False and out["unverifiable"] is True
    assert out["failures"] == []  # the bundle is self-consistent; nothing outside it vouches for it
    assert not verify(bundle).verified


def test_the_policy_can_come_from_the_environment(bundle: Path) -> None:
    import os
    import subprocess

    from tests.audit.bundle_builder import trust_path
    from tests.audit.conftest import BIN

    proc = subprocess.run([str(BIN / "audit"), "verify", str(bundle), "--json"], capture_output=True, text=True,
                          env={**os.environ, "AUDIT_TRUST": str(trust_path(bundle))})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["trust"]["origin"] == "kurume.example.jp/gateway"


def test_scoped_bundle_with_redacted_entries_verifies(scoped: Path) -> None:
    result = verify(scoped, policy_of(scoped))
    assert result.verified, [f.line() for f in result.failures]
    assert result.scope == "kurume-2020-teigaku"
    assert result.log.redacted
    assert all(d.approval == "kurume-2020-teigaku" for d in result.documents.values())


def test_usage_errors_exit_2(bundle: Path) -> None:
    assert run_audit("verify").returncode == 2
    assert run_audit("verify", str(bundle), "--trust", str(bundle / "no-such-policy.toml")).returncode == 2
    bad = bundle.parent / "bad.toml"
    bad.write_text('format = "audit-trust-policy/1"\n[log]\norigin = "x"\nkeys = []\n[witnesses]\nquorum = 0\nkeys = []\n')
    proc = run_audit("verify", str(bundle), "--trust", str(bad))
    assert proc.returncode == 2 and "at least one" in proc.stderr


def test_missing_directory_is_a_named_failure(tmp_path: Path) -> None:
    fs = failures(tmp_path / "nowhere")
    assert fs[0]["kind"] == "bundle"


# -- evidence documents -------------------------------------------------------------------------

def test_one_field_of_an_evidence_document_changed(bundle: Path) -> None:
    path = evidence_files(bundle, "receipt")[0]
    doc = json.loads(path.read_bytes())
    doc["record_count"] += 1
    path.write_bytes(canonical(doc))
    fs = failures(bundle)
    rel = f"evidence/{path.name}"
    assert named(fs, "evidence-forged", rel, where=path.stem, detail="does not verify")
    assert named(fs, "evidence-forged", rel, where=path.stem, detail="differs from the one log entry")
    assert named(fs, "evidence-forged", rel, detail="differ from MANIFEST.json")


def test_signature_replaced(bundle: Path) -> None:
    a, b = evidence_files(bundle, "custody")[:2]
    doc_a, doc_b = json.loads(a.read_bytes()), json.loads(b.read_bytes())
    doc_a["signature"] = doc_b["signature"]
    a.write_bytes(canonical(doc_a))
    update_manifest_hash(bundle, f"evidence/{a.name}")
    fs = failures(bundle)
    assert named(fs, "evidence-forged", f"evidence/{a.name}", where=a.stem, detail="does not verify")


def test_document_signed_by_an_untrusted_key(bundle: Path) -> None:
    path = evidence_files(bundle, "gateway-erasure")[0]
    doc = Signer.generate().sign(json.loads(path.read_bytes()))
    path.write_bytes(canonical(doc))
    fs = failures(bundle)
    assert named(fs, "evidence-forged", f"evidence/{path.name}", detail="not a trusted key")


def test_evidence_file_removed(bundle: Path) -> None:
    path = evidence_files(bundle, "erasure-certificate")[0]
    path.unlink()
    fs = failures(bundle)
    rel = f"evidence/{path.name}"
    assert named(fs, "evidence-forged", rel, detail="listed in MANIFEST.json but missing")
    assert named(fs, "evidence-forged", rel, detail="which is not in the bundle")


# -- the log ------------------------------------------------------------------------------------

def test_log_entry_edited(bundle: Path) -> None:
    edit_entry(bundle, 17, lambda e: e.update(source="198.51.100.7"))
    fs = failures(bundle)
    assert named(fs, "log-tampered", ENTRIES, where="18", detail="prev does not match hash of entry 17")


def test_log_entry_with_evidence_edited_breaks_the_cross_reference(bundle: Path) -> None:
    lines = read_lines(bundle / ENTRIES)
    seq = next(i + 1 for i, line in enumerate(lines) if json.loads(line)["evidence"] is not None)
    edit_entry(bundle, seq, lambda e: e["evidence"].update(sha256="0" * 64))
    fs = failures(bundle)
    assert named(fs, "log-tampered", ENTRIES, where=str(seq + 1), detail=f"hash of entry {seq}")
    assert any(f["kind"] == "evidence-forged" and f"log entry {seq}" in f["detail"] for f in fs)


def test_log_entry_deleted(bundle: Path) -> None:
    lines = read_lines(bundle / ENTRIES)
    del lines[11]
    write_lines(bundle / ENTRIES, lines)
    fs = failures(bundle)
    assert named(fs, "log-tampered", ENTRIES, where="12", detail="entry 12 missing")
    assert named(fs, "log-tampered", ENTRIES, where="12", detail="prev does not match hash of entry 11")


def test_log_entry_inserted(bundle: Path) -> None:
    lines = read_lines(bundle / ENTRIES)
    forged = json.loads(lines[4])
    forged["action"] = "transfer.download"
    lines.insert(5, canonical(forged))
    write_lines(bundle / ENTRIES, lines)
    fs = failures(bundle)
    assert named(fs, "log-tampered", ENTRIES, where="6", detail="repeated or out of order")


def test_log_entry_duplicated(bundle: Path) -> None:
    lines = read_lines(bundle / ENTRIES)
    lines.insert(9, lines[8])
    write_lines(bundle / ENTRIES, lines)
    fs = failures(bundle)
    assert named(fs, "log-tampered", ENTRIES, where="10", detail="seq 9 follows 9: repeated")


def test_log_entry_moved(bundle: Path) -> None:
    lines = read_lines(bundle / ENTRIES)
    moved = lines.pop(4)
    lines.insert(14, moved)
    write_lines(bundle / ENTRIES, lines)
    fs = failures(bundle)
    assert named(fs, "log-tampered", ENTRIES, where="5", detail="entry 5 missing")
    assert named(fs, "log-tampered", ENTRIES, where="15", detail="seq 5 follows 15: repeated or out of order")


def test_log_truncated_at_the_end(bundle: Path) -> None:
    lines = read_lines(bundle / ENTRIES)
    write_lines(bundle / ENTRIES, lines[:-3])
    fs = failures(bundle)
    assert named(fs, "log-tampered", CHECKPOINTS, detail="the log has no such entry")


def test_whole_log_rechained_by_an_attacker_fails_on_checkpoints(bundle: Path) -> None:
    """Without the key, re-linking every later entry still cannot fix the signed checkpoints."""
    lines = [json.loads(line) for line in read_lines(bundle / ENTRIES)]
    lines[6]["source"] = "192.0.2.99"
    prev = lines[5]["prev"]
    out = []
    for entry in lines:
        if entry["seq"] > 6:
            entry["prev"] = prev
        prev = hashlib.sha256(b"\x00" + canonical(entry)).hexdigest()
        out.append(canonical(entry))
    write_lines(bundle / ENTRIES, out)
    update_manifest_hash(bundle, ENTRIES)
    fs = failures(bundle)
    assert named(fs, "log-tampered", CHECKPOINTS, detail="head is not the hash of entry")
    assert named(fs, "evidence-forged", "MANIFEST.json", detail="manifest signature")


def test_redacted_entry_changed_in_a_scoped_bundle(scoped: Path) -> None:
    lines = read_lines(scoped / ENTRIES)
    # The link into the next kept entry is what exposes it (a redacted entry's own prev is hidden).
    n = next(i for i, line in enumerate(lines)
             if b'"redacted":true' in line and b'"redacted":true' not in lines[i + 1])
    value = json.loads(lines[n])
    value["hash"] = "f" * 64
    lines[n] = canonical(value)
    write_lines(scoped / ENTRIES, lines)
    fs = failures(scoped)
    assert named(fs, "log-tampered", ENTRIES, where=str(n + 2), detail=f"hash of entry {n + 1}")


def test_redacted_entry_in_an_unscoped_bundle(bundle: Path) -> None:
    lines = read_lines(bundle / ENTRIES)
    entry = json.loads(lines[3])
    lines[3] = canonical({"seq": 4, "redacted": True,
                          "hash": hashlib.sha256(b"\x00" + canonical(entry)).hexdigest()})
    write_lines(bundle / ENTRIES, lines)
    fs = failures(bundle)
    assert named(fs, "log-tampered", ENTRIES, where="4", detail="not scoped")


def test_non_canonical_entry(bundle: Path) -> None:
    lines = read_lines(bundle / ENTRIES)
    lines[2] = json.dumps(json.loads(lines[2]), indent=None).encode()
    write_lines(bundle / ENTRIES, lines)
    fs = failures(bundle)
    assert named(fs, "log-tampered", ENTRIES, where="3", detail="not canonical")


# -- checkpoints --------------------------------------------------------------------------------

def test_checkpoint_dropped(bundle: Path) -> None:
    lines = read_lines(bundle / CHECKPOINTS)
    del lines[1]
    write_lines(bundle / CHECKPOINTS, lines)
    fs = failures(bundle)
    assert named(fs, "log-tampered", CHECKPOINTS, where="2", detail="prev does not match the hash of checkpoint")


def test_first_and_last_checkpoints_dropped(bundle: Path) -> None:
    lines = read_lines(bundle / CHECKPOINTS)
    write_lines(bundle / CHECKPOINTS, lines[1:-1])
    fs = failures(bundle)
    assert named(fs, "log-tampered", CHECKPOINTS, where="1", detail="first checkpoint's prev is not null")
    assert named(fs, "log-tampered", CHECKPOINTS, detail="last checkpoint covers")


def test_checkpoint_signature_forged(bundle: Path) -> None:
    lines = read_lines(bundle / CHECKPOINTS)
    cp = json.loads(lines[0])
    cp["at"] = "2020-05-15T00:00:00.000000Z"
    lines[0] = canonical(cp)
    write_lines(bundle / CHECKPOINTS, lines)
    fs = failures(bundle)
    assert named(fs, "evidence-forged", CHECKPOINTS, where="1", detail="does not verify")
    assert named(fs, "log-tampered", CHECKPOINTS, where="2", detail="prev does not match")


# -- keys, manifest, files ----------------------------------------------------------------------

def test_public_key_swapped_in_keys_json(bundle: Path) -> None:
    keys = json.loads((bundle / "keys.json").read_bytes())
    genesis = keys["genesis"]
    keys["keys"][genesis] = Signer.generate().public_b64
    (bundle / "keys.json").write_bytes(canonical(keys))
    fs = failures(bundle)
    assert named(fs, "evidence-forged", "keys.json", where=f"keys.{genesis}", detail="does not match the public key")
    assert named(fs, "evidence-forged", "keys.json", detail="differ from MANIFEST.json")


def test_key_and_genesis_swapped_together(bundle: Path) -> None:
    """The attacker makes keys.json self-consistent around a key of their own."""
    keys = json.loads((bundle / "keys.json").read_bytes())
    mine = Signer.generate()
    keys["genesis"] = mine.id
    keys["keys"] = {mine.id: mine.public_b64, **keys["keys"]}
    (bundle / "keys.json").write_bytes(canonical(keys))
    update_manifest_hash(bundle, "keys.json")
    fs = failures(bundle)
    # The policy, not keys.json, says which keys count: the attacker's key never becomes trusted.
    assert named(fs, "evidence-forged", "keys.json", where="genesis", detail="is not a key the trust policy names")
    assert named(fs, "evidence-forged", "MANIFEST.json", detail="does not verify")


def test_extra_file_added(bundle: Path) -> None:
    (bundle / "notes.txt").write_text("nothing to see")
    (bundle / "evidence" / "receipt-0000.json").write_text("{}")
    fs = failures(bundle)
    assert named(fs, "bundle", "notes.txt", detail="not part of the bundle layout")
    assert named(fs, "bundle", "evidence/receipt-0000.json", detail="not listed in MANIFEST.json")


def test_symlink_is_not_followed(bundle: Path, tmp_path: Path) -> None:
    target = bundle / "approvals" / "kurume-2020-teigaku.toml"
    outside = tmp_path / "outside.toml"
    outside.write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to(outside)
    fs = failures(bundle)
    assert named(fs, "bundle", "approvals/kurume-2020-teigaku.toml", detail="symbolic link")


def test_fifo_does_not_hang(bundle: Path) -> None:
    import os
    os.mkfifo(bundle / "evidence" / "pipe.json")
    fs = failures(bundle)
    assert named(fs, "bundle", "evidence/pipe.json", detail="not a regular file")


def test_file_removed(bundle: Path) -> None:
    (bundle / "approvals" / "shinjuku-2020-nhi-cdr.toml").unlink()
    fs = failures(bundle)
    assert named(fs, "evidence-forged", "approvals/shinjuku-2020-nhi-cdr.toml", detail="missing")


def test_log_file_removed(bundle: Path) -> None:
    (bundle / CHECKPOINTS).unlink()
    fs = failures(bundle)
    assert named(fs, "log-tampered", CHECKPOINTS, detail="missing")


def test_manifest_hash_recomputed_without_the_key(bundle: Path) -> None:
    path = bundle / "approvals" / "kurume-2020-teigaku.toml"
    path.write_text(path.read_text().replace('end = 2020-08-31', 'end = 2021-08-31'))
    update_manifest_hash(bundle, "approvals/kurume-2020-teigaku.toml")
    fs = failures(bundle)
    assert named(fs, "evidence-forged", "MANIFEST.json", where="signature", detail="does not verify")
    # and nothing else: the file now matches the (unsigned) manifest
    assert not any(f["file"] == "approvals/kurume-2020-teigaku.toml" for f in fs)


def test_resigned_bundle_with_new_genesis_is_caught_by_the_policy(tmp_path: Path, bundle: Path) -> None:
    forged = build_bundle(tmp_path / "forged", faults=[])  # fresh keys: every signature re-made
    assert run_audit("verify", str(forged), *trust(forged)).returncode == 0  # its own policy would vouch for it
    proc = run_audit("verify", str(forged), *trust(bundle), "--json")  # the policy the city published
    fs = json.loads(proc.stdout)["failures"]
    assert proc.returncode == 1
    assert named(fs, "evidence-forged", "keys.json", where="genesis", detail="is not a key the trust policy names")
    assert named(fs, "evidence-forged", "MANIFEST.json", detail="not a trusted key")


def test_rotation_statement_forged(bundle: Path) -> None:
    keys = json.loads((bundle / "keys.json").read_bytes())
    keys["rotations"][0]["countersignature"]["value"] = base64.b64encode(b"\x00" * 64).decode()
    (bundle / "keys.json").write_bytes(canonical(keys))
    fs = failures(bundle)
    assert named(fs, "evidence-forged", "keys.json", where="rotations[0]", detail="countersignature")
    # evidence signed after the rotation is now signed by an untrusted key
    assert any("not a trusted key" in f["detail"] for f in fs)


def test_manifest_log_size_changed(bundle: Path) -> None:
    manifest = json.loads((bundle / "MANIFEST.json").read_bytes())
    manifest["log"]["size"] += 1
    (bundle / "MANIFEST.json").write_bytes(canonical(manifest))
    fs = failures(bundle)
    assert named(fs, "log-tampered", ENTRIES, detail="the manifest says the log has")
    assert named(fs, "evidence-forged", "MANIFEST.json", detail="does not verify")


def test_human_output_names_file_and_entry(bundle: Path) -> None:
    edit_entry(bundle, 17, lambda e: e.update(reason="edited"))
    proc = run_audit("verify", str(bundle), *trust(bundle))
    assert proc.returncode == 1
    assert "log/entries.jsonl:18: prev does not match hash of entry 17" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
