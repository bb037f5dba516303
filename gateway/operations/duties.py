"""Recording a contract duty done (an inspection, a training report, a pledge), and its status.

City staff or a security officer record it from the paper or visit (who did it, on which day,
with what); the record is signed evidence (`duty-record`). `status` lists every slot of every
duty with its due date and whether a record meets it: the reminders a person acts on.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from gateway.clock import timestamp
from gateway.core import duties as rules
from gateway.errors import Invalid
from gateway.operations.accounts import Caller
from gateway.operations.attempt import attempt
from gateway.operations.city_approval import own_approval
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.registry import get_approval

ACTION = "duty.record"
RECORDERS = ("staff", "security-officer")


# Komae 特記仕様書第7条 and the Shinjuku 再委託 form: what a subcontract application must state.
APPLICATION = ("reason", "content", "data", "supervision")


def record(gw: Gateway, caller: Caller, approval_id: str, duty_id: str, *, on: datetime, means: str,
           handler: str | None = None, application: dict[str, str] | None = None) -> str:
    with attempt(gw, caller, ACTION) as a, gw.unit() as session:
        user = a.user
        approval = own_approval(a, session, approval_id, RECORDERS,
                                ("契約上の義務の履行は市の職員又は情報セキュリティ担当が記録します。",
                                 "city staff or a security officer record the duties of the contract."))
        duty = approval.duty(duty_id)
        if duty is None:
            known = ", ".join(d.id for d in approval.duties) or "なし / none"
            raise Invalid(f"この承認に義務「{duty_id}」はありません（{known}）。",
                          f"approval '{approval.id}' has no duty '{duty_id}' ({known}).")
        if duty.every == "per-handler" and handler not in approval.all_handlers():
            raise Invalid("取扱者ごとの義務です。--handler に取扱者名簿の login を指定してください。",
                          "this duty is per handler: name a designated handler with --handler.")
        details = None
        if duty.kind == "subcontract-application":
            details = {k: (application or {}).get(k, "").strip() for k in APPLICATION}
            if not all(details.values()):
                raise Invalid("再委託の申請には理由・内容・取り扱う情報・監督の方法をすべて記入してください"
                              "（--reason --content --data --supervision）。",
                              "a subcontract application states its reason, content, data and supervision method "
                              "(--reason --content --data --supervision).")
        if on > gw.clock.now():
            raise Invalid("実施日が未来です。", "the date is in the future.")
        if not means.strip():
            raise Invalid("何によって確認したか（報告書、調査記録等）を記入してください。",
                          "say by what it is shown (a report, an inspection record, ...).")
        _, document = gw.ledger.record(session, a.event(
            reason=f"duty {duty.id} ({duty.kind}) done on {timestamp(on)}" + (f" by {handler}" if handler else ""),
            evidence_type="duty-record",
            evidence={"duty": duty.id, "kind": duty.kind, "on": timestamp(on), "handler": handler,
                      "means": means.strip(), "recorded_by": {"user": user.login, "org": user.organisation_id},
                      **({"application": details} if details else {})},
        ))
        assert document is not None
        return str(document["id"])


@dataclass(frozen=True)
class SlotStatus:
    approval: str
    slot: rules.Slot
    kind: str
    met: bool
    overdue: bool


def status(gw: Gateway, approval_id: str, now: datetime | None = None) -> list[SlotStatus]:
    now = now or gw.clock.now()
    with gw.read() as session:
        approval = get_approval(session, approval_id)
        done: dict[str, list[tuple[datetime, str | None]]] = {}
        for body in session.scalars(select(m.EvidenceDocument.body).where(
                m.EvidenceDocument.type == "duty-record", m.EvidenceDocument.approval_id == approval.id)):
            doc = json.loads(body)
            on = datetime.fromisoformat(str(doc.get("on", "")).replace("Z", "+00:00")) if doc.get("on") else None
            if on is not None:
                done.setdefault(str(doc.get("duty")), []).append((on, doc.get("handler")))
    start, end = approval.duty_window
    out = []
    for duty in approval.duties:
        for slot in rules.slots(duty, start, end, approval.all_handlers()):
            ok = rules.met(slot, done.get(duty.id, []))
            out.append(SlotStatus(approval.id, slot, duty.kind, ok, not ok and slot.due < now))
    return out
