"""The parts of approval and profile TOML files the findings need (FORMAT.md, approvals/)."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from audit.timefmt import JST


class ApprovalError(ValueError):
    pass


@dataclass
class Approval:
    id: str
    decision: str
    start: datetime          # first covered instant
    end: datetime            # first instant no longer covered
    profiles: list[str]
    recipients: dict[str, str | None]   # org id -> the recipient it is a subcontractor of, or None
    first_transfer_only: list[str] = field(default_factory=list)  # profiles for the first hand-over only
    title: str = ""
    case_number: str = ""
    department: str = ""
    council: str = ""
    period_text: str = ""
    max_records: int | None = None
    conditions: list[dict[str, Any]] = field(default_factory=list)  # {number, text, kind, rule}
    retention: Retention | None = None
    # subcontractor org id -> its own term (start, end exclusive) and deletion days (seed 003)
    subcontracts: dict[str, tuple[datetime, datetime, int | None]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)  # the whole file, for the duty ledger

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class Retention:
    """What the contractor's erasure deadline counts from, where the approval says it itself."""

    base: str  # period-end | record-fiscal-year
    keep_years: int | None
    rollover_month: int | None
    deletion_after_delivery_days: int | None = None
    return_after_delivery_days: int | None = None
    media_closure: str = "return"  # "erase": the contractor's own media, erased and reported
    erasure_locations: tuple[str, ...] = ()  # every place the certificates must cover

    def uncovered(self, certified_places: list[Any]) -> list[str]:
        """The approval's places of erasure that no certificate's media or location names."""
        named = [_norm(p) for p in certified_places if isinstance(p, str)]
        return [loc for loc in self.erasure_locations if not any(_norm(loc) in n for n in named)]

    def after_delivery(self, delivered_at: datetime) -> tuple[datetime | None, datetime | None]:
        """Shinjuku NHI (seed 004): 「納品完了後、データを消去させ」「納品完了後、データ媒体、パスワード
        通知書を返却させる」: the erasure and return deadlines a completed 納品 starts."""
        d, r = self.deletion_after_delivery_days, self.return_after_delivery_days
        return (delivered_at + timedelta(days=d) if d is not None else None,
                delivered_at + timedelta(days=r) if r is not None else None)

    def record_year_due(self, record_fiscal_year: Any) -> datetime | None:
        """Komae (seed 002): erased at the N-th roll-over counting the record's own fiscal year's
        first day as the first (例: 平成27年4月1日の情報は平成33年4月1日付けで抹消)."""
        if self.base != "record-fiscal-year" or self.keep_years is None or self.rollover_month is None:
            return None
        if type(record_fiscal_year) is not int or not 1900 <= record_fiscal_year <= 2999:
            return None
        return datetime(record_fiscal_year + self.keep_years - 1, self.rollover_month, 1, tzinfo=JST)


def _retention(doc: dict[str, Any]) -> Retention | None:
    table = doc.get("retention")
    if not isinstance(table, dict):
        return None
    base, keep, month = table.get("base", "period-end"), table.get("contractor_keep_years"), table.get("rollover_month")
    return Retention(base=base if isinstance(base, str) else "period-end",
                     keep_years=keep if type(keep) is int and 1 <= keep <= 100 else None,
                     rollover_month=month if type(month) is int and 1 <= month <= 12 else None,
                     deletion_after_delivery_days=_days(table.get("deletion_after_delivery_days")),
                     return_after_delivery_days=_days(table.get("return_after_delivery_days")),
                     media_closure="erase" if table.get("media_closure") == "erase" else "return",
                     erasure_locations=tuple(x for x in table.get("erasure_locations", ())
                                             if isinstance(x, str) and x.strip())
                     if isinstance(table.get("erasure_locations"), list) else ())


def _norm(text: str) -> str:
    return "".join(text.split()).casefold()


def _conditions(listed: Any) -> list[dict[str, Any]]:
    """Each condition with its number (1-based, file order, as the gateway numbers them), text,
    kind (答申の条件 / 附帯意見 / 特記事項) and the rule the gateway checks it by, if any."""
    if not isinstance(listed, list):
        return []
    out = []
    for n, c in enumerate(listed, 1):
        if not isinstance(c, dict) or not isinstance(c.get("text"), str):
            continue
        kind, rule = c.get("kind"), c.get("rule")
        out.append({"number": n, "text": c["text"], "kind": kind if isinstance(kind, str) else "unclassified",
                    "rule": rule if isinstance(rule, str) else None})
    return out


def _days(value: Any) -> int | None:
    return value if type(value) is int and 0 <= value <= 36_525 else None


