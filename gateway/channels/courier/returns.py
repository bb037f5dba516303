"""Returns: media and password notices come back to the sending organisation after delivery.

Seed 004: 「納品完了後、データ媒体、パスワード通知書を返却させる」, each return written in the
確認書 like the hand-over. A return is a custody event `return` to a person of the sending
organisation; the profile's `media_return_days` after the hand-over is its deadline (the hand-over
record carries it as `return_due`), and media not back by then are `media-not-returned`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from gateway.channels.courier.custody import Handover, Recorded, context, record_event
from gateway.core import custody as rules
from gateway.operations.accounts import Caller, account
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_courier import CourierEvent, CourierItem


def return_item(gw: Gateway, caller: Caller, req: Handover) -> Recorded:
    """Record the return (same 確認書 fields as a hand-over); a late return is recorded, not refused:
    the record must say what happened, and the auditor reports the delay."""
    return record_event(gw, caller, req, "return")


@dataclass(frozen=True)
class Outstanding:
    item: str
    kind: str
    transfer: str
    holder: rules.Party | None
    due: datetime
    overdue: bool


def outstanding(gw: Gateway, caller: Caller, now: datetime | None = None) -> list[Outstanding]:
    """Items out of their sending organisation with a return deadline, soonest first."""
    now = now or gw.clock.now()
    out: list[Outstanding] = []
    with gw.unit() as session:
        user = account(session, caller.login)
        query = select(CourierItem.id).join(m.Transfer, m.Transfer.id == CourierItem.transfer_id)
        if user.role not in ("security-officer", "admin"):
            query = query.where((m.Transfer.sender_organisation_id == user.organisation_id)
                                | (m.Transfer.recipient_organisation_id == user.organisation_id))
        for item_id in list(session.scalars(query)):
            ctx = context(session, item_id, lock=False, create=False)
            held = rules.holding(ctx.item, ctx.records)
            if held.lost or held.holder is None or held.holder.org == ctx.transfer.sender_organisation_id:
                continue
            due = session.scalar(select(CourierEvent.return_due).where(
                CourierEvent.item_id == item_id, CourierEvent.return_due.is_not(None)).order_by(CourierEvent.id.desc()))
            if due is not None:
                out.append(Outstanding(item_id, ctx.row.kind, ctx.transfer.id, held.holder, due, due < now))
    return sorted(out, key=lambda o: o.due)
