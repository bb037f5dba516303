"""The contractors' signatures in an exported bundle, checked as anyone can check them: with stock
`ssh-keygen -Y verify` and the bundle's `attestations/allowed_signers`, nothing of ours.

Each attestation's principal (login@organisation) is the one the evidence document that recorded
it names (`attested.principal`); what the signature must prove is that this principal's key made it.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any


def principals(bundle: Path) -> dict[str, str]:
    """attestation id -> the principal its evidence document names."""
    out: dict[str, str] = {}
    for path in sorted((bundle / "evidence").glob("*.json")):
        attested = json.loads(path.read_text(encoding="utf-8")).get("attested")
        if isinstance(attested, dict) and attested.get("strength") == "signed":
            out[str(attested["attestation"])] = str(attested["principal"])
    return out


def command(bundle: Path, attestation: str, principal: str) -> list[str]:
    folder = bundle / "attestations"
    return ["ssh-keygen", "-Y", "verify", "-f", str(folder / "allowed_signers"), "-I", principal,
            "-n", "gateway-attestation", "-s", str(folder / f"{attestation}.json.sig")]


def check_with_ssh_keygen(bundle: Path) -> dict[str, Any]:
    """How many signed attestations the bundle holds and how many `ssh-keygen -Y verify` accepts."""
    signed = principals(bundle)
    result: dict[str, Any] = {"signed": len(signed), "ssh_keygen_verified": None, "example": None}
    if not signed or shutil.which("ssh-keygen") is None:
        return result
    verified = 0
    for attestation, principal in signed.items():
        with (bundle / "attestations" / f"{attestation}.json").open("rb") as message:
            proc = subprocess.run(command(bundle, attestation, principal), stdin=message, capture_output=True)
        verified += proc.returncode == 0
    first, principal = next(iter(signed.items()))
    result.update(ssh_keygen_verified=verified,
                  example=" ".join(command(bundle, first, principal)) + f" < {bundle / 'attestations' / first}.json")
    return result
