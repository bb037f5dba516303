"""The contractor's side: downloading a package and confirming its receipt.

Only a designated handler of the approval, in the receiving organisation, may touch a package;
every attempt, allowed or refused, is logged with how the caller was identified.
"""
from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from sqlalchemy import select

from gateway.attestations.document import RECEIPT
from gateway.clock import timestamp
from gateway.core.transfers import next_state, refuse_if_held
from gateway.errors import Forbidden, Invalid, NotFound, Refused
from gateway.findings import Kind
from gateway.operations import downloads
from gateway.operations.accounts import Caller, is_designated
from gateway.operations.attempt import Attempt, attempt
from gateway.operations.attested import Accepted, Attested, default_for
from gateway.service import Gateway
from gateway.store import faultpoints
from gateway.store import models as m
from gateway.store.blobs import BlobErased, BlobIntegrityFailure, BlobStore
from gateway.store.registry import get_approval

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Receipt:
    transfer: str
    matches: bool
    evidence: str


def authorised(a: Attempt, transfer_id: str) -> m.Transfer:
    """The transfer, if the attempt's caller may act on it as a designated handler of the receiving
    organisation; the attempt learns its approval and transfer once the caller may know of them."""
    with a.gw.read() as session:
        transfer = session.get(m.Transfer, transfer_id)
        # Another organisation's transfer looks exactly like a missing one: ids reveal nothing.
        if transfer is None or transfer.recipient_organisation_id != a.user.organisation_id:
            raise NotFound(f"受け渡し「{transfer_id}」は見つかりません。",
                           f"no transfer '{transfer_id}' for your organisation.")
        a.approval, a.transfer = transfer.approval_id, transfer_id
        if not is_designated(get_approval(session, transfer.approval_id), a.user):
            raise Forbidden(
                "あなたはこの承認の取扱者名簿に載っていないため、このデータを扱えません。取扱責任者に確認してください。",
                "you are not on this approval's list of designated handlers; ask your responsible handler.",
                kinds=[Kind.NON_DESIGNATED_HANDLER])
        refuse_if_held(transfer.state)
        session.expunge(transfer)
        return transfer


def may_download(gw: Gateway, caller: Caller, transfer_id: str) -> int:
    """Whether `download` would start: the caller is a designated handler and the gateway's copy
    still exists. Refusals are logged as `download` logs them; allowing logs nothing, since nothing
    has left the gateway yet (a channel that opens before it reads: SFTP). Returns the package's
    size in bytes."""
    with attempt(gw, caller, "transfer.download") as a:
        transfer = authorised(a, transfer_id)
        blobs = gw.blobs()
        with gw.read() as session:
            blobs.data_key(session, transfer.package_blob_id)  # refuses once erased
            blob = session.get(m.Blob, transfer.package_blob_id)
            assert blob is not None
        downloads.check(a, transfer)
        return blob.size


def download(gw: Gateway, caller: Caller, transfer_id: str, dst: BinaryIO) -> m.Transfer:
    """Stream the age package to `dst`. Refused after the gateway's copy was erased."""
    with attempt(gw, caller, "transfer.download") as a:
        transfer = authorised(a, transfer_id)
        blobs = gw.blobs()
        with gw.read() as session:
            key = blobs.data_key(session, transfer.package_blob_id)
        downloads.begin(a, transfer)  # from here the download holds a place under the limit
        try:
            _stream(gw, blobs, transfer, key, dst)
        except BaseException:
            # It did not complete: its place is free, a retry is used. If even that cannot be
            # written, the place stays taken (never a copy too many) and the cause is raised.
            with contextlib.suppress(Exception), gw.unit() as session:
                downloads.broke(session, transfer_id)
            raise
        faultpoints.reached("download:before-log")
        # A destination that knows what reached the client (the SFTP spool, which clients read at
        # offsets of their choosing) says so once the client is done: only all of it is a download.
        if callable(delivered := getattr(dst, "delivered", None)):
            got, size = delivered()
            if got < size:
                with gw.unit() as session:
                    gw.ledger.record(session, a.event(
                        outcome="failed", blob_sha256=transfer.package_sha256,
                        reason=f"interrupted: {got} of {size} bytes reached the client; not a download"))
                    downloads.broke(session, transfer_id)
                return transfer
        with gw.unit() as session:
            row = session.get(m.Transfer, transfer_id, with_for_update=True)
            assert row is not None
            row.state = next_state(row.state, "download")
            row.updated_at = gw.clock.now()
            gw.ledger.record(session, a.event(blob_sha256=transfer.package_sha256,
                                              reason=f"{transfer.record_count} records"))
    return transfer


