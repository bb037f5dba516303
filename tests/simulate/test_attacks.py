"""Issue 17's attacks on what a rehearsal really produced, done from outside the code as an
operator who wants a refusal to disappear would do them.

The run is `gateway simulate` with a refusal in it (an unapproved column stopped at the gateway).
The attacker edits the exported files (tests/audit/attacker.py: turn the refusal into an ordinary
entry, re-chain, recompute the Merkle roots, re-sign everything), once with a fresh key put into
keys.json and once with the gateway's own signing key read from the home's key store, and then
asks the council's witness, restarted from the state it kept, to cosign the rewritten history.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from audit import checkpoint as c2sp
from audit.note import Ed25519Signer, b64, parse_verifier_key, sign
from audit.tlog import consistency_proof, tree_hash
from tests.audit.attacker import hide_refusals
from tests.audit.bundle_builder import Signer
from tests.audit.witness_process import LAUNCH
from tests.conftest import run_audit, run_gateway


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("attacked") / "run"
    env = {k: v for k, v in os.environ.items() if k != "GATEWAY_FAKE_NOW"}
    env.update(GATEWAY_SCRYPT_WORK_FACTOR="10")
    result = json.loads(run_gateway("simulate", "kurume-2020", "--records", "80", "--fault", "unapproved-field",
                                    "-o", str(out), "--json", env=env).stdout)
    assert result["verified"] is True and result["findings"] == ["unapproved-field"]
    return out


@pytest.fixture
def bundle(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run / "bundle", tmp_path / "bundle"))


def verify(bundle: Path, policy: Path | None) -> tuple[int, dict]:
    proc = run_audit("verify", str(bundle), "--json", trust=policy, check=False)
    return proc.returncode, json.loads(proc.stdout)


def kinds(out: dict) -> set[str]:
    return {f["kind"] for f in out["failures"]}


def real_key(run: Path) -> Signer:
    """The gateway's signing key, as the operator who runs it can read it from the key store."""
    signing = run / "home" / "keys" / "signing"
    kid = (signing / "current").read_text().strip()
    private = load_pem_private_key((signing / f"{kid}.key").read_bytes(), None)
    return Signer(private)  # type: ignore[arg-type]


def test_rewritten_and_resigned_with_a_fresh_key_fails_with_the_policy(run: Path, bundle: Path) -> None:
    assert hide_refusals(bundle, Signer.generate(), fresh_key=True) >= 1
    # Without a policy the forgery is self-consistent, and still never "verified".
    code, out = verify(bundle, None)
    assert code == 1 and out["unverifiable"] is True and out["verified"] is False and out["failures"] == []
    # With the policy the city published (DIR/trust.toml) it fails, and says why.
    code, out = verify(bundle, run / "trust.toml")
    assert code == 1 and out["verified"] is False
    assert "evidence-forged" in kinds(out)
    details = " ".join(f["detail"] for f in out["failures"])
    assert "is not a key the trust policy names" in details and "not signed by a trusted gateway key" in details
    rep = json.loads(run_audit("report", str(bundle), "--json", trust=run / "trust.toml").stdout)
    assert rep["verified"] is False and "unapproved-field" not in {f["kind"] for f in rep["findings"]}


