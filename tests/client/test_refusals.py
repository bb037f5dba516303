"""What the gateway refuses from a client, over either channel, before recording anything: a forged
document, a replayed one (again, or its signature on another transfer), another namespace's
signature, a key that is not the signer's, a revoked key, no signature at all, a receipt dated
before its download, a clock ahead of the gateway's. Each refusal is one log entry."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paramiko
import pytest
from sqlalchemy import func, select

from gateway.attestations import document as d
from gateway.attestations import sshsig
from gateway.client import acts
from gateway.client.portal import PortalChannel, terminal_context
from gateway.client.sftp import SftpChannel, host_key_check
from gateway.client.signer import load
from gateway.errors import Category, GatewayError
from gateway.store import models as m
from tests.client.conftest import PASSWORD, World, keypair
from tests.conftest import city_policy, run_audit, run_gateway

pytestmark = [pytest.mark.interop]


def open_channel(world: World, kind: str, login: str = "k.tanaka", key: Path | None = None) -> Any:
    if kind == "portal":
        ctx, cn, _ = terminal_context(world.p12[login].read_bytes(), world.p12_password[login].read_bytes())
        assert cn == login
        return PortalChannel(world.portal, ctx, login, PASSWORD.encode())
    host, port = world.sftp.split(":")
    return SftpChannel(host, int(port), login, paramiko.PKey.from_path(key or world.keys[login]),
                       host_key_check(host, int(port), world.host_key.read_text(), None))


@pytest.fixture(params=["portal", "sftp"])
def channel(request: pytest.FixtureRequest, world: World) -> Iterator[Any]:
    ch = open_channel(world, request.param)
    yield ch
    ch.close()


MINE: dict[str, dict] = {}  # this module's own hand-overs, so its receipts leave the others' alone


def transfer_of(world: World, ch: Any) -> dict:
    return MINE["lgwan" if isinstance(ch, PortalChannel) else "vpn"]


def receipt(world: World, ch: Any, *, key: Path | None = None, at: datetime | None = None, **changes: Any) -> d.Envelope:
    t = transfer_of(world, ch)
    signer = load(key or world.keys["k.tanaka"])
    doc = d.new(d.RECEIPT, transfer=t["transfer"], signer="k.tanaka", at=at or datetime.now(UTC),
                record_count=500, sha256=t["sha256"], package_sha256=t["package_sha256"])
    return d.sign({**doc, **changes}, signer.key) if changes else d.sign(doc, signer.key)


def deletion_request(world: World, ch: Any, key: Path) -> d.Envelope:
    return d.sign(d.new(d.DELETION_REQUEST, transfer=transfer_of(world, ch)["transfer"], signer="k.tanaka",
                        at=datetime.now(UTC), items="作業データ", media="ノート PC", quantity=1,
                        method="暗号消去", planned_date="2020-09-10"), load(key).key)


def refused_entries(world: World) -> int:
    with world.gw.read() as s:
        return int(s.scalar(select(func.count()).select_from(m.LogEntry).where(m.LogEntry.outcome == "refused")) or 0)


def refused(world: World, ch: Any, envelope: d.Envelope, category: Category, kind: str | None = None) -> GatewayError:
    before = refused_entries(world)
    with pytest.raises(GatewayError) as caught:
        ch.file(envelope)
    assert caught.value.category is category, caught.value
    if kind is not None:
        assert kind in caught.value.kinds
    assert refused_entries(world) == before + 1  # logged, once
    return caught.value


@pytest.fixture(scope="module", autouse=True)
def downloaded(world: World, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A hand-over of each channel, downloaded once (a receipt confirms a download), no receipt yet."""
    out = tmp_path_factory.mktemp("downloads")
    MINE.update(lgwan=world.send("lgwan-asp"), vpn=world.send("vpn-sftp"))
    for which, kind in (("lgwan", "portal"), ("vpn", "sftp")):
        ch = open_channel(world, kind)
        try:
            acts.receive(ch, load(world.keys["k.tanaka"]), MINE[which]["transfer"], out / which,
                         MINE[which]["passphrase"].encode(), clock=_RealClock(), file_receipt=False)
        finally:
            ch.close()


