"""Deliverables a contractor returns under a transfer (proofs, lists of returned mail): stored
encrypted at rest like packages, only from designated handlers of the receiving organisation."""
from __future__ import annotations

import uuid
from pathlib import Path

from gateway.crypto.keystore import KeyStore
from gateway.crypto.sealed import SealedFile
from gateway.operations.accounts import Caller
from gateway.operations.attempt import attempt
from gateway.operations.receive import authorised
from gateway.service import Gateway
from gateway.store.blobs import BlobStore
from gateway.store.models_deliverables import Deliverable

ACTION = "deliverable.upload"


def authorise(gw: Gateway, caller: Caller, transfer_id: str) -> str:
    """The transfer's approval, if the caller may deliver under it: a designated handler of the
    receiving organisation. Otherwise the refusal is logged (another organisation's transfer looks
    like a missing one; a non-designated handler is `non-designated-handler`) and raised. Channels
    call this before they accept the first byte of an upload."""
    with attempt(gw, caller, ACTION) as a:
        return authorised(a, transfer_id).approval_id


def upload(gw: Gateway, caller: Caller, transfer_id: str, name: str, path: Path | SealedFile) -> str:
    with attempt(gw, caller, ACTION) as a:
        authorised(a, transfer_id)
        blobs = BlobStore(gw.home.blobs, KeyStore(gw.home.keys).kek())
        deliverable_id = f"DL-{uuid.uuid4().hex[:12]}"
        # Encrypted before the transaction, so the write lock is held only for the rows (see send._store).
        with path.open("rb") as src, blobs.staged(src, at=gw.clock.now()) as blob, gw.unit() as session:
            session.add(blob)
            session.add(Deliverable(id=deliverable_id, transfer_id=transfer_id, name=name, blob_id=blob.id,
                                    sha256=blob.sha256, size=blob.size, uploaded_by=a.user.login,
                                    uploaded_at=gw.clock.now()))
            gw.ledger.record(session, a.event(blob_sha256=blob.sha256, reason=f"{name!r}, {blob.size} bytes"))
    return deliverable_id
