"""Sending: a recipient file becomes an encrypted package for one recipient under one approval.

One streaming pass validates the file and writes its minimised copy (approved columns only,
excluded persons removed) into the private work area; the policy decides on what the pass saw;
the copy is encrypted to an age package under a fresh passphrase, the plaintext copy is deleted,
and the package is stored encrypted at rest. The transfer row, its log entry and its signed
evidence are written in one transaction. A refusal writes only its log entry.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

from gateway.core.deadlines import deadlines
from gateway.core.policy import Decision, HandOver, Refusal, decide
from gateway.core.profiles import CHANNELS
from gateway.core.records.manifest import Manifest
from gateway.core.records.reader import minimise
from gateway.crypto import age, passphrase
from gateway.crypto.keystore import KeyStore
from gateway.errors import GatewayError
from gateway.clock import timestamp
from gateway.ledger.log import Event
from gateway.operations.accounts import Caller, account, actor
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.blobs import BlobStore
from gateway.store.registry import get_approval, get_profile

# scrypt work factor of packages: 2^18 costs about 1 s and 256 MiB, as `age` itself uses.
WORK_FACTOR = int(os.environ.get("GATEWAY_SCRYPT_WORK_FACTOR", age.DEFAULT_WORK_FACTOR))


@dataclass(frozen=True)
class SendRequest:
    file: Path
    approval: str
    profile: str
    recipient: str
    password_delivery: str
    parent_transfer: str | None = None  # a contractor relaying a package it received


@dataclass(frozen=True)
class Sent:
    transfer: str
    passphrase: str  # shown once, for the password notice; never stored
    source: Manifest
    sent: Manifest
    package_sha256: str
    evidence: str

    def __repr__(self) -> str:
        return f"Sent(transfer={self.transfer!r})"


class TransferRefused(GatewayError):
    def __init__(self, refusals: tuple[Refusal, ...]) -> None:
        super().__init__(
            "\n".join(f"[{r.kind}] {r.ja}" for r in refusals),
            "\n".join(f"[{r.kind}] {r.en}" for r in refusals),
            kind=refusals[0].kind,
        )
        self.refusals = refusals


def send(gw: Gateway, caller: Caller, req: SendRequest) -> Sent:
    with gw.unit() as session:
        user = account(session, caller.login)
        who = actor(user, caller)
        approval = get_approval(session, req.approval)
        profile = get_profile(session, req.profile)
    at = gw.clock.now()
    work = gw.home.root / "work"
    work.mkdir(mode=0o700, exist_ok=True)
    token = secrets.token_hex(8)
    plain, package = work / f"{token}.csv", work / f"{token}.age"
    remove = {e.population for e in approval.excluded if e.handling == "remove"}
    try:
        try:
            source, sent = minimise(req.file, plain, fields=[f for f in approval.fields], remove=remove)
        except GatewayError as err:
            gw.record(Event(action="transfer.send", channel=caller.channel, actor=who, source=caller.source,
                            approval=approval.id, outcome="refused", reason=err.en))
            raise
        decision = decide(HandOver(
            approval=approval, profile=profile, sender_org=user.organisation_id, sender_role=user.role,
            recipient=req.recipient, at=at, columns=source.columns, record_count=source.record_count,
            excluded=dict(source.excluded),
            # The CLI and the hot folder are ways in for staff, not data channels: the profile's applies.
            channel=caller.channel if caller.channel in CHANNELS else None,
            password_delivery=req.password_delivery,
        ))
        if not decision.allowed:
            _refuse(gw, caller, who, approval.id, decision)
        secret = passphrase.generate()
        digest = age.encrypt_file(plain, package, passphrase=secret, work_factor=WORK_FACTOR)
        assert digest.sha256 == sent.sha256, "the package holds exactly the minimised file"
        _discard(plain)  # the plaintext copy exists only until it is encrypted
        transfer_id = f"T{at:%Y%m%d}-{uuid.uuid4().hex[:10]}"
        due = deadlines(approval, profile, at)
        blobs = BlobStore(gw.home.blobs, KeyStore(gw.home.keys).kek())
        with gw.unit() as session, package.open("rb") as pkg:
            blob = blobs.put(session, pkg, at=at)
            session.add(m.Transfer(
                id=transfer_id, approval_id=approval.id, profile_id=profile.id, channel=profile.channel,
                sender_user_id=user.id, sender_organisation_id=user.organisation_id,
                recipient_organisation_id=req.recipient, parent_transfer_id=req.parent_transfer, state="sent",
                record_count=sent.record_count, plaintext_sha256=sent.sha256, manifest=sent.to_dict(),
                package_blob_id=blob.id, package_sha256=blob.sha256,
                passphrase_verifier=passphrase.make_verifier(secret), sent_at=at,
                receipt_due=due.receipt_due, gateway_erase_due=due.gateway_erase_due,
                contractor_deletion_due=due.contractor_deletion_due, updated_at=at,
            ))
            session.flush()
            _, document = gw.ledger.record(session, Event(
                action="transfer.send", channel=caller.channel, actor=who, source=caller.source,
                approval=approval.id, transfer=transfer_id, blob_sha256=blob.sha256,
                reason=_removed_reason(decision, source),
                evidence_type="transfer",
                evidence={
                    "transfer": transfer_id,
                    "profile": profile.id,
                    "channel": profile.channel,
                    "sender": {"user": user.login, "org": user.organisation_id},
                    "recipient": {"org": req.recipient},
                    "parent_transfer": req.parent_transfer,
                    "manifest": {
                        "record_count": sent.record_count,
                        "columns": list(sent.columns),
                        "sha256": sent.sha256,
                        "size_bytes": sent.size_bytes,
                        "removed": dict(sent.removed),
                        "source_sha256": source.sha256,
                        "source_record_count": source.record_count,
                    },
                    "package_sha256": blob.sha256,
                    "sent_at": timestamp(at),
                    "receipt_due": timestamp(due.receipt_due),
                    "gateway_erase_due": timestamp(due.gateway_erase_due),
                    "contractor_deletion_due": timestamp(due.contractor_deletion_due)
                    if due.contractor_deletion_due else None,
                },
            ))
        assert document is not None
        return Sent(transfer_id, secret, source, sent, blob.sha256, document["id"])
    finally:
        _discard(plain)
        _discard(package)


def _refuse(gw: Gateway, caller: Caller, who, approval_id: str, decision: Decision) -> None:  # type: ignore[no-untyped-def]
    gw.record(Event(
        action="transfer.send", channel=caller.channel, actor=who, source=caller.source, approval=approval_id,
        outcome="refused", kinds=decision.kinds, reason=" / ".join(r.en for r in decision.refusals),
    ))
    raise TransferRefused(decision.refusals)


def _removed_reason(decision: Decision, source: Manifest) -> str | None:
    if not decision.remove:
        return None
    counts = ", ".join(f"{p}: {source.excluded.get(p, 0)}" for p in sorted(decision.remove))
    return f"excluded persons removed before sending ({counts})"


def _discard(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
