"""`audit verify` on a 300,000-entry log with a checkpoint every 1,000 entries (target: < 5 s).

Run: .venv/bin/pytest benchmarks/bench_audit.py --benchmark-only
Not collected by plain `pytest` (testpaths is tests/).
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

# The bundle writer lives with the auditor's tests; benchmarks/ is not a package on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.jcs import canonical  # noqa: E402
from audit.note import SIG_ED25519, verifier_key  # noqa: E402
from tests.audit.bundle_builder import ORIGIN, Signer, actor, approval_toml, policy_toml, profile_toml, trust_path, ts  # noqa: E402

ENTRIES = 300_000
CHECKPOINT_EVERY = 1_000
BIN = Path(sys.executable).parent


def build_large_bundle(out: Path, entries: int = ENTRIES, every: int = CHECKPOINT_EVERY) -> Path:
    """Streams the log to disk (a 300k-entry list of dicts would cost ~0.5 GB)."""
    signer = Signer.generate()
    installation = "kurume-gw-01"
    start = datetime(2020, 5, 15, 0, tzinfo=timezone.utc)
    approval = "kurume-2020-teigaku"
    users = [actor(f"user{n:03d}", "kurume" if n % 3 else "chikugo-print", "staff" if n % 3 else "contractor",
                   terminal=hashlib.sha256(str(n).encode()).hexdigest()) for n in range(200)]
    actions = ["auth.login", "transfer.download", "portal.view", "sftp.list", "auth.logout"]
    (out / "log").mkdir(parents=True)
    (out / "approvals").mkdir()
    (out / "profiles").mkdir()
    files: dict[str, bytes] = {
        f"approvals/{approval}.toml": approval_toml(approval).encode(),
        "profiles/lgwan-asp.toml": profile_toml("lgwan-asp").encode(),
    }
    prev = "0" * 64
    cp_prev = None
    checkpoints = []
    with open(out / "log" / "entries.jsonl", "wb") as log:
        for seq in range(1, entries + 1):
            at = start + timedelta(seconds=seq * 7)
            who = users[seq % len(users)]
            entry = {"seq": seq, "at": ts(at), "actor": who, "source": f"10.20.{seq % 250}.{seq % 200 + 1}",
                     "channel": "lgwan-asp", "action": actions[seq % len(actions)],
                     "object": {"approval": approval if seq % 5 == 1 else None,
                                "transfer": f"t-{seq // 1000:020x}" if seq % 5 == 1 else None, "blob_sha256": None},
                     "outcome": "ok", "kinds": [], "reason": None, "evidence": None, "prev": prev}
            line = canonical(entry)
            prev = hashlib.sha256(b"\x00" + line).hexdigest()
            log.write(line + b"\n")
            if seq % every == 0 or seq == entries:
                cp = signer.sign({"type": "checkpoint", "installation": installation, "size": seq, "head": prev,
                                  "prev": cp_prev, "at": ts(at)})
                cp_prev = hashlib.sha256(b"\x01" + canonical(cp)).hexdigest()
                checkpoints.append(canonical(cp) + b"\n")
    files["log/checkpoints.jsonl"] = b"".join(checkpoints)
    files["keys.json"] = canonical({"format": "gateway-keys/1", "genesis": signer.id,
                                    "keys": {signer.id: signer.public_b64}, "rotations": []})
    for rel, data in files.items():
        (out / rel).write_bytes(data)
    listing = []
    for rel in sorted([*files, "log/entries.jsonl"]):
        digest = hashlib.sha256()
        size = 0
        with open(out / rel, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
        listing.append({"path": rel, "sha256": digest.hexdigest(), "size": size})
    manifest = signer.sign({"format": "gateway-evidence-bundle/1", "installation": installation,
                            "created_at": ts(start + timedelta(days=365)), "scope": {"approval": None},
                            "log": {"size": entries, "head": prev}, "files": listing})
    (out / "MANIFEST.json").write_bytes(canonical(manifest))
    # The verifier's policy: the city's key, no witnesses (format-1 checkpoints carry no cosignatures).
    trust_path(out).write_text(policy_toml(ORIGIN, [str(verifier_key(ORIGIN, SIG_ED25519, signer.raw))], [], 0))
    return out


@pytest.fixture(scope="module")
def large_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_large_bundle(tmp_path_factory.mktemp("bench") / "bundle")


def test_verify_300k_entries_cli(benchmark, large_bundle: Path) -> None:
    """As a security officer runs it: the console script, process start-up included."""
    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "audit"), "verify", str(large_bundle), "--trust", str(trust_path(large_bundle))],
                              capture_output=True, text=True)

    proc = benchmark.pedantic(run, rounds=3, iterations=1)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert benchmark.stats.stats.median < 5.0


def test_verify_300k_entries_api(benchmark, large_bundle: Path) -> None:
    from audit.trust import load
    from audit.verify import verify

    policy = load(trust_path(large_bundle))
    result = benchmark.pedantic(verify, args=(large_bundle, policy), rounds=3, iterations=1)
    assert result.verified, [f.line() for f in result.failures[:5]]
    assert result.log.lines == ENTRIES and len(result.checkpoints) == ENTRIES // CHECKPOINT_EVERY


if __name__ == "__main__":  # quick manual run: python benchmarks/bench_audit.py DIR
    target = Path(sys.argv[1])
    t = time.perf_counter()
    build_large_bundle(target)
    print(f"built in {time.perf_counter() - t:.1f} s")
