"""When a case is closed: the rule that decides how long its log entries and evidence must stay.

An approval is closed when its period has ended and each of its transfers is closed; a transfer is
closed when the gateway's copy is erased, the contractor's erasure certificate is filed where the
approval requires one, courier media expected back have come back, and every deliverable the
contractor returned is erased. It closed at the latest of those events and deadlines. An approval
that is not closed (a live case, or an unresolved deletion-overdue) holds its entries for as long
as it stays open.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.clock import timestamp, to_jst
from gateway.store import models as m
from gateway.store.models_courier import CourierEvent, CourierItem
from gateway.store.models_deliverables import Deliverable


@dataclass(frozen=True)
class Hold:
    ja: str
    en: str


@dataclass
class Holds:
    approvals: dict[str, Hold] = field(default_factory=dict)   # approval id -> why its entries stay
    transfer_approval: dict[str, str] = field(default_factory=dict)


def _latest(first: datetime, *others: datetime | None) -> datetime:
    return max([first, *(t for t in others if t is not None)])


def holds(session: Session, now: datetime, start: datetime) -> Holds:
    """Every approval whose entries must stay at `now` for a window starting at `start`."""
    out = Holds()
    closing: dict[str, datetime] = {}
    open_: dict[str, Hold] = {}
    for approval_id, period_end in session.execute(select(m.Approval.id, m.Approval.period_end)):
        closing[approval_id] = period_end
        if period_end > now:
            open_[approval_id] = Hold(f"承認 {approval_id} の期間が終わっていません",
                                      f"the period of approval {approval_id} has not ended")
    certified = dict(session.execute(
        select(m.ContractorDeletion.transfer_id, func.max(m.ContractorDeletion.updated_at))
        .where(m.ContractorDeletion.state == "certified").group_by(m.ContractorDeletion.transfer_id)).all())
    for t in session.execute(select(m.Transfer.id, m.Transfer.approval_id, m.Transfer.sent_at, m.Transfer.received_at,
                                    m.Transfer.erased_at, m.Transfer.gateway_erase_due,
                                    m.Transfer.contractor_deletion_due)):
        out.transfer_approval[t.id] = t.approval_id
        closing[t.approval_id] = _latest(closing[t.approval_id], t.sent_at, t.received_at, t.erased_at,
                                         t.gateway_erase_due, t.contractor_deletion_due, certified.get(t.id))
        if t.erased_at is None:
            open_.setdefault(t.approval_id, Hold(f"受渡し {t.id} のゲートウェイ上の複製が消去されていません",
                                                 f"the gateway's copy of transfer {t.id} is not erased"))
        elif t.contractor_deletion_due is not None and t.id not in certified:
            open_.setdefault(t.approval_id, Hold(f"受渡し {t.id} の受託者の消去証明書が提出されていません",
                                                 f"the contractor has not certified erasure for transfer {t.id}"))
    for transfer_id, uploaded_at, erased_at in session.execute(
            select(Deliverable.transfer_id, Deliverable.uploaded_at, m.Blob.erased_at)
            .join(m.Blob, m.Blob.id == Deliverable.blob_id, isouter=True)):
        delivered_under = out.transfer_approval.get(transfer_id)
        if delivered_under is None:
            continue
        closing[delivered_under] = _latest(closing[delivered_under], uploaded_at, erased_at)
        if erased_at is None:
            open_.setdefault(delivered_under, Hold(f"受渡し {transfer_id} の納品物が消去されていません",
                                               f"a deliverable of transfer {transfer_id} is not erased"))
    last_event: dict[str, Any] = {}
    for e in session.execute(select(CourierEvent.item_id, CourierEvent.event, CourierEvent.to_org, CourierEvent.at,
                                    CourierEvent.return_due).order_by(CourierEvent.id)):
        last_event[e.item_id] = e
    for item in session.execute(select(CourierItem.id, CourierItem.kind, CourierItem.transfer_id,
                                       CourierItem.registered_org)):
        carried_under = out.transfer_approval.get(item.transfer_id)
        last = last_event.get(item.id)
        if carried_under is None or last is None:
            continue
        closing[carried_under] = _latest(closing[carried_under], last.at, last.return_due)
        if item.kind == "media" and last.event == "handover" and last.return_due is not None \
                and last.to_org != item.registered_org:
            open_.setdefault(carried_under, Hold(f"媒体 {item.id} が返却されていません",
                                               f"media {item.id} has not come back"))
    out.approvals.update(open_)
    for approval_id, closed in closing.items():
        if approval_id not in open_ and closed >= start:
            out.approvals[approval_id] = Hold(
                f"承認 {approval_id} は {to_jst(closed):%Y-%m-%d %H:%M} JST に完結し、まだ保存期間内です",
                f"approval {approval_id} closed at {timestamp(closed)}, within the window")
    return out


