"""Deliverables a contractor returns under a transfer (proofs, lists of returned mail): stored
encrypted at rest like packages, only from designated handlers of the receiving organisation."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from gateway.attestations.document import DELIVERABLE
from gateway.errors import NotFound
from gateway.operations.accounts import Caller
from gateway.operations.attempt import attempt
from gateway.operations.attested import Attested
from gateway.operations.receive import authorised
from gateway.service import Gateway
from gateway.store.blob_writer import BlobWriter
from gateway.store.models_deliverables import Deliverable

ACTION = "deliverable.upload"


def authorise(gw: Gateway, caller: Caller, transfer_id: str) -> str:
    """The transfer's approval, if the caller may deliver under it: a designated handler of the
    receiving organisation. Otherwise the refusal is logged (another organisation's transfer looks
    like a missing one; a non-designated handler is `non-designated-handler`) and raised. Channels
    call this before they accept the first byte of an upload."""
    with attempt(gw, caller, ACTION) as a:
        return authorised(a, transfer_id).approval_id


def upload(gw: Gateway, caller: Caller, transfer_id: str, name: str, blob_writer: BlobWriter) -> str:
    """Record a deliverable from the blob writer it went into as it arrived (portal or SFTP),
    which is finished here. A refusal leaves the writer unfinished, for its owner to discard."""
    with attempt(gw, caller, ACTION) as a:
        authorised(a, transfer_id)
        blobs = gw.blobs()
        deliverable_id = f"DL-{uuid.uuid4().hex[:12]}"
        # Encrypted before the transaction, so the write lock is held only for the rows (see send._store).
        with blobs.staged(blob_writer, at=gw.clock.now()) as blob, gw.unit() as session:
            session.add(blob)
            session.add(Deliverable(id=deliverable_id, transfer_id=transfer_id, name=name, blob_id=blob.id,
                                    sha256=blob.sha256, size=blob.size, uploaded_by=a.user.login,
                                    uploaded_at=gw.clock.now()))
            gw.ledger.record(session, a.event(blob_sha256=blob.sha256, reason=f"{name!r}, {blob.size} bytes"))
    return deliverable_id


def declare(gw: Gateway, caller: Caller, transfer_id: str, *, name: str, sha256: str, size: int,
            attested: Attested) -> str:
    """The contractor's signed statement of what it delivered: a deliverable it uploaded under this
    transfer, named by its SHA-256 and size. Returns the evidence document's id."""
    with attempt(gw, caller, "deliverable.declare") as a:
        transfer = authorised(a, transfer_id)
        accepted = attested.check(a, DELIVERABLE, transfer_id, transfer.approval_id)
        with gw.unit() as session:
            row = session.scalar(select(Deliverable).where(
                Deliverable.transfer_id == transfer_id, Deliverable.sha256 == sha256, Deliverable.size == size,
                Deliverable.uploaded_by == a.user.login).order_by(Deliverable.uploaded_at.desc()).limit(1))
            if row is None:
                raise NotFound("申告された納品物（SHA-256 と大きさ）は、この受け渡しに納品されていません。先に納品してください。",
                               "no deliverable with this SHA-256 and size was delivered under this transfer; "
                               "deliver the file first.")
            _, document = gw.ledger.record(session, a.event(
                blob_sha256=sha256, reason=f"declared {row.id} ({name!r})", evidence_type="deliverable-declaration",
                evidence={"transfer": transfer_id, "deliverable": row.id, "name": name, "sha256": sha256,
                          "size": size, "declared_by": {"user": a.actor.user, "org": a.actor.org},
                          "attested": accepted.member}))
            assert document is not None
            accepted.keep(session, document)
            return str(document["id"])
