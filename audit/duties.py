"""The contract compliance ledger as the auditor derives it from the bundle (FORMAT.md,
"Duties"): the approval's `[[duties]]`, the window of its contract, and the trusted `duty-record`
documents. A slot of a duty with no record meeting it by its due date is `compliance-overdue`.

The slot rule is the gateway's (gateway/core/duties.py), written again here: the auditor never
imports the gateway.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from audit import timefmt
from audit.evidence import Document
from audit.timefmt import JST


@dataclass(frozen=True)
class Slot:
    duty: str
    kind: str
    key: str
    start: datetime
    due: datetime
    handler: str | None = None


def _window(doc: dict[str, Any]) -> tuple[datetime, datetime] | None:
    period = doc.get("period")
    if not isinstance(period, dict):
        return None
    start, end, contract_end = period.get("start"), period.get("end"), period.get("contract_end")

    def bound(v: Any, *, is_end: bool) -> datetime | None:
        if isinstance(v, datetime):
            at = v if v.tzinfo else v.replace(tzinfo=JST)
            return at + timedelta(seconds=1) if is_end else at
        if hasattr(v, "year") and hasattr(v, "month"):
            day = datetime.combine(v, time(0), tzinfo=JST)
            return day + timedelta(days=1) if is_end else day
        return None

    s, e = bound(start, is_end=False), bound(end, is_end=True)
    if s is None or e is None:
        return None
    c = bound(contract_end, is_end=True)
    return s, max(e, c) if c is not None else e


def _handlers(doc: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for r in doc.get("recipients", []) if isinstance(doc.get("recipients"), list) else []:
        if not isinstance(r, dict):
            continue
        for x in [r, *(s for s in r.get("subcontractors", []) if isinstance(s, dict))]:
            for h in x.get("handlers", []) if isinstance(x.get("handlers"), list) else []:
                if isinstance(h, dict) and isinstance(h.get("login"), str):
                    out.append(h["login"])
    return out


def slots(doc: dict[str, Any]) -> list[Slot]:
    window = _window(doc)
    listed = doc.get("duties")
    if window is None or not isinstance(listed, list):
        return []
    start, end = window
    out: list[Slot] = []
    for d in listed:
        if not isinstance(d, dict) or not isinstance(d.get("id"), str):
            continue
        duty, kind, every = d["id"], str(d.get("kind", "")), d.get("every")
        if every == "once":
            out.append(Slot(duty, kind, "once", start, start))
        elif every == "per-handler":
            out += [Slot(duty, kind, f"handler:{h}", start, start, h) for h in _handlers(doc)]
        elif every in ("fiscal-year", "half-year"):
            months = 12 if every == "fiscal-year" else 6
            local = start.astimezone(JST)
            cursor = datetime(local.year if local.month >= 4 else local.year - 1, 4, 1, tzinfo=JST)
            while cursor < end:
                m = cursor.month - 1 + months
                nxt = cursor.replace(year=cursor.year + m // 12, month=m % 12 + 1)
                if nxt > start:
                    fy = cursor.year if cursor.month >= 4 else cursor.year - 1
                    key = f"FY{fy}" if months == 12 else f"{fy}H{1 if cursor.month == 4 else 2}"
                    out.append(Slot(duty, kind, key, max(cursor, start), min(nxt, end)))
                cursor = nxt
    return out


def _complete_application(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(value.get(k), str) and value[k].strip()
                                           for k in ("reason", "content", "data", "supervision"))


def met(slot: Slot, records: list[Document]) -> bool:
    for r in records:
        on = timefmt.parse(r.get("on"))
        if on is None or r.get("duty") != slot.duty:
            continue
        if slot.handler is not None and r.get("handler") != slot.handler:
            continue
        if slot.kind == "subcontract-application" and not _complete_application(r.get("application")):
            continue  # an application that does not state reason, content, data and supervision
        if slot.key == "once" or slot.key.startswith("handler:"):
            if on <= slot.due:
                return True
        elif slot.start <= on < slot.due:
            return True
    return False


def ledger(approval_id: str, doc: dict[str, Any] | None, documents: list[Document],
           now: datetime | None) -> list[dict[str, Any]]:
    """Every slot with its state: met, pending, or overdue."""
    if doc is None:
        return []
    records = [d for d in documents if d.type == "duty-record" and d.approval == approval_id and d.trusted]
    out = []
    for s in slots(doc):
        ok = met(s, records)
        out.append({"duty": s.duty, "kind": s.kind, "slot": s.key, "handler": s.handler,
                    "due": s.due.isoformat(), "state": "met" if ok else
                    ("overdue" if now is not None and s.due < now else "pending")})
    return out
