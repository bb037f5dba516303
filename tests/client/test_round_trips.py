"""Every attestation through `gateway-client`, over the portal and over SFTP, as a contractor runs it
(the console script in its own process), then the exported bundle checked by the auditor and by
stock `ssh-keygen -Y verify` with nothing of ours."""
from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.client.conftest import World
from tests.conftest import city_policy, run_audit, run_gateway

pytestmark = [pytest.mark.interop]

CERTIFY = ["--erased-at", "{now}", "--media-manufacturer", "（作業サーバー）", "--media-model", "SSD",
           "--media-serial", "作業室 A", "--sanitisation", "purge", "--technique", "暗号消去", "--tool", "shred 9.1",
           "--verification", "読み出し不能を確認", "--sanitised-by", "田中 一郎,取扱責任者",
           "--verified-by", "山本 花子,情報管理者", "--place", "受託者作業室"]


def channel_args(world: World, channel: str, login: str = "k.tanaka") -> list[str]:
    return world.portal_args(login) if channel == "portal" else world.sftp_args(login)


@pytest.fixture(scope="module")
def done(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Each transfer received, its copies' erasure requested, approved by the city and certified,
    and a deliverable returned: the LGWAN-ASP one over the portal, the VPN one over SFTP."""
    out: dict[str, dict] = {}
    work = tmp_path_factory.mktemp("contractor")
    for which, channel in (("lgwan", "portal"), ("vpn", "sftp")):
        t = world.transfers[which]
        args = channel_args(world, channel)
        got = json.loads(world.client("receive", t["transfer"], "-o", str(work / f"{which}.csv"), "--passphrase-file",
                                      str(world.passphrase_file(which)), *args, "--json").stdout)
        listed = json.loads(world.client("list", *args, "--json").stdout)
        asked = json.loads(world.client("deletion", "request", t["transfer"], "--items", "宛名データ一式", "--media",
                                        "作業サーバー", "--quantity", "1", "--method", "暗号消去", "--planned-date",
                                        "2020-09-10", *args, "--json").stdout)
        # The city decides: an operator enters the staff member's signed decision from its paper.
        run_gateway("deletion", "decide", asked["deletion"], "--approve", "--as", "s.staff", "--paper-ref",
                    f"決裁 {asked['deletion']}")
        now = datetime.now(UTC).isoformat()  # erased after the approval, as the client's clock says
        certified = json.loads(world.client("deletion", "certify", asked["deletion"], "--transfer", t["transfer"],
                                            *[a.format(now=now) for a in CERTIFY], *args, "--json").stdout)
        proof = work / f"proof-{which}.pdf"
        proof.write_bytes(b"%PDF-1.4 proof of the letters " + which.encode())
        delivered = json.loads(world.client("deliver", str(proof), "--transfer", t["transfer"], *args, "--json").stdout)
        out[which] = {"received": got, "listed": listed, "deletion": asked, "certified": certified,
                      "delivered": delivered, "output": work / f"{which}.csv", "proof": proof}
    return out


@pytest.mark.parametrize("which", ["lgwan", "vpn"])
def test_receive_decrypts_counts_hashes_and_files_a_matching_signed_receipt(world: World, done: dict,
                                                                            which: str) -> None:
    t, got = world.transfers[which], done[which]["received"]
    assert got["records"] == 500 and got["sha256"] == t["sha256"] and got["matches"] is True
    assert hashlib.sha256(done[which]["output"].read_bytes()).hexdigest() == t["sha256"]
    assert got["package_sha256"] == t["package_sha256"]
    assert got["evidence"].startswith("receipt-") and got["attestation"].startswith("A-")
    assert t["transfer"] in {row["id"] for row in done[which]["listed"]}
    row = next(r for r in done[which]["listed"] if r["id"] == t["transfer"])
    assert row["receipt_due"] and row["contractor_deletion_due"]
    assert done[which]["deletion"]["deletion"].startswith("D-")
    assert done[which]["certified"]["evidence"].startswith("erasure-certificate-")
    delivered = done[which]["delivered"]
    assert delivered["sha256"] == hashlib.sha256(done[which]["proof"].read_bytes()).hexdigest()
    assert delivered["evidence"].startswith("deliverable-declaration-")


def test_the_log_says_which_channel_each_act_came_through(world: World, done: dict) -> None:
    entries = json.loads(run_gateway("log", "--json", "--limit", "1000").stdout)
    for which, channel in (("lgwan", "lgwan-asp"), ("vpn", "vpn-sftp")):
        acts = {e["action"] for e in entries if e["object"]["transfer"] == world.transfers[which]["transfer"]
                and e["channel"] == channel and e["outcome"] == "ok" and e["actor"]["user"] == "k.tanaka"}
        assert acts >= {"transfer.download", "transfer.receipt", "deletion.request", "deletion.certify",
                        "deliverable.upload", "deliverable.declare"}, (which, acts)


@pytest.fixture(scope="module")
def bundle(world: World, done: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "bundle"
    run_gateway("export", "evidence", "-o", str(out))
    return out


def test_stock_ssh_keygen_verifies_every_attestation_in_the_bundle(world: World, bundle: Path) -> None:
    attestations = sorted((bundle / "attestations").glob("A-*.json"))
    ours = {world.transfers[w]["transfer"] for w in ("lgwan", "vpn")}
    # Receipt, deletion request, certificate and declaration, on each channel (other tests add theirs).
    assert len([p for p in attestations if json.loads(p.read_text())["transfer"] in ours]) == 8
    signers = bundle / "attestations" / "allowed_signers"
    assert "k.tanaka@chikugo-print" in signers.read_text()
    for path in attestations:
        with path.open("rb") as message:
            proc = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", "k.tanaka@chikugo-print",
                                   "-n", "gateway-attestation", "-s", f"{path}.sig"], stdin=message,
                                  capture_output=True, text=True)
        assert proc.returncode == 0, (path.name, proc.stderr)
        assert "Good \"gateway-attestation\" signature for k.tanaka@chikugo-print" in proc.stdout + proc.stderr
        # Not the city's, not another handler's.
        with path.open("rb") as message:
            assert subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", "x.outsider@chikugo-print",
                                   "-n", "gateway-attestation", "-s", f"{path}.sig"], stdin=message,
                                  capture_output=True).returncode != 0


def test_the_auditor_verifies_them_and_reports_their_strength(world: World, bundle: Path) -> None:
    assert run_audit("verify", str(bundle), trust=city_policy(world.home)).returncode == 0
    report = json.loads(run_audit("report", str(bundle), "--json", trust=city_policy(world.home)).stdout)
    assert report["verified"] is True
    assert set(report["attestations"]["by_strength"]) == {"signed"}
    # The hand-overs were sent in 2020 and answered now, so deadlines were missed; nothing is forged.
    kinds = {f["kind"] for f in report["findings"] if not f["prevented"]}
    assert not kinds & {"evidence-forged", "log-tampered", "attestation-out-of-order", "receipt-mismatch"}, kinds
    transfers = {t["transfer"]: t for a in report["approval_summaries"] for t in a["transfers"]}
    for which in ("lgwan", "vpn"):
        t = transfers[world.transfers[which]["transfer"]]
        for group in ("receipts", "deletion_requests", "erasure_certificates", "deliverable_declarations"):
            (one,) = t[group]
            assert one["attested"]["strength"] == "signed" and one["attested"]["verified"] is True, (which, group)
            assert one["attested"]["signer"] == "k.tanaka@chikugo-print"


def test_a_scoped_bundle_carries_the_key_registrations_its_signatures_need(world: World, done: dict,
                                                                          tmp_path: Path) -> None:
    out = tmp_path / "scoped"
    run_gateway("export", "evidence", "--approval", "kurume-2020-teigaku", "-o", str(out))
    assert run_audit("verify", str(out), trust=city_policy(world.home)).returncode == 0
    assert list((out / "evidence").glob("key-registration-*.json"))


HEAVY = ("sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "argon2", "paramiko")
# The console script's entry point in a fresh interpreter, run for real; then which heavy
# packages it imported (as tests/test_cli_lazy.py does for `gateway package decrypt`).
_PROBE = """
import json, sys
from gateway.client.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "loaded": [m for m in %r if m in sys.modules]}))
""" % (HEAVY,)


@pytest.mark.parametrize("channel", ["portal", "sftp"])
def test_the_client_loads_no_database_or_server(world: World, channel: str) -> None:
    """`gateway-client` imports only what it needs: no database, no web framework or server, and
    paramiko only to speak SFTP."""
    import sys

    proc = subprocess.run([sys.executable, "-c", _PROBE, "list", *channel_args(world, channel), "--json"],
                          capture_output=True, text=True)
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["code"] == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[0])  # it listed the handler's transfers
    assert report["loaded"] == ([] if channel == "portal" else ["paramiko"])
