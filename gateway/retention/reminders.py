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
