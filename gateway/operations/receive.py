"""The contractor's side: downloading a package and confirming its receipt.

Only a designated handler of the approval, in the receiving organisation, may touch a package;
every attempt, allowed or refused, is logged with how the caller was identified.
"""
from __future__ import annotations

import re
from datetime import timedelta
from dataclasses import dataclass
from typing import BinaryIO

from gateway.core.transfers import next_state
from gateway.crypto.keystore import KeyStore
from gateway.errors import GatewayError
from gateway.ledger.log import Actor, Event
from gateway.operations.accounts import Caller, account, actor, is_designated
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.blobs import BlobErased, BlobStore
from gateway.store.registry import get_approval

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Receipt:
    transfer: str
    matches: bool
    evidence: str


def _authorised(gw: Gateway, caller: Caller, transfer_id: str, action: str) -> tuple[m.Transfer, Actor]:
    """The transfer, if the caller may act on it; otherwise the refusal is logged and raised."""
    with gw.read() as session:
        user = account(session, caller.login)
        who = actor(user, caller)
        transfer = session.get(m.Transfer, transfer_id)
        # Another organisation's transfer looks exactly like a missing one: ids reveal nothing.
        if transfer is None or transfer.recipient_organisation_id != user.organisation_id:
            refusal = ("unknown-transfer", GatewayError(
                f"受け渡し「{transfer_id}」は見つかりません。", f"no transfer '{transfer_id}' for your organisation."))
        elif not is_designated(get_approval(session, transfer.approval_id), user):
            refusal = ("non-designated-handler", GatewayError(
                "あなたはこの承認の取扱者名簿に載っていないため、このデータを扱えません。取扱責任者に確認してください。",
                "you are not on this approval's list of designated handlers; ask your responsible handler.",
                kind="non-designated-handler"))
        else:
            session.expunge(transfer)
            return transfer, who
    kind, err = refusal
    gw.record(Event(action=action, channel=caller.channel, actor=who, source=caller.source,
                    approval=transfer.approval_id if transfer is not None and kind != "unknown-transfer" else None,
                    transfer=transfer_id if kind != "unknown-transfer" else None, outcome="refused",
                    kinds=(kind,) if kind == "non-designated-handler" else (), reason=err.en))
    raise err


def download(gw: Gateway, caller: Caller, transfer_id: str, dst: BinaryIO) -> m.Transfer:
    """Stream the age package to `dst`. Refused after the gateway's copy was erased."""
    transfer, who = _authorised(gw, caller, transfer_id, "transfer.download")
    blobs = BlobStore(gw.home.blobs, KeyStore(gw.home.keys).kek())
    try:
        with gw.read() as session:
            key = blobs.data_key(session, transfer.package_blob_id)
        blobs.copy_out(transfer.package_blob_id, key, dst)
        # A buffering destination (the portal's pipe) hands over its last bytes before the log
        # says done; others (the SFTP spool, a hashing writer) have no flush and need none.
        if callable(flush := getattr(dst, "flush", None)):
            flush()
        with gw.unit() as session:
            row = session.get(m.Transfer, transfer_id, with_for_update=True)
            assert row is not None
            row.state = next_state(row.state, "download")
            row.updated_at = gw.clock.now()
            gw.ledger.record(session, Event(
                action="transfer.download", channel=caller.channel, actor=who, source=caller.source,
                approval=transfer.approval_id, transfer=transfer_id, blob_sha256=transfer.package_sha256,
                reason=f"{transfer.record_count} records",
            ))
    except BlobErased as err:
        gw.record(Event(action="transfer.download", channel=caller.channel, actor=who, source=caller.source,
                        approval=transfer.approval_id, transfer=transfer_id, outcome="refused",
                        kinds=("access-after-deletion",), reason=err.en))
        raise
    return transfer


def confirm_receipt(gw: Gateway, caller: Caller, transfer_id: str, *, record_count: int, sha256: str) -> Receipt:
    """Record what the contractor decrypted. A mismatch is recorded as such, never accepted."""
    sha256 = sha256.strip().lower()
    if not _SHA256.match(sha256) or record_count < 0:
        raise GatewayError(
            "SHA-256 は 16 進 64 文字、件数は 0 以上の整数で入力してください。",
            "enter the SHA-256 as 64 hex digits and the record count as a whole number.",
        )
    transfer, who = _authorised(gw, caller, transfer_id, "transfer.receipt")
    matches = record_count == transfer.record_count and sha256 == transfer.plaintext_sha256
    with gw.unit() as session:
        row = session.get(m.Transfer, transfer_id, with_for_update=True)
        assert row is not None
        row.state = next_state(row.state, "receipt-match" if matches else "receipt-mismatch")
        now = gw.clock.now()
        row.updated_at = now
        if matches:
            row.received_at = now
            # The approval's window counts from receipt: now that it is known, the copy may have
            # to go sooner than the bound fixed at sending. Never later.
            days = get_approval(session, row.approval_id).retention.gateway_days
            if days is not None:
                row.gateway_erase_due = min(row.gateway_erase_due, now + timedelta(days=days))
        _, document = gw.ledger.record(session, Event(
            action="transfer.receipt", channel=caller.channel, actor=who, source=caller.source,
            approval=transfer.approval_id, transfer=transfer_id,
            reason=None if matches else "record count or SHA-256 differs from the manifest",
            evidence_type="receipt",
            evidence={
                "transfer": transfer_id,
                "confirmed_by": {"user": who.user, "org": who.org},
                "record_count": record_count,
                "sha256": sha256,
                "matches": matches,
            },
        ))
    assert document is not None
    return Receipt(transfer_id, matches, document["id"])