class _RealClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def test_a_forged_document_is_refused(world: World, channel: Any) -> None:
    good = receipt(world, channel)
    forged = d.Envelope({**good.document, "record_count": 499}, good.signature)
    err = refused(world, channel, forged, Category.UNAUTHENTICATED)
    assert "signature does not verify" in err.en


def test_a_replayed_attestation_is_refused(world: World, channel: Any) -> None:
    once = receipt(world, channel)
    assert channel.file(once)["matches"] is True
    refused(world, channel, once, Category.CONFLICT)


def test_a_signature_moved_to_another_transfer_is_refused(world: World, channel: Any) -> None:
    other = MINE["vpn" if isinstance(channel, PortalChannel) else "lgwan"]
    mine = receipt(world, channel)
    moved = d.Envelope({**mine.document, "transfer": other["transfer"]}, mine.signature)
    refused(world, channel, moved, Category.UNAUTHENTICATED)


def test_a_signature_for_another_namespace_is_refused(world: World, channel: Any) -> None:
    doc = receipt(world, channel).document
    key = load(world.keys["k.tanaka"]).key
    err = refused(world, channel, d.Envelope(doc, sshsig.sign(key, d.data(doc), "file")), Category.UNAUTHENTICATED)
    assert "another purpose" in err.en


def test_someone_elses_key_is_refused(world: World, channel: Any) -> None:
    """x.outsider's registered key, or a key nobody registered, cannot sign what k.tanaka files."""
    refused(world, channel, receipt(world, channel, key=world.keys["x.outsider"]), Category.FORBIDDEN)
    stranger = keypair(world.root, f"stranger-{id(channel)}")
    refused(world, channel, receipt(world, channel, key=stranger), Category.FORBIDDEN)


def test_an_unsigned_attestation_is_refused(world: World, channel: Any) -> None:
    doc = receipt(world, channel).document
    refused(world, channel, d.Envelope(doc, ""), Category.INVALID)


def test_a_receipt_dated_before_its_download_is_refused(world: World, channel: Any) -> None:
    early = receipt(world, channel, at=datetime.now(UTC) - timedelta(days=1))
    refused(world, channel, early, Category.REFUSED, "attestation-out-of-order")


def test_a_signature_dated_ahead_of_the_gateways_clock_is_refused(world: World, channel: Any) -> None:
    ahead = receipt(world, channel, at=datetime.now(UTC) + timedelta(hours=1))
    err = refused(world, channel, ahead, Category.INVALID)
    assert "clock" in err.en


def test_a_revoked_key_can_no_longer_sign_or_log_in(world: World, tmp_path: Path) -> None:
    """What the key signed while it was valid stays valid; after its revocation it signs nothing
    and logs in nowhere, and the auditor still verifies the bundle."""
    laptop = keypair(tmp_path, "k.tanaka-laptop")
    run_gateway("user", "add-key", "k.tanaka", f"{laptop}.pub")
    ch = open_channel(world, "sftp", key=laptop)
    try:
        assert ch.file(deletion_request(world, ch, laptop))["deletion"].startswith("D-")
    finally:
        ch.close()
    fingerprint = load(laptop).fingerprint
    run_gateway("user", "revoke-key", "k.tanaka", fingerprint)
    portal = open_channel(world, "portal")
    try:
        refused(world, portal, deletion_request(world, portal, laptop), Category.FORBIDDEN)
    finally:
        portal.close()
    with pytest.raises(GatewayError) as caught:
        open_channel(world, "sftp", key=laptop)
    assert caught.value.category is Category.UNAUTHENTICATED
    bundle = tmp_path / "bundle"
    run_gateway("export", "evidence", "-o", str(bundle))
    assert run_audit("verify", str(bundle), trust=city_policy(world.home)).returncode == 0
    signers = (bundle / "attestations" / "allowed_signers").read_text()
    assert f"{fingerprint}: registered" in signers and "revoked" in signers
    revocation = next(json.loads(p.read_text()) for p in (bundle / "evidence").glob("key-revocation-*.json"))
    assert revocation["fingerprint"] == fingerprint and revocation["principal"] == "k.tanaka@chikugo-print"
