"""Incidents on every channel (issue 20, item 4): the record (内容・件数・発生場所・発生状況, who
reported it, when), the city's instruction (甲の指示) and its deadline, the 公表 decision, and the
closure. Each step is a signed `incident` evidence document.

The contractor files its own report (gateway-client, portal); the city records one it learnt of
itself, and may then name the contractor whose report is due by a deadline (a recall after a
download opens one so). The auditor finds instructions not done by their deadline
(`instruction-overdue`) and contractors' reports that never came (`incident-unreported`).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import timestamp
from gateway.errors import Conflict, Forbidden, Invalid, NotFound
from gateway.operations.accounts import Caller, is_designated
from gateway.operations.attempt import Attempt, attempt
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_incidents import Incident
from gateway.store.registry import get_approval

MAX_TEXT = 4000
CITY_ROLES = ("staff", "security-officer", "admin")


@dataclass(frozen=True)
class Facts:
    """What an incident report says: 内容・件数・発生場所・発生状況 and when it happened."""

    content: str
    records: int
    place: str
    circumstances: str
    occurred_at: datetime

    def check(self) -> Facts:
        texts = {"内容 / content": self.content, "発生場所 / place": self.place,
                 "発生状況 / circumstances": self.circumstances}
        for label, value in texts.items():
            if not value.strip() or len(value) > MAX_TEXT:
                raise Invalid(f"{label.split(' / ')[0]}を 1〜{MAX_TEXT} 文字で書いてください。",
                              f"give the {label.split(' / ')[1]} in 1 to {MAX_TEXT} characters.")
        if self.records < 0 or self.records > 1_000_000_000:
            raise Invalid("件数は 0 以上の整数で書いてください。", "give the record count as a whole number, 0 or more.")
        return self


def record_in(session: Session, a: Attempt, *, city: str, approval: str | None, transfer: str | None, facts: Facts,
              contractor_org: str | None = None, report_due: datetime | None = None) -> str:
    """A new incident inside the caller's transaction (a recall opens one with its own change)."""
    now = a.gw.clock.now()
    incident_id = f"I{now:%Y%m%d}-{uuid.uuid4().hex[:10]}"
    if a.user.role == "contractor":  # the contractor's own report: theirs to follow up
        contractor_org = a.user.organisation_id
    session.add(Incident(
        id=incident_id, city_id=city, approval_id=approval, transfer_id=transfer, content=facts.content,
        records=facts.records, place=facts.place, circumstances=facts.circumstances, occurred_at=facts.occurred_at,
        reported_by=a.user.login, reporter_org=a.user.organisation_id, reported_at=now,
        contractor_org=contractor_org, contractor_report_due=report_due,
        contractor_reported_at=now if a.user.role == "contractor" else None))
    _evidence(session, a, incident_id, city, approval, transfer, "reported", {
        "content": facts.content, "records": facts.records, "place": facts.place,
        "circumstances": facts.circumstances, "occurred_at": timestamp(facts.occurred_at),
        "by": _by(a), "source": "contractor" if a.user.role == "contractor" else "city",
        "contractor": contractor_org, "contractor_report_due": timestamp(report_due) if report_due else None})
    return incident_id


def report(gw: Gateway, caller: Caller, facts: Facts, *, transfer: str | None = None, approval: str | None = None,
           incident: str | None = None, contractor_org: str | None = None,
           report_due: datetime | None = None) -> str:
    """File an incident: a contractor's handler about a transfer (or answering the city's open
    incident), or city staff about anything of their city's."""
    with attempt(gw, caller, "incident.report", transfer=transfer, approval=approval) as a:
        facts.check()
        if a.user.role == "contractor":
            return _contractor_report(a, facts, transfer, incident)
        if a.user.role not in CITY_ROLES:
            raise Forbidden("事故の報告は市の職員又は受託者の取扱者が行います。", "incidents are filed by city staff or handlers.")
        city = a.user.organisation_id
        with gw.read() as session:
            if transfer is not None:
                row = session.get(m.Transfer, transfer)
                if row is None or row.sender_organisation_id != city:
                    raise NotFound(f"受け渡し「{transfer}」は見つかりません。", f"no transfer '{transfer}'.")
                approval = row.approval_id
            if approval is not None:
                found = session.get(m.Approval, approval)
                if found is None or found.city_id != city:
                    raise NotFound(f"承認「{approval}」は見つかりません。", f"no approval '{approval}' of your city.")
        if (contractor_org is None) != (report_due is None):
            raise Invalid("受託者の報告を求めるなら、受託者と期限を両方指定してください。",
                          "to ask for the contractor's report, name both the contractor and the deadline.")
        a.approval = approval
        with gw.unit() as session:
            return record_in(session, a, city=city, approval=approval, transfer=transfer, facts=facts,
                             contractor_org=contractor_org, report_due=report_due)


