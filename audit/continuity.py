"""What the log says about itself: a rehearsal, or a new log that replaced a lost one.

A rehearsal home's times are not real (its log says so in a `home.rehearsal` entry); a log that
restarts after its database was lost names, in a signed `home.reinitialise` entry and its
`reinitialisation` document, the head it cuts off. Neither is a failure of the bundle, and both
must be seen by whoever reads the report: the auditor shows them beside the verification result
(FORMAT.md, "The home's own entries"), never hidden and never blamed on a contractor.
"""
from __future__ import annotations

from typing import Any, Protocol


class Verification(Protocol):
    """What these functions read of audit.verify.Verification (which imports this module)."""

    log: Any
    documents: dict[str, Any]

REHEARSAL = "home.rehearsal"
REINITIALISE = "home.reinitialise"


def summary(v: Verification) -> dict[str, Any]:
    rehearsal = next((e for e in v.log.home if e.action == REHEARSAL), None)
    restarts = []
    for e in v.log.home:
        if e.action != REINITIALISE:
            continue
        doc = v.documents.get(e.evidence_id) if e.evidence_id else None
        previous = doc.body.get("previous") if doc is not None and isinstance(doc.body.get("previous"), dict) else None
        restarts.append({"seq": e.seq, "at": e.at, "evidence": e.evidence_id,
                         "verified": bool(doc is not None and doc.trusted), "previous": previous,
                         "reason": e.reason})
    return {"rehearsal": rehearsal is not None, "rehearsal_entry": rehearsal.seq if rehearsal else None,
            "reinitialised": restarts}


def lines(v: Verification) -> list[str]:
    """For `audit verify`'s terminal output, Japanese first."""
    s = summary(v)
    out = []
    if s["rehearsal"]:
        out.append(f"リハーサル rehearsal: このログはリハーサル用の環境のもので、時刻は実際の時刻ではありません"
                   f" / this log is a rehearsal's; its times are not real (entry {s['rehearsal_entry']})")
    for r in s["reinitialised"]:
        out.append(f"再初期化 re-initialised: ログ {r['seq']} 件目で新しいログが始まりました（以前のログは失われています）"
                   f" / a new log began at entry {r['seq']}, replacing one that was lost; "
                   f"previous head: {describe_previous(r['previous'])}")
    return out


def describe_previous(previous: Any) -> str:
    if not isinstance(previous, dict) or previous.get("source") == "unknown" or not previous.get("head"):
        return "unknown / 不明"
    return f"{previous.get('size')} entries, {previous.get('head')} (from {previous.get('source')})"
