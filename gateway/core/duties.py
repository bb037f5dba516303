"""The contract compliance ledger: recurring duties of the contract and when each falls due.

The councils' special terms bind the parties to acts that are no hand-over: the city's on-site
inspection at least once a fiscal year (Shinjuku 2020: 「区は立入り調査等により委託先・再委託先の業務の
実施状況を年度当たり1回以上確認する」), the contractor's training report every half year (Kurume FY2021
audit: 「研修を半年に一回…行い、甲に研修実施に関する報告書を提出」), a pledge (誓約書) from each handler,
the place of work reported before work starts (Komae 第4条), the subcontract application (Komae 第7条).

A duty is due once per slot: each fiscal year, or each half year (April–September, October–March),
of the contract's window; once at the window's start; or once per designated handler at its start.
A slot is met by a record dated inside it (for `once` and `per-handler`: on or before the start).
The auditor derives the same slots from the approval in the bundle (audit/duties.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.clock import JST

DUTY_KINDS = {
    "on-site-inspection": "立入調査",
    "training-report": "研修実施報告",
    "pledge": "誓約書",
    "workplace": "作業場所の報告",
    "subcontract-application": "再委託の申請",
}
EVERY = {"fiscal-year": "年度ごと", "half-year": "半年ごと", "once": "業務の着手前", "per-handler": "取扱者ごと（着手前）"}


@dataclass(frozen=True)
class Duty:
    id: str
    kind: str
    every: str
    text: str  # the seed's words


@dataclass(frozen=True)
class Slot:
    duty: str
    key: str  # e.g. FY2020, 2020H1, once, handler:k.tanaka
    start: datetime
    due: datetime  # records dated before this meet the slot
    handler: str | None = None


def slots(duty: Duty, start: datetime, end: datetime, handlers: tuple[str, ...] = ()) -> list[Slot]:
    """Every slot of `duty` over the window [start, end)."""
    if duty.every == "once":
        return [Slot(duty.id, "once", start, start)]
    if duty.every == "per-handler":
        return [Slot(duty.id, f"handler:{h}", start, start, h) for h in handlers]
    months = 12 if duty.every == "fiscal-year" else 6
    out = []
    local = start.astimezone(JST)
    year = local.year if local.month >= 4 else local.year - 1
    cursor = datetime(year, 4, 1, tzinfo=JST)
    while cursor < end:
        nxt = _add_months(cursor, months)
        if nxt > start:
            label = f"FY{cursor.year if cursor.month >= 4 else cursor.year - 1}" if months == 12 \
                else f"{cursor.year if cursor.month >= 4 else cursor.year - 1}H{1 if cursor.month == 4 else 2}"
            out.append(Slot(duty.id, label, max(cursor, start), min(nxt, end)))
        cursor = nxt
    return out


def met(slot: Slot, records: list[tuple[datetime, str | None]]) -> bool:
    """Whether a record (its date, its handler) meets the slot."""
    for on, handler in records:
        if slot.handler is not None and handler != slot.handler:
            continue
        if slot.key.startswith(("once", "handler:")):
            if on <= slot.due:
                return True
        elif slot.start <= on < slot.due:
            return True
    return False


def _add_months(at: datetime, months: int) -> datetime:
    month = at.month - 1 + months
    return at.replace(year=at.year + month // 12, month=month % 12 + 1)
