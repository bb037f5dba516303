"""What is due soon or overdue: the reminders staff see before a deadline passes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from gateway.service import Gateway
from gateway.store import models as m


@dataclass(frozen=True)
class Reminder:
    kind: str  # receipt | gateway-erasure | erasure-certificate
    transfer: str
    approval: str
    due: datetime
    overdue: bool


def reminders(gw: Gateway, *, within: timedelta) -> list[Reminder]:
    now = gw.clock.now()
    horizon = now + within
    out: list[Reminder] = []
    with gw.read() as session:  # a scan of every transfer: no write lock for it
        certified = set(session.scalars(
            select(m.ContractorDeletion.transfer_id).where(m.ContractorDeletion.state == "certified")))
        for t in session.scalars(select(m.Transfer)):
            if t.received_at is None and t.receipt_due <= horizon:
                out.append(Reminder("receipt", t.id, t.approval_id, t.receipt_due, t.receipt_due < now))
            if t.erased_at is None and t.gateway_erase_due <= horizon:
                out.append(Reminder("gateway-erasure", t.id, t.approval_id, t.gateway_erase_due,
                                    t.gateway_erase_due < now))
            due = t.contractor_deletion_due
            if due is not None and t.id not in certified and due <= horizon:
                out.append(Reminder("erasure-certificate", t.id, t.approval_id, due, due < now))
    return sorted(out, key=lambda r: r.due)


@dataclass(frozen=True)
class MediaReturn:
    """Courier media out of the city with a return deadline (the profile's `media_return_days`)."""

    item: str  # the media serial
    transfer: str
    approval: str
    city: str  # the sending organisation, where the media must come back to
    holder_org: str  # the organisation the last hand-over took it to
    due: datetime
    overdue: bool


def media_returns(gw: Gateway, *, within: timedelta) -> list[MediaReturn]:
    """Media not back by `within` from now, soonest first. An item is back when its last custody
    event took it to its own organisation; a lost item is an incident, reported as one, not a
    reminder. The deadline is the latest one a hand-over set (a relay to a subcontractor keeps it)."""
    from gateway.store.models_courier import CourierEvent, CourierItem

    now = gw.clock.now()
    horizon = now + within
    out: list[MediaReturn] = []
    with gw.read() as session:
        events: dict[str, list[CourierEvent]] = {}
        for e in session.scalars(select(CourierEvent).order_by(CourierEvent.id)):
            events.setdefault(e.item_id, []).append(e)
        rows = session.execute(select(CourierItem, m.Transfer).join(m.Transfer, m.Transfer.id == CourierItem.transfer_id)
                               .where(CourierItem.kind == "media"))
        for item, transfer in rows:
            chain = events.get(item.id, [])
            if not chain or chain[-1].event == "lost" or chain[-1].to_org == item.registered_org:
                continue
            due = next((e.return_due for e in reversed(chain) if e.return_due is not None), None)
            if due is not None and due <= horizon:
                out.append(MediaReturn(item.id, transfer.id, transfer.approval_id, item.registered_org,
                                       chain[-1].to_org or "", due, due < now))
    return sorted(out, key=lambda r: r.due)