@dataclass
class Profile:
    id: str
    channel: str
    title: str = ""


def _table(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise ApprovalError(f"[{key}] is missing or not a table")
    return value


def _str(table: dict[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str):
        raise ApprovalError(f"{where}{key} is missing or not a string")
    return value


def _bound(value: Any, where: str, *, end: bool) -> datetime:
    """Period bounds are JST; a date covers its whole day, a date-time names the last second."""
    if isinstance(value, datetime):
        at = value if value.tzinfo is not None else value.replace(tzinfo=JST)
        return at + timedelta(seconds=1) if end else at
    if isinstance(value, date):
        day = datetime.combine(value, time(0), tzinfo=JST)
        return day + timedelta(days=1) if end else day
    raise ApprovalError(f"{where if '.' in where else '[period].' + where} is missing or not a date or date-time")


def _load_toml(data: bytes) -> dict:
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ApprovalError(f"not UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ApprovalError(f"not valid TOML: {exc}") from None
    except RecursionError:
        raise ApprovalError("not valid TOML: nested too deeply") from None


def parse_approval(data: bytes, expected_id: str) -> Approval:
    doc = _load_toml(data)
    approval_id = _str(doc, "id", "")
    if approval_id != expected_id:
        raise ApprovalError(f"id {approval_id[:80]!r} is not the file name {expected_id!r}")
    council = _table(doc, "council")
    period = _table(doc, "period")
    transfer = _table(doc, "transfer")
    profiles = transfer.get("profiles")
    if not isinstance(profiles, list) or not all(isinstance(p, str) for p in profiles):
        raise ApprovalError("[transfer].profiles is missing or not a list of strings")
    first_only = transfer.get("first_transfer_only", [])
    if not isinstance(first_only, list) or not all(isinstance(p, str) for p in first_only):
        raise ApprovalError("[transfer].first_transfer_only is not a list of strings")
    recipients: dict[str, str | None] = {}
    subcontracts: dict[str, tuple[datetime, datetime, int | None]] = {}
    listed = doc.get("recipients", [])
    if not isinstance(listed, list):
        raise ApprovalError("[[recipients]] is not an array of tables")
    for n, recipient in enumerate(listed):
        if not isinstance(recipient, dict):
            raise ApprovalError(f"recipients[{n}] is not a table")
        rid = _str(recipient, "id", f"recipients[{n}].")
        recipients.setdefault(rid, None)
        subs = recipient.get("subcontractors", [])
        if not isinstance(subs, list):
            raise ApprovalError(f"recipients[{n}].subcontractors is not an array of tables")
        for k, sub in enumerate(subs):
            if not isinstance(sub, dict):
                raise ApprovalError(f"recipients[{n}].subcontractors[{k}] is not a table")
            sub_id = _str(sub, "id", f"recipients[{n}].subcontractors[{k}].")
            recipients.setdefault(sub_id, rid)
            if "period_start" in sub and "period_end" in sub:
                where = f"recipients[{n}].subcontractors[{k}]."
                days = sub.get("deletion_days")
                subcontracts[sub_id] = (_bound(sub["period_start"], where + "period_start", end=False),
                                        _bound(sub["period_end"], where + "period_end", end=True),
                                        days if type(days) is int and 0 <= days <= 36_525 else None)
    start = _bound(period.get("start"), "start", end=False)
    end = _bound(period.get("end"), "end", end=True)
    raw_data = doc.get("data")
    data_table: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    max_records = data_table.get("max_records")
    conditions = _conditions(doc.get("conditions"))
    return Approval(
        id=approval_id, decision=_str(council, "decision", "[council]."), start=start, end=end,
        profiles=list(profiles), recipients=recipients, first_transfer_only=list(first_only),
        title=str(doc.get("title", "")), case_number=str(doc.get("case_number", "")),
        department=str(doc.get("department", "")),
        council=f"{council.get('session', '')} {council.get('date', '')}".strip(),
        period_text=f"{period.get('start')} 〜 {period.get('end')}",
        max_records=max_records if isinstance(max_records, int) else None,
        conditions=conditions,
        retention=_retention(doc),
        subcontracts=subcontracts,
        raw=doc,
    )


def parse_profile(data: bytes, expected_id: str) -> Profile:
    doc = _load_toml(data)
    profile_id = _str(doc, "id", "")
    if profile_id != expected_id:
        raise ApprovalError(f"id {profile_id[:80]!r} is not the file name {expected_id!r}")
    return Profile(id=profile_id, channel=_str(doc, "channel", ""), title=str(doc.get("title", "")))
