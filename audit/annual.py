"""The fiscal-year summary for the annual operating report to the council (運用状況報告):
hand-overs, records, refusals, incidents and findings per department and approval, for one
fiscal year (1 April to 31 March, JST), derived from the audit report of a bundle alone."""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from audit import timefmt
from audit.findings import Report
from audit.kinds import KIND_LABELS
from audit.timefmt import JST


def bounds(fiscal_year: int) -> tuple[datetime, datetime]:
    return datetime(fiscal_year, 4, 1, tzinfo=JST), datetime(fiscal_year + 1, 4, 1, tzinfo=JST)


def summarise(report: Report, fiscal_year: int) -> dict[str, Any]:
    start, end = bounds(fiscal_year)

    def inside(value: Any) -> bool:
        at = timefmt.parse(value)
        return at is not None and start <= at < end

    log = report.verification.log.notable
    sent_in_year: dict[str, bool] = {}
    rows: dict[str, dict[str, Any]] = {}
    for a in report.approvals:
        transfers = [t for t in a["transfers"] if inside(t.get("sent_at"))]
        for t in a["transfers"]:
            sent_in_year[t["transfer"]] = inside(t.get("sent_at"))
        lost = sum(1 for t in a["transfers"] for c in t.get("custody", [])
                   if c.get("event") == "lost" and inside(c.get("at")))
        rows[a["id"]] = {
            "approval": a["id"], "title": a.get("title"), "case_number": a.get("case_number"),
            "department": a.get("department") or "（承認が証跡にない / approval not in the bundle）",
            "transfers": len(transfers), "records": sum(t["record_count"] for t in transfers),
            "channels": sorted({t["channel"] for t in transfers}),
            "refusals": Counter(), "incidents": lost, "findings": Counter(),
        }
    unassigned: dict[str, Counter[str]] = {"refusals": Counter(), "findings": Counter()}
    for f in report.findings:
        entry = log.get(f.log_seq) if f.log_seq is not None else None
        if f.transfer is not None and f.transfer in sent_in_year:
            in_year = sent_in_year[f.transfer]
        elif entry is not None:
            in_year = inside(entry.at)
        else:  # a finding of no hand-over and no log entry (a missed duty): its slot names the year
            in_year = f"FY{fiscal_year}" in f.detail or f.approval is None
        if not in_year:
            continue
        target = rows[f.approval] if f.approval in rows else unassigned
        target["refusals" if f.prevented else "findings"][f.kind] += 1
    departments: dict[str, list[dict[str, Any]]] = {}
    for row in rows.values():
        departments.setdefault(row["department"], []).append(row)

    def total(items: list[dict[str, Any]]) -> dict[str, Any]:
        refusals: Counter[str] = Counter()
        findings: Counter[str] = Counter()
        for r in items:
            refusals.update(r["refusals"])
            findings.update(r["findings"])
        return {"transfers": sum(r["transfers"] for r in items), "records": sum(r["records"] for r in items),
                "refusals": sum(refusals.values()), "incidents": sum(r["incidents"] for r in items),
                "findings": sum(findings.values())}

    def plain(row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "refusals": dict(sorted(row["refusals"].items())),
                "findings": dict(sorted(row["findings"].items()))}

    return {
        "fiscal_year": fiscal_year,
        "from": start.isoformat(), "until": end.isoformat(),
        "verified": report.verification.verified,
        "departments": [{"department": d, "approvals": [plain(r) for r in items], "totals": total(items)}
                        for d, items in sorted(departments.items())],
        "unassigned": {k: dict(sorted(v.items())) for k, v in unassigned.items()},
        "totals": total(list(rows.values())),
        "kind_labels": KIND_LABELS,
    }