def test_rewritten_and_resigned_with_the_real_key_is_caught_by_the_witness_s_cosignatures(
        run: Path, bundle: Path, tmp_path: Path) -> None:
    original = bundle.parent / "original"
    shutil.copytree(bundle, original)
    key = real_key(run)
    policy = run / "trust.toml"

    # Dropping the witness's lines: every gateway signature holds, no witness vouches for anything.
    hide_refusals(bundle, key, fresh_key=False)
    code, out = verify(bundle, policy)
    assert code == 1 and kinds(out) == {"log-unwitnessed"} and out["witnessed"] == 0
    rep = json.loads(run_audit("report", str(bundle), "--json", trust=policy).stdout)
    assert {(f["kind"], f["severity"]) for f in rep["findings"] if not f["prevented"]} == {("log-unwitnessed", "warning")}

    # Keeping them: they were made over the original heads and do not verify over the new ones.
    kept = tmp_path / "kept"
    shutil.copytree(original, kept)
    hide_refusals(kept, key, fresh_key=False, keep_cosignatures=True)
    code, out = verify(kept, policy)
    assert code == 1 and kinds(out) == {"evidence-forged", "log-unwitnessed"}
    assert any("cosignature of witness council.kurume.example.jp/witness" in f["detail"] for f in out["failures"])

    # A council member who kept any earlier witnessed head (here: the original bundle's last one)
    # holds it against the rewritten log: the log no longer matches what the witness cosigned.
    last = max((original / "checkpoints").glob("*.note"), key=lambda p: int(p.stem))
    shutil.copyfile(last, bundle / "checkpoints" / last.name)
    code, out = verify(bundle, policy)
    assert code == 1 and "log-tampered" in kinds(out)
    assert any("Merkle root" in f["detail"] and f["file"] == f"checkpoints/{last.name}" for f in out["failures"])


def test_the_witness_refuses_to_cosign_the_rewritten_history(run: Path, bundle: Path) -> None:
    """The operator, holding the real key, asks the council's witness (restarted from the state it
    kept) to cosign the rewritten heads: same size, another root is a fork; a larger size cannot
    come with a proof from what it cosigned; an old size it did not cosign gets its real size."""
    key = real_key(run)
    trust = json.loads((run / "report.json").read_text())["trust"]
    origin, gateway_vkey = trust["origin"], parse_verifier_key(trust["log_keys"][0])
    hide_refusals(bundle, key, fresh_key=False)
    lines = (bundle / "log" / "entries.jsonl").read_bytes().split(b"\n")[:-1]
    leaves = [hashlib.sha256(b"\x00" + line).digest() for line in lines]  # the rewritten log
    size = json.loads((bundle / "MANIFEST.json").read_bytes())["log"]["size"]
    assert len(leaves) == size

    def note(n: int, leaves_: list[bytes]) -> bytes:
        text = c2sp.checkpoint(origin, n, tree_hash(leaves_[:n])).text()
        return sign(text, [Ed25519Signer(origin, key.private)])

    witness_dir = run / "witness"
    args = ["witness", "serve", "--listen", "127.0.0.1:0", "--key", str(witness_dir / "witness.key"),
            "--state", str(witness_dir / "state"), "--log", str(gateway_vkey)]
    with open(witness_dir / "attack.err", "ab") as err:
        proc = subprocess.Popen([sys.executable, "-c", LAUNCH, *args], stdout=subprocess.PIPE, stderr=err)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        port = int(line.split("127.0.0.1:")[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def post(old: int, n: int, leaves_: list[bytes], proof: list[bytes] | None = None) -> tuple[int, str]:
            proof = consistency_proof(leaves_[:n], old) if proof is None else proof
            body = ("\n".join([f"old {old}", *(b64(p) for p in proof)]) + "\n\n").encode() + note(n, leaves_)
            conn.request("POST", "/add-checkpoint", body=body)
            resp = conn.getresponse()
            return resp.status, resp.read().decode()

        status, text = post(size, size, leaves, [])
        assert status == 409 and "fork" in text  # the same size, another root
        longer = leaves + [hashlib.sha256(b"\x00one more").digest()]
        status, text = post(size, size + 1, longer)
        assert status == 422 and "consistency proof" in text  # no proof links it to the head it cosigned
        status, text = post(0, size, leaves, [])
        assert (status, text) == (409, f"{size}\n")  # it says where it really is
        refused = list((witness_dir / "state" / "refused").iterdir())
        assert len(refused) >= 2  # it kept the forged heads as evidence against the log
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()  # type: ignore[union-attr]
