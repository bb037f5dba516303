"""Deliverables a contractor returns under a transfer (proofs, lists of returned mail): stored
encrypted at rest like packages, only from designated handlers of the receiving organisation."""
from __future__ import annotations

import uuid
from pathlib import Path

from gateway.crypto.keystore import KeyStore
from gateway.errors import GatewayError
from gateway.ledger.log import Event
from gateway.operations.accounts import Caller, account, actor, is_designated
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.blobs import BlobStore
from gateway.store.models_sftp import Deliverable
from gateway.store.registry import get_approval


def upload(gw: Gateway, caller: Caller, transfer_id: str, name: str, path: Path) -> str:
    with gw.unit() as session:
        user = account(session, caller.login)
        who = actor(user, caller)
        transfer = session.get(m.Transfer, transfer_id)
        allowed = (transfer is not None and transfer.recipient_organisation_id == user.organisation_id
                   and is_designated(get_approval(session, transfer.approval_id), user))
        approval_id = transfer.approval_id if transfer is not None and allowed else None
    if not allowed:
        gw.record(Event(action="deliverable.upload", channel=caller.channel, actor=who, source=caller.source,
                        outcome="refused", reason=f"no transfer {transfer_id!r} this handler may deliver under"))
        raise GatewayError(f"受け渡し「{transfer_id}」への納品はできません。",
                           f"you cannot deliver under transfer '{transfer_id}'.")
    blobs = BlobStore(gw.home.blobs, KeyStore(gw.home.keys).kek())
    deliverable_id = f"DL-{uuid.uuid4().hex[:12]}"
    with gw.unit() as session, path.open("rb") as src:
        blob = blobs.put(session, src, at=gw.clock.now())
        session.add(Deliverable(id=deliverable_id, transfer_id=transfer_id, name=name, blob_id=blob.id,
                                sha256=blob.sha256, size=blob.size, uploaded_by=user.login,
                                uploaded_at=gw.clock.now()))
        gw.ledger.record(session, Event(
            action="deliverable.upload", channel=caller.channel, actor=who, source=caller.source,
            approval=approval_id, transfer=transfer_id, blob_sha256=blob.sha256,
            reason=f"{name!r}, {blob.size} bytes",
        ))
    return deliverable_id
