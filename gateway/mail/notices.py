"""What is due to be told, and to whom: one `Notice` per deadline state or security event, with
a key that stays the same for as long as it is the same news (so it is mailed once).

- a transfer's receipt, contractor erasure certificate and gateway erasure, within the reminder
  window (`[portal] reminder_days`) and again once overdue: the city's staff, and for what the
  contractor must do, the contractor; overdue erasures also the city's security officers;
- courier media not back within the reminder window, and again once overdue: the city's staff
  and the contractor holding them; overdue, also the city's security officers;
- each slot of a contract duty (立入調査, 研修実施報告, 誓約書 …) within the window and once overdue;
- a send waiting for a second person's check (二重確認): the city's staff, once per send;
- each lockout (a refusal of kind `brute-force`), and a digest of other refused actions since the
  last digest: the security officers of every city.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from gateway.clock import to_jst
from gateway.retention.reminders import media_returns, reminders
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.registry import list_approvals

ACTION = "mail.send"
LOCKOUT = "brute-force"


@dataclass(frozen=True)
class Notice:
    key: str
    kind: str
    to: tuple[tuple[str, str], ...]  # (organisation, role)
    fields: dict[str, str] = field(default_factory=dict)
    covers: int | None = None  # for a refusal digest: the last log entry it covers


def sent_keys(gw: Gateway) -> tuple[set[str], int]:
    """Keys already mailed (from the access log's `mail.send` entries), and the last log entry a
    refusal digest covered."""
    keys: set[str] = set()
    covered = 0
    with gw.read() as session:
        for body in session.scalars(select(m.LogEntry.body).where(m.LogEntry.action == ACTION,
                                                                  m.LogEntry.outcome == "ok")):
            reason = json.loads(body).get("reason") or ""
            key = reason.split(" ", 1)[0]
            keys.add(key)
            if key.startswith("refused:"):
                covered = max(covered, int(key.rsplit("-", 1)[1]))
    return keys, covered


def _deadlines(gw: Gateway) -> list[Notice]:
    out = []
    rows = reminders(gw, within=timedelta(days=gw.settings.portal.reminder_days))
    with gw.read() as session:
        orgs = {t.id: (t.sender_organisation_id, t.recipient_organisation_id)
                for t in session.scalars(select(m.Transfer).where(m.Transfer.id.in_([r.transfer for r in rows])))}
    for r in rows:
        city, contractor = orgs[r.transfer]
        kind = {"receipt": "receipt", "erasure-certificate": "erasure-certificate",
                "gateway-erasure": "gateway-erasure"}[r.kind] + ("-overdue" if r.overdue else "-due")
        to: list[tuple[str, str]] = [(city, "staff")]
        if r.kind in ("receipt", "erasure-certificate"):
            to.append((contractor, "contractor"))
        if r.overdue and r.kind != "receipt":
            to.append((city, "security-officer"))
        out.append(Notice(f"{kind}:{r.transfer}:{r.due.isoformat()}", kind, tuple(to),
                          {"transfer": r.transfer, "approval": r.approval,
                           "due": f"{to_jst(r.due):%Y-%m-%d %H:%M} JST"}))
    return out


def _media(gw: Gateway) -> list[Notice]:
    out = []
    for r in media_returns(gw, within=timedelta(days=gw.settings.portal.reminder_days)):
        kind = "media-return-overdue" if r.overdue else "media-return-due"
        to: list[tuple[str, str]] = [(r.city, "staff")]
        if r.holder_org and r.holder_org != r.city:
            to.append((r.holder_org, "contractor"))
        if r.overdue:
            to.append((r.city, "security-officer"))
        out.append(Notice(f"{kind}:{r.item}:{r.due.isoformat()}", kind, tuple(to),
                          {"item": r.item, "transfer": r.transfer, "approval": r.approval,
                           "due": f"{to_jst(r.due):%Y-%m-%d %H:%M} JST"}))
    return out


def _duties(gw: Gateway) -> list[Notice]:
    """The contract's duties (operations/duties.py): a slot due within the reminder window, and
    again once overdue, to the city's staff; overdue also to its security officers."""
    from gateway.operations.duties import status

    now = gw.clock.now()
    horizon = now + timedelta(days=gw.settings.portal.reminder_days)
    with gw.read() as session:
        approvals = [(a.id, a.city_id) for a in list_approvals(session)]
    out = []
    for approval_id, city in approvals:
        for r in status(gw, approval_id, now):
            if r.met or r.slot.due > horizon:
                continue
            kind = "duty-overdue" if r.overdue else "duty-due"
            to = ((city, "staff"), (city, "security-officer")) if r.overdue else ((city, "staff"),)
            who = f"（{r.slot.handler}）" if r.slot.handler else ""
            out.append(Notice(f"{kind}:{approval_id}:{r.slot.duty}:{r.slot.key}", kind, to,
                              {"approval": approval_id, "duty": f"{r.slot.duty} {r.slot.key}{who}",
                               "due": f"{to_jst(r.slot.due):%Y-%m-%d %H:%M} JST"}))
    return out


def _checks(gw: Gateway) -> list[Notice]:
    from gateway.store.models_second_check import SecondCheck

    with gw.read() as session:
        rows = session.execute(select(m.Transfer.id, m.Transfer.approval_id, m.Transfer.sender_organisation_id,
                                      SecondCheck.requested_at)
                               .join(SecondCheck, SecondCheck.transfer_id == m.Transfer.id)
                               .where(m.Transfer.state == "pending-check")).all()
    return [Notice(f"second-check:{t}", "second-check", ((city, "staff"),),
                   {"transfer": t, "approval": approval, "at": f"{to_jst(at):%Y-%m-%d %H:%M} JST"})
            for t, approval, city, at in rows]


def _security(gw: Gateway, after: int) -> list[Notice]:
    with gw.read() as session:
        cities = list(session.scalars(select(m.Organisation.id).where(m.Organisation.kind == "city")))
        if not after:  # the first round: what happened in the last day, not the whole history
            since = gw.clock.now() - timedelta(days=1)
            after = session.scalar(select(m.LogEntry.seq).where(m.LogEntry.at < since)
                                   .order_by(m.LogEntry.seq.desc()).limit(1)) or 0
        rows = list(session.execute(select(m.LogEntry.seq, m.LogEntry.at, m.LogEntry.action, m.LogEntry.body)
                                    .where(m.LogEntry.seq > after, m.LogEntry.outcome == "refused")
                                    .order_by(m.LogEntry.seq)))
    officers = tuple((c, "security-officer") for c in cities)
    out: list[Notice] = []
    others: Counter[str] = Counter()
    seqs: list[int] = []
    for seq, at, action, body in rows:
        entry = json.loads(body)
        if LOCKOUT in (entry.get("kinds") or []):
            out.append(Notice(f"lockout:{seq}", "lockout", officers,
                              {"channel": entry.get("channel") or "-", "seq": str(seq),
                               "at": f"{to_jst(at):%Y-%m-%d %H:%M} JST"}))
        else:
            others[f"{action} ({', '.join(entry.get('kinds') or []) or '-'})"] += 1
            seqs.append(seq)
    if seqs:
        summary = "\n".join(f"  {what}: {n}" for what, n in others.most_common())
        out.append(Notice(f"refused:{seqs[0]}-{seqs[-1]}", "refused", officers,
                          {"count": str(len(seqs)), "first": str(seqs[0]), "last": str(seqs[-1]), "summary": summary},
                          covers=seqs[-1]))
    return out


def due(gw: Gateway) -> list[Notice]:
    """Every notice not mailed yet."""
    keys, covered = sent_keys(gw)
    return [n for n in [*_deadlines(gw), *_media(gw), *_duties(gw), *_checks(gw), *_security(gw, covered)]
            if n.key not in keys]