def _stream(gw: Gateway, blobs: BlobStore, transfer: m.Transfer, key: bytes, dst: BinaryIO) -> None:
    try:
        blobs.copy_out(transfer.package_blob_id, key, dst)
    except BlobIntegrityFailure:
        # A sweep killed between deleting the file and destroying the key leaves exactly
        # this for a copy past its window: that copy was erased, on time.
        if transfer.gateway_erase_due <= gw.clock.now():
            raise BlobErased(transfer.package_blob_id) from None
        raise
    # A buffering destination (the portal's pipe) hands over its last bytes before the log
    # says done; others (the SFTP spool, a hashing writer) have no flush and need none.
    if callable(flush := getattr(dst, "flush", None)):
        flush()


def confirm_receipt(gw: Gateway, caller: Caller, transfer_id: str, *, record_count: int, sha256: str,
                    attested: Attested | None = None) -> Receipt:
    """Record what the contractor decrypted. A mismatch is recorded as such, never accepted.

    `attested` says how the receipt is the contractor's own (gateway.operations.attested):
    signed with their key, filed from their terminal (the default for a terminal's caller), or
    entered from their paper by an operator. A receipt dated before the download it confirms is
    refused (`attestation-out-of-order`)."""
    sha256 = sha256.strip().lower()
    with attempt(gw, caller, "transfer.receipt") as a:
        if not _SHA256.match(sha256) or record_count < 0:
            raise Invalid(
                "SHA-256 は 16 進 64 文字、件数は 0 以上の整数で入力してください。",
                "enter the SHA-256 as 64 hex digits and the record count as a whole number.",
            )
        transfer = authorised(a, transfer_id)
        accepted = (attested or default_for(a)).check(a, RECEIPT, transfer.id, transfer.approval_id)
        downloaded_at = first_download(gw, transfer.id)
        if accepted.dated < (downloaded_at or transfer.sent_at):
            raise Refused.one(
                Kind.ATTESTATION_OUT_OF_ORDER,
                "受領確認の日時が、確認するデータの受け取り（ダウンロード）より前になっています。受け取った後の日時で提出してください。",
                "the receipt is dated before the download it confirms; file it with a date after you received the data.")
        return _record_receipt(a, transfer, record_count, sha256, accepted, downloaded_at)


def first_download(gw: Gateway, transfer_id: str) -> datetime | None:
    """When the package was first downloaded (what a receipt confirms), or None (courier media)."""
    with gw.read() as session:
        return session.scalar(select(m.LogEntry.at).where(
            m.LogEntry.transfer_id == transfer_id, m.LogEntry.action == "transfer.download",
            m.LogEntry.outcome == "ok").order_by(m.LogEntry.seq).limit(1))


def _record_receipt(a: Attempt, transfer: m.Transfer, record_count: int, sha256: str, accepted: Accepted,
                    downloaded_at: datetime | None) -> Receipt:
    gw, transfer_id, who = a.gw, transfer.id, a.actor
    matches = record_count == transfer.record_count and sha256 == transfer.plaintext_sha256
    with gw.unit() as session:
        row = session.get(m.Transfer, transfer_id, with_for_update=True)
        assert row is not None
        row.state = next_state(row.state, "receipt-match" if matches else "receipt-mismatch")
        now = gw.clock.now()
        row.updated_at = now
        erase_now = False
        if matches:
            row.received_at = now
            # The approval's window counts from receipt: now that it is known, the copy may have
            # to go sooner than the bound fixed at sending. Never later.
            retention = get_approval(session, row.approval_id).retention
            if retention.gateway_days is not None:
                row.gateway_erase_due = min(row.gateway_erase_due, now + timedelta(days=retention.gateway_days))
            if retention.erase_on_receipt:
                row.gateway_erase_due = now
            erase_now = retention.erase_on_receipt
        _, document = gw.ledger.record(session, a.event(
            reason=None if matches else "record count or SHA-256 differs from the manifest",
            evidence_type="receipt",
            evidence={
                "transfer": transfer_id,
                "confirmed_by": {"user": who.user, "org": who.org},
                "record_count": record_count,
                "sha256": sha256,
                "matches": matches,
                "downloaded_at": timestamp(downloaded_at) if downloaded_at else None,
                "attested": accepted.member,
            },
        ))
        assert document is not None
        accepted.keep(session, document)
    if matches and erase_now:
        from gateway.operations.erasure import erase_on_receipt

        erase_on_receipt(gw, transfer_id)
    return Receipt(transfer_id, matches, document["id"])
