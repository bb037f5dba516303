"""What an operator who wants to hide something does to an exported bundle, from outside the code.

It works on the files only, with hashlib and cryptography, the way FORMAT.md describes them: turn
refusals into ordinary entries, re-chain the log, recompute the Merkle roots, re-sign the
checkpoints (as C2SP notes, by hand), the evidence and the manifest, and fix every hash in the
manifest. `resign_with` is either a fresh key put into keys.json, or the gateway's real key (an
operator holds it). It uses the builder's canonical JSON and its own Merkle tree hash, nothing
from the auditor's verification code.
"""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.jcs import canonical
from tests.audit.bundle_builder import Signer, merkle_tree_hash

ZERO = "0" * 64


def _note_line(name: str, private: Ed25519PrivateKey, text: bytes) -> bytes:
    public = private.public_key().public_bytes_raw()
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    return "— ".encode() + name.encode() + b" " + base64.b64encode(key_id + private.sign(text)) + b"\n"


def hide_refusals(bundle: Path, resign_with: Signer, *, fresh_key: bool, keep_cosignatures: bool = False) -> int:
    """Rewrite history; returns how many refused entries became ordinary ones."""
    lines = (bundle / "log" / "entries.jsonl").read_bytes().split(b"\n")[:-1]
    entries = [json.loads(line) for line in lines]
    hidden = 0
    prev = ZERO
    leaves: list[bytes] = []
    out = []
    for e in entries:
        if e.get("outcome") == "refused":
            e.update(outcome="ok", kinds=[], reason=None)
            hidden += 1
        e["prev"] = prev
        line = canonical(e)
        prev = hashlib.sha256(b"\x00" + line).hexdigest()
        leaves.append(bytes.fromhex(prev))
        out.append(line)
    (bundle / "log" / "entries.jsonl").write_bytes(b"".join(line + b"\n" for line in out))

    for path in sorted((bundle / "checkpoints").glob("*.note")):
        text, _, sigs = path.read_bytes().partition(b"\n\n")
        origin, size = text.split(b"\n")[:2]
        root = base64.b64encode(merkle_tree_hash(leaves[:int(size)]))
        new_text = origin + b"\n" + size + b"\n" + root + b"\n"
        signed = new_text + b"\n" + _note_line(origin.decode(), resign_with.private, new_text)
        if keep_cosignatures:  # the witnesses' lines, copied over from the original checkpoint
            signed += b"".join(line + b"\n" for line in sigs.split(b"\n")[1:] if line)
        path.write_bytes(signed)

    if fresh_key:
        keys = {"format": "gateway-keys/1", "genesis": resign_with.id, "keys": {resign_with.id: resign_with.public_b64},
                "rotations": []}
        (bundle / "keys.json").write_bytes(canonical(keys))
        for doc_path in sorted((bundle / "evidence").glob("*.json")):
            doc_path.write_bytes(canonical(resign_with.sign(json.loads(doc_path.read_bytes()))))

    manifest = json.loads((bundle / "MANIFEST.json").read_bytes())
    manifest["log"]["head"] = prev
    for item in manifest["files"]:
        data = (bundle / item["path"]).read_bytes()
        item["sha256"], item["size"] = hashlib.sha256(data).hexdigest(), len(data)
    (bundle / "MANIFEST.json").write_bytes(canonical(resign_with.sign(manifest)))
    return hidden
