"""Crypto-erasing one transfer's package at the gateway, with its signed `gateway-erasure` evidence:
the retention sweep at the end of the window, and at once when a second check rejects a send.
"""
from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway.clock import timestamp
from gateway.core.transfers import next_state
from gateway.ledger.log import Event
from gateway.service import Gateway
from gateway.store import faultpoints
from gateway.store import models as m
from gateway.store.blobs import BlobStore

METHOD = "cryptographic erase of the data key and file deletion"


def erase_in(gw: Gateway, blobs: BlobStore, session: Session, transfer: m.Transfer, now: datetime, *,
             event: str, reason: str, entry: dict[str, Any], program: str) -> None:
    """Crypto-erase `transfer`'s package inside `session` and write its `gateway-erasure`
    evidence: the sweep's at the end of the window, and a check's rejection or a recall at once.
    `entry` names the log entry's action, channel and actor."""
    blob_id = transfer.package_blob_id
    file_present = blobs.path(blob_id).exists()
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
