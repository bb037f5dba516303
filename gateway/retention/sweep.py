"""The retention sweep: erase every copy the gateway holds past its window, and prove it.

For each expired package, in one transaction: destroy the wrapped data key, delete the file, fsync
its directory, check the file is gone, and write the `gateway-erasure` evidence with how it was
verified. The transaction commits only after the file is gone, so a sweep killed at any point
leaves either the untouched package (key and file) or a finished erasure, except in one window:
killed after the file was deleted but before the commit, the key survives a file that does not —
the next sweep sees the package still due, destroys the key, finds the file already absent, and
says so in the evidence. Files no blob row can open (a send rolled back after writing its
package) are removed too: they were unreadable from the start.

After its erasures the sweep rotates the key-encryption key once (gateway.kek_rotation):
the old wrapped keys that SQLite's pages and WAL, PostgreSQL's dead rows and WAL, and backups
still hold are then under a destroyed key. A sweep killed before or during the rotation leaves
it due, and the next sweep (with or without erasures of its own) completes it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from gateway import kek_rotation
from gateway.ledger.log import Event
from gateway.operations.erasure import SWEEPER, erase_copy
from gateway.operations.workarea import ORPHAN_GRACE_SECONDS, remove_dead_temporaries
from gateway.service import Gateway
from gateway.store import faultpoints
from gateway.store import models as m
from gateway.store.blobs import BlobStore


@dataclass
class SweepResult:
    erased: list[str] = field(default_factory=list)  # transfer ids
    orphans_removed: int = 0
    temporaries_removed: int = 0
    rotation: kek_rotation.Rotation | None = None


def sweep(gw: Gateway, *, now: datetime | None = None, lookahead: timedelta = timedelta(0)) -> SweepResult:
    """Erase what is due by `now + lookahead`. A scheduler that runs every few minutes passes its
    interval as the lookahead, so a copy goes up to one interval early, never late."""
    now = now or gw.clock.now()
    blobs = gw.blobs()
    result = SweepResult()
    with gw.unit() as session:
        due = list(session.scalars(
            select(m.Transfer.id).where(m.Transfer.erased_at.is_(None),
                                        m.Transfer.gateway_erase_due <= now + lookahead)
            .order_by(m.Transfer.gateway_erase_due)
        ))
    for transfer_id in due:
        if erase_copy(gw, blobs, transfer_id, now):
            result.erased.append(transfer_id)
    result.orphans_removed = _remove_unreadable_files(gw, blobs)
    result.temporaries_removed = len(remove_dead_temporaries(blobs.root))
    faultpoints.reached("sweep:before-rotation")
    # A removed orphan's key was wrapped in a transaction that rolled back, yet may sit in the WAL.
    result.rotation = kek_rotation.rotate(gw.engine, gw.ledger, blobs.keyring, now=now,
                                          force=result.orphans_removed > 0)
    return result


def _remove_unreadable_files(gw: Gateway, blobs: BlobStore) -> int:
    # A send writes its file before its row commits: only files older than any send can take
    # are orphans. File times are real times, whatever the service clock says.
    cutoff = time.time() - ORPHAN_GRACE_SECONDS
    on_disk = set(blobs.older_than(cutoff))
    if not on_disk:
        return 0
    with gw.unit() as session:
        readable = set(session.scalars(select(m.Blob.id).where(m.Blob.wrapped_key.is_not(None))))
    removed = 0
    for blob_id in sorted(on_disk - readable):
        if blobs.remove_file(blob_id):
            removed += 1
    if removed:
        gw.record(Event(action="blob.cleanup", channel="system", actor=SWEEPER,
                        reason=f"removed {removed} files whose data key does not exist"))
    return removed
