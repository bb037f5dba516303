"""Incidents (issue 20): each is a chain of signed `incident` documents under one id — reported,
the contractor's report, the city's instruction, its completion, the 公表 decision, the closure.

`instruction-overdue`: an instruction whose deadline passed (as of the bundle) without a
completion dated by it. `incident-unreported`: an incident the city recorded naming a contractor
whose own report was due by a deadline, with no contractor's report dated by it.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from audit import timefmt
from audit.evidence import Document


def _chains(docs: Iterable[Document]) -> dict[str, list[Document]]:
    out: dict[str, list[Document]] = defaultdict(list)
    for d in docs:
        if d.type == "incident":
            out[d.get("incident")].append(d)
    for chain in out.values():
        chain.sort(key=lambda d: d.log_seq)
    return out


def _by(d: Document) -> datetime | None:
    return timefmt.parse(d.get("at")) or d.issued_at


def findings(docs: Iterable[Document], now: datetime | None) -> list[tuple[str, Document, str, str]]:
    out: list[tuple[str, Document, str, str]] = []
    if now is None:
        return out
    for incident, chain in _chains(docs).items():
        for d in chain:
            if d.get("event") == "instructed":
                due = timefmt.parse(d.get("due"))
                done = [x for x in chain if x.get("event") == "instruction-done" and x.log_seq > d.log_seq]
                in_time = [x for x in done if (_by(x) or now) <= (due or now)]
                if due is not None and due < now and not in_time:
                    out.append(("instruction-overdue", d, f"incident {incident}: the instruction due {d.get('due')} "
                                f"was not carried out by then" + (" (done late)" if done else ""),
                                f"事故 {incident} に関する市の指示が期限（{d.get('due')}）までに実施されていません。"))
            if d.get("event") == "reported" and d.get("contractor_report_due"):
                due = timefmt.parse(d.get("contractor_report_due"))
                reports = [x for x in chain if x.get("event") == "contractor-report"
                           and (_by(x) or now) <= (due or now)]
                if due is not None and due < now and not reports:
                    out.append(("incident-unreported", d, f"incident {incident}: the contractor "
                                f"{d.get('contractor')!r} filed no report by {d.get('contractor_report_due')}",
                                f"事故 {incident} について、受託者の報告が期限までに提出されていません。"))
    return out


def summaries(docs: Iterable[Document], approval: str) -> list[dict[str, Any]]:
    out = []
    for incident, chain in sorted(_chains(docs).items()):
        if not chain or chain[0].approval != approval:
            continue
        first = chain[0]
        out.append({"incident": incident, "content": first.get("content"), "records": first.get("records"),
                    "place": first.get("place"), "circumstances": first.get("circumstances"),
                    "reported_by": first.get("by"), "source": first.get("source"),
                    "events": [{"event": d.get("event"), "at": d.get("at"), "evidence": d.id, "verified": d.trusted}
                               for d in chain]})
    return out