def _contractor_report(a: Attempt, facts: Facts, transfer: str | None, incident: str | None) -> str:
    gw = a.gw
    with gw.read() as session:
        if incident is not None:
            open_one = session.get(Incident, incident)
            if open_one is None or open_one.contractor_org != a.user.organisation_id:
                raise NotFound(f"事故「{incident}」は見つかりません。", f"no incident '{incident}' for your organisation.")
            transfer = transfer or open_one.transfer_id
        if transfer is None:
            raise Invalid("受託者の報告には、受け渡し（--transfer）を指定してください。",
                          "a contractor's report names the transfer it concerns (--transfer).")
        row = session.get(m.Transfer, transfer)
        if row is None or row.recipient_organisation_id != a.user.organisation_id \
                or not is_designated(get_approval(session, row.approval_id), a.user):
            raise NotFound(f"受け渡し「{transfer}」は見つかりません。", f"no transfer '{transfer}' of yours.")
        city, approval = row.sender_organisation_id, row.approval_id
    a.transfer, a.approval = transfer, approval
    with gw.unit() as session:
        if incident is None:
            return record_in(session, a, city=city, approval=approval, transfer=transfer, facts=facts)
        held = session.get(Incident, incident, with_for_update=True)
        assert held is not None
        held.contractor_reported_at = gw.clock.now()
        _evidence(session, a, incident, city, approval, transfer, "contractor-report", {
            "content": facts.content, "records": facts.records, "place": facts.place,
            "circumstances": facts.circumstances, "occurred_at": timestamp(facts.occurred_at), "by": _by(a)})
        return incident


def instruct(gw: Gateway, caller: Caller, incident_id: str, *, instruction: str, due: datetime) -> None:
    """The city's instruction (甲の指示) and its deadline."""
    with attempt(gw, caller, "incident.instruct") as a:
        if not instruction.strip() or len(instruction) > MAX_TEXT:
            raise Invalid(f"指示を 1〜{MAX_TEXT} 文字で書いてください。", f"give the instruction in 1 to {MAX_TEXT} characters.")
        if due <= gw.clock.now():
            raise Invalid("指示の期限は現在より後にしてください。", "the instruction's deadline must be in the future.")
        _city_change(a, incident_id, "instructed", {"instruction": instruction, "due": timestamp(due)},
                     instruction=instruction, instruction_due=due)


def instruction_done(gw: Gateway, caller: Caller, incident_id: str, *, note: str) -> None:
    """The contractor (or the city for it) says the instruction was carried out."""
    with attempt(gw, caller, "incident.done") as a:
        if not note.strip() or len(note) > MAX_TEXT:
            raise Invalid(f"実施内容を 1〜{MAX_TEXT} 文字で書いてください。", f"say what was done in 1 to {MAX_TEXT} characters.")
        with gw.unit() as session:
            row = _mine(a, session, incident_id, contractor_may=True)
            if row.instruction is None or row.instruction_done_at is not None:
                raise Conflict("この事故には実施を待つ指示がありません。", "this incident has no instruction waiting to be done.")
            row.instruction_done_at = gw.clock.now()
            _evidence(session, a, row.id, row.city_id, row.approval_id, row.transfer_id, "instruction-done",
                      {"note": note, "by": _by(a), "instruction_due": timestamp(row.instruction_due)
                       if row.instruction_due else None})


def publication(gw: Gateway, caller: Caller, incident_id: str, *, publish: bool, reason: str) -> None:
    """The city's decision whether to make the incident public (公表)."""
    with attempt(gw, caller, "incident.publication") as a:
        if not reason.strip() or len(reason) > MAX_TEXT:
            raise Invalid(f"判断の理由を 1〜{MAX_TEXT} 文字で書いてください。", f"give the reason in 1 to {MAX_TEXT} characters.")
        decision = "publish" if publish else "withhold"
        _city_change(a, incident_id, "publication", {"decision": decision, "reason": reason},
                     publication=decision, publication_reason=reason)


