"""Recall and emergency erasure (issue 20, item 3): a wrong send taken back at once.

Before anyone downloaded it, the package is crypto-erased at once and the contractor no longer
sees the transfer. After a download, the gateway's copy is erased as well, and the contractor
gets an urgent deletion deadline (`[recall] deletion_hours`) and an incident whose report is due
by the same deadline. Each recall is a signed `recall` document; the auditor lists them per approval.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from gateway.clock import timestamp
from gateway.errors import Conflict, Forbidden, Invalid, NotFound
from gateway.operations import incidents
from gateway.operations.accounts import Caller
from gateway.operations.attempt import attempt
from gateway.operations.erasure import erase_in
from gateway.operations.receive import first_download
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_second_check import SecondCheck

MAX_REASON = 2000


@dataclass(frozen=True)
class Recalled:
    transfer: str
    downloaded: bool
    evidence: str
    deletion_due: str | None  # the contractor's urgent deadline, after a download
    incident: str | None


def recall(gw: Gateway, caller: Caller, transfer_id: str, *, reason: str) -> Recalled:
    with attempt(gw, caller, "transfer.recall", transfer=transfer_id) as a:
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON:
            raise Invalid(f"回収の理由（--reason）を 1〜{MAX_REASON} 文字で書いてください。",
                          f"give the reason for the recall (--reason) in 1 to {MAX_REASON} characters.")
        if a.user.role not in ("staff", "security-officer"):
            raise Forbidden("回収は送付元の市の職員だけができます。", "only the sending city's staff may recall a transfer.")
        with gw.read() as session:
            row = session.get(m.Transfer, transfer_id)
            if row is None or row.sender_organisation_id != a.user.organisation_id:
                raise NotFound(f"受け渡し「{transfer_id}」は見つかりません。", f"no transfer '{transfer_id}' of your city.")
            a.approval = row.approval_id
            if row.state in ("recalled", "rejected"):
                raise Conflict("この受け渡しは既に回収又は差戻し済みです。", "this transfer was already recalled or rejected.")
            recipient = row.recipient_organisation_id
        downloaded_at = first_download(gw, transfer_id)
        if row.erased_at is not None and downloaded_at is None and row.channel != "courier":
            raise Conflict("この受け渡しは既に消去されており、誰もダウンロードしていません。回収するものはありません。",
                           "this transfer was already erased and never downloaded: there is nothing to recall.")
        # Courier media left the gateway on a disk: treat it as delivered, like a download.
        delivered = downloaded_at is not None or row.channel == "courier" and row.state != "pending-check"
        now = gw.clock.now()
        blobs = gw.blobs()
        deletion_due = now + timedelta(hours=gw.settings.recall.deletion_hours) if delivered else None
        incident_id = None
        with gw.unit() as session:
            t = session.get(m.Transfer, transfer_id, with_for_update=True)
            assert t is not None
            if t.erased_at is None:
                # Recalled before delivery it disappears for the contractor; after, they still see
                # it, to file the erasure of their copies.
                erase_in(gw, blobs, session, t, now, event="erase" if delivered else "recall", reason=f"recalled by the city: {reason}",
                         entry={"action": "transfer.erase", "channel": a.channel, "actor": a.actor},
                         program="gateway transfer recall")
            else:
                t.updated_at = now
            held = session.get(SecondCheck, transfer_id)
            if held is not None and held.held_secret_blob_id is not None:
                blobs.crypto_erase(session, held.held_secret_blob_id, at=now)
                blobs.remove_file(held.held_secret_blob_id)
                held.held_secret_blob_id = None
            if deletion_due is not None:
                t.contractor_deletion_due = min(t.contractor_deletion_due or deletion_due, deletion_due)
                incident_id = incidents.record_in(
                    session, a, city=t.sender_organisation_id, approval=t.approval_id, transfer=t.id,
                    facts=incidents.Facts(
                        content=f"誤送付等による回収 / recall of a transfer: {reason}", records=t.record_count,
                        place=f"受託者 {recipient} / at the contractor {recipient}",
                        circumstances=f"受託者がダウンロード済みのデータを市が回収 / recalled after the contractor "
                                      f"received it ({timestamp(downloaded_at) if downloaded_at else 'on media'})",
                        occurred_at=now),
                    contractor_org=recipient, report_due=deletion_due)
            _, document = gw.ledger.record(session, a.event(
                reason=f"recalled: {reason}", evidence_type="recall",
                evidence={"transfer": transfer_id, "reason": reason, "recalled_at": timestamp(now),
                          "recalled_by": {"user": a.user.login, "org": a.user.organisation_id},
                          "downloaded": delivered,
                          "downloaded_at": timestamp(downloaded_at) if downloaded_at else None,
                          "contractor_deletion_due": timestamp(deletion_due) if deletion_due else None,
                          "incident": incident_id}))
        assert document is not None
        return Recalled(transfer_id, delivered, str(document["id"]),
                        timestamp(deletion_due) if deletion_due else None, incident_id)
