"""納品: the contractor delivers the sealed printed notices back to the city, as a 確認書 entry.

Seed 004 (Shinjuku NHI): 「委託先が封入封緘された通知書等を区の職員に納品する時は、区の職員が、日時、
取扱者、情報の内容、数量を確認書に記録し、履歴を追跡できるようにする。」 and 「納品完了後、データを
消去させ、データ消去報告書を提出させる。」「納品完了後、データ媒体、パスワード通知書を返却させる。」

City staff of the sending organisation record it (date and time, the contractor's handler, content,
quantity, place); a completed delivery starts the approval's after-delivery deadlines, which bring
the transfer's erasure deadline forward and are written into the signed `delivery` evidence, so the
auditor can derive them again from the approval in the bundle.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from gateway.clock import timestamp, to_jst
from gateway.core.deadlines import after_delivery
from gateway.errors import Conflict, Forbidden, Invalid, NotFound, Refusal, Refused
from gateway.findings import Kind
from gateway.operations.accounts import Caller, is_designated
from gateway.operations.attempt import attempt
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.registry import get_approval

ACTION = "delivery.record"


@dataclass(frozen=True)
class Delivery:
    """One 納品 as the 確認書 records it."""

    transfer: str
    frm: str  # login of the contractor's handler who delivers
    to: str  # login of the city's staff member who receives
    place: str
    content: str  # 情報の内容: what was delivered (e.g. 封入封緘済み通知書)
    quantity: int  # 数量: pieces delivered
    at: datetime | None = None  # when; now by default
    complete: bool = True  # 納品完了: the last delivery of the transfer's print run


@dataclass(frozen=True)
class Recorded:
    evidence: str
    deletion_due: datetime | None
    return_due: datetime | None


def record_delivery(gw: Gateway, caller: Caller, req: Delivery) -> Recorded:
    with attempt(gw, caller, ACTION) as a, gw.unit() as session:
        transfer = session.get(m.Transfer, req.transfer, with_for_update=True)
        recorder = a.user
        # The city keeps the 確認書: a transfer of another organisation looks like a missing one.
        if transfer is None or transfer.sender_organisation_id != recorder.organisation_id:
            raise NotFound(f"受け渡し「{req.transfer}」は見つかりません。",
                           f"no transfer '{req.transfer}' sent by your organisation.")
        a.approval, a.transfer = transfer.approval_id, transfer.id
        if recorder.role != "staff":
            raise Forbidden("納品の確認書は送付元の職員が記録します。", "city staff of the sending organisation record a delivery.")
        approval = get_approval(session, transfer.approval_id)
        now = gw.clock.now()
        at = req.at or now
        giver = session.scalar(select(m.User).where(m.User.login == req.frm))
        taker = session.scalar(select(m.User).where(m.User.login == req.to))
        problems: list[Refusal] = []
        if giver is None or giver.organisation_id != transfer.recipient_organisation_id \
                or not is_designated(approval, giver):
            problems.append(Refusal(Kind.NON_DESIGNATED_HANDLER,
                                    f"「{req.frm}」は提供先（{transfer.recipient_organisation_id}）の取扱者名簿に載っていません。",
                                    f"'{req.frm}' is not a designated handler of '{transfer.recipient_organisation_id}'."))
        if taker is None or taker.disabled or taker.role != "staff" \
                or taker.organisation_id != transfer.sender_organisation_id:
            problems.append(Refusal(None, f"受け取る人「{req.to}」は送付元の職員ではありません。",
                                    f"receiver '{req.to}' is not staff of the sending organisation."))
        if problems:
            raise Refused(problems)
        if transfer.received_at is None:
            raise Conflict("受領確認の前の納品は記録できません。先に受領確認を記録してください。",
                           "the contractor has not confirmed receipt; a delivery cannot come before it.")
        if not (transfer.sent_at <= at <= now):
            raise Invalid(f"納品日時 {to_jst(at):%Y-%m-%d %H:%M} JST は送付から現在までの間にしてください。",
                          "the delivery time must lie between the sending and now.")
        if req.quantity < 1 or not req.place.strip() or not req.content.strip():
            raise Invalid("確認書には数量（1 以上）、場所、情報の内容を記入してください。",
                          "a delivery record needs a quantity (1 or more), a place and the content.")
        due = after_delivery(approval, at) if req.complete else None
        deletion_due = due.deletion_due if due else None
        if deletion_due is not None and (transfer.contractor_deletion_due is None
                                         or deletion_due < transfer.contractor_deletion_due):
            transfer.contractor_deletion_due = deletion_due  # reminders and closure follow the earlier one
        evidence = {
            "transfer": transfer.id,
            "from": {"person": req.frm, "org": transfer.recipient_organisation_id},
            "to": {"person": req.to, "org": transfer.sender_organisation_id},
            "at": timestamp(at),
            "place": req.place.strip(),
            "content": req.content.strip(),
            "quantity": req.quantity,
            "complete": req.complete,
            "deletion_due": timestamp(deletion_due) if deletion_due else None,
            "return_due": timestamp(due.return_due) if due and due.return_due else None,
            "recorded_by": {"user": recorder.login, "org": recorder.organisation_id},
        }
        _, document = gw.ledger.record(session, a.event(
            reason=f"delivery of {req.quantity} ({req.content.strip()}) from {req.frm} to {req.to}",
            evidence_type="delivery", evidence=evidence,
        ))
        assert document is not None
        return Recorded(str(document["id"]), deletion_due, due.return_due if due else None)