def close(gw: Gateway, caller: Caller, incident_id: str, *, summary: str) -> None:
    with attempt(gw, caller, "incident.close") as a:
        if not summary.strip() or len(summary) > MAX_TEXT:
            raise Invalid(f"結果を 1〜{MAX_TEXT} 文字で書いてください。", f"give the outcome in 1 to {MAX_TEXT} characters.")
        with gw.read() as session:
            row = _mine(a, session, incident_id, contractor_may=False)
            if row.instruction is not None and row.instruction_done_at is None:
                raise Conflict("指示がまだ実施されていないため、閉じられません。",
                               "the instruction has not been carried out yet; the incident cannot be closed.")
        _city_change(a, incident_id, "closed", {"summary": summary}, closure=summary, closed_at=gw.clock.now())


def listing(gw: Gateway, caller: Caller) -> list[dict[str, Any]]:
    with attempt(gw, caller, "incident.list") as a, gw.read() as session:
        org = a.user.organisation_id
        q = select(Incident).order_by(Incident.reported_at)
        q = q.where(Incident.contractor_org == org) if a.user.role == "contractor" else q.where(Incident.city_id == org)
        return [as_json(r) for r in session.scalars(q)]


def show(gw: Gateway, caller: Caller, incident_id: str) -> dict[str, Any]:
    with attempt(gw, caller, "incident.show") as a, gw.read() as session:
        return as_json(_mine(a, session, incident_id, contractor_may=True))


def as_json(r: Incident) -> dict[str, Any]:
    def t(v: datetime | None) -> str | None:
        return timestamp(v) if v is not None else None

    return {"incident": r.id, "city": r.city_id, "approval": r.approval_id, "transfer": r.transfer_id,
            "content": r.content, "records": r.records, "place": r.place, "circumstances": r.circumstances,
            "occurred_at": t(r.occurred_at), "reported_by": r.reported_by, "reporter_org": r.reporter_org,
            "reported_at": t(r.reported_at), "contractor": r.contractor_org,
            "contractor_report_due": t(r.contractor_report_due), "contractor_reported_at": t(r.contractor_reported_at),
            "instruction": r.instruction, "instruction_due": t(r.instruction_due),
            "instruction_done_at": t(r.instruction_done_at), "publication": r.publication,
            "publication_reason": r.publication_reason, "closed_at": t(r.closed_at), "closure": r.closure}


def _mine(a: Attempt, session: Session, incident_id: str, *, contractor_may: bool) -> Incident:
    row = session.get(Incident, incident_id)
    org = a.user.organisation_id
    if row is None or (row.city_id != org and not (contractor_may and row.contractor_org == org)) \
            or (a.user.role == "contractor" and row.contractor_org != org):
        raise NotFound(f"事故「{incident_id}」は見つかりません。", f"no incident '{incident_id}'.")
    a.approval, a.transfer = row.approval_id, row.transfer_id
    return row


def _city_change(a: Attempt, incident_id: str, event: str, members: dict[str, Any], **changes: Any) -> None:
    if a.user.role not in CITY_ROLES:
        raise Forbidden("この操作は市の職員だけができます。", "only the city's staff may do this.")
    with a.gw.unit() as session:
        row = _mine(a, session, incident_id, contractor_may=False)
        if row.closed_at is not None:
            raise Conflict("この事故は既に閉じられています。", "this incident is closed.")
        for k, v in changes.items():
            setattr(row, k, v)
        _evidence(session, a, row.id, row.city_id, row.approval_id, row.transfer_id, event, {**members, "by": _by(a)})


def _by(a: Attempt) -> dict[str, Any]:
    return {"user": a.user.login, "org": a.user.organisation_id, "role": a.user.role}


def _evidence(session: Session, a: Attempt, incident_id: str, city: str, approval: str | None, transfer: str | None,
              event: str, members: dict[str, Any]) -> None:
    a.gw.ledger.record(session, a.event(
        approval=approval, transfer=transfer, reason=f"incident {incident_id}: {event}", evidence_type="incident",
        evidence={"incident": incident_id, "event": event, "city": city, "at": timestamp(a.gw.clock.now()),
                  **members}))
