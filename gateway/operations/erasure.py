"""Crypto-erasing one transfer's package at the gateway, with its signed `gateway-erasure` evidence,
in one transaction (see retention/sweep.py for the crash windows): the retention sweep at the end of
the window, at once on receipt where the approval wants the copy gone (Kurume AI-OCR: 「可能な限り即時
削除」), and at once when a second check rejects a send or a send is recalled.
"""
from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway.clock import timestamp
from gateway.core.transfers import next_state
from gateway.ledger.log import Actor, Event
from gateway.service import Gateway
from gateway.store import faultpoints
from gateway.store import models as m
from gateway.store.blobs import BlobStore

METHOD = "cryptographic erase of the data key and file deletion"
SWEEPER = Actor(user=None, org=None, role="system")


def erase_on_receipt(gw: Gateway, transfer_id: str) -> bool:
    """Erase one transfer's copy now: its approval wants it gone as soon as the contractor has
    confirmed receipt (Kurume AI-OCR: 「可能な限り即時削除」); its deadline was set to that moment."""
    return erase_copy(gw, gw.blobs(), transfer_id, gw.clock.now(),
                      why="erased on receipt, as the approval asks (retention.erase_on_receipt)")


def erase_copy(gw: Gateway, blobs: BlobStore, transfer_id: str, now: datetime, why: str | None = None) -> bool:
    """The sweep's (or the receipt's) erasure of one copy in a transaction of its own; False when
    another sweep got there first."""
    with gw.unit() as session:
        transfer = session.get(m.Transfer, transfer_id, with_for_update=True)
        if transfer is None or transfer.erased_at is not None:
            return False
        erase_in(gw, blobs, session, transfer, now, event="erase",
                 reason=why or f"retention window ended {timestamp(transfer.gateway_erase_due)}",
                 entry={"action": "transfer.erase", "channel": "system", "actor": SWEEPER},
                 program="gateway retention sweep" if why is None else "gateway receipt")
    return True


def erase_in(gw: Gateway, blobs: BlobStore, session: Session, transfer: m.Transfer, now: datetime, *,
             event: str, reason: str, entry: dict[str, Any], program: str) -> None:
    """Crypto-erase `transfer`'s package inside `session` and write its `gateway-erasure`
    evidence. `entry` names the log entry's action, channel and actor."""
    blob_id = transfer.package_blob_id
    file_present = blobs.exists(blob_id)
    blobs.crypto_erase(session, blob_id, at=now)
    gone = blobs.remove_file(blob_id)
    if not gone:
        raise OSError(f"blob file {blob_id} is still present after deletion")
    faultpoints.reached("sweep:after-file")  # the file gone, the key's destruction not committed
    transfer.state = next_state(transfer.state, event)
    transfer.erased_at = now
    transfer.updated_at = now
    gw.ledger.record(session, Event(
        **entry, approval=transfer.approval_id,
        transfer=transfer.id, blob_sha256=transfer.package_sha256,
        reason=reason,
        evidence_type="gateway-erasure",
        evidence={
            "transfer": transfer.id,
            "blob_sha256": transfer.package_sha256,
            "method": METHOD,
            "erased_at": timestamp(now),
            "due": timestamp(transfer.gateway_erase_due),
            "process": {"host": socket.gethostname(), "pid": os.getpid(), "program": program},
            "verified_by": (
                "wrapped data key deleted from the database; file unlinked, directory fsynced, path checked absent"
                if file_present else
                "wrapped data key deleted from the database; file already absent (removed by an interrupted sweep)"
            ),
        },
    ))
