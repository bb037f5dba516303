"""Findings from the hand-over's safeguards (issue 20): the second person's check.

A transfer document that says `second_check.required` was held at sending; it is released only by
a `second-check` document that approves it, made by one of the approvers it names, of the
sender's organisation, who is not the sender. Anything of it that reached the contractor or the
post without such a release (a receipt, a password notice, media custody) is `second-check-missing`.
A held transfer never released (still waiting, or rejected) owes no receipt and no erasure.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from audit import timefmt
from audit.evidence import Document

# What shows that something of a transfer left the gateway's keeping.
LEFT = ("receipt", "password-notice", "custody")


def required(t: Document) -> bool:
    check = t.get("second_check")
    return type(check) is dict and check.get("required") is True


def valid_release(t: Document, checks: list[Document]) -> Document | None:
    """The first approval by someone the transfer's check allows, or None."""
    rule = t.get("second_check") or {}
    listed = rule.get("approvers")
    approvers: list[Any] = listed if type(listed) is list else []
    sender = t.get("sender") or {}
    for c in sorted(checks, key=lambda d: d.log_seq):
        by = c.get("checked_by") or {}
        if c.get("decision") == "approved" and by.get("user") in approvers and by.get("user") != sender.get("user") \
                and by.get("org") == sender.get("org"):
            return c
    return None


def released(t: Document, docs: dict[str, list[Document]]) -> bool:
    """Whether the contractor was meant to get this transfer at all: not held without a release,
    not recalled before it was delivered."""
    if any(r.get("downloaded") is False for r in docs["recall"]):
        return False
    return not required(t) or valid_release(t, docs["second-check"]) is not None


def deletion_due(t: Document, docs: dict[str, list[Document]]) -> Any:
    """The contractor's deletion deadline: the transfer's, or a recall's urgent one if earlier."""
    dues = [t.get("contractor_deletion_due"), *(r.get("contractor_deletion_due") for r in docs["recall"])]
    dues = [d for d in dues if isinstance(d, str)]
    return min(dues, key=lambda d: timefmt.parse(d) or datetime.max.replace(tzinfo=UTC), default=None)


def recalls(docs: dict[str, list[Document]]) -> list[dict[str, Any]]:
    return [{"evidence": r.id, "verified": r.trusted, "recalled_at": r.get("recalled_at"),
             "recalled_by": r.get("recalled_by"), "reason": r.get("reason"), "downloaded": r.get("downloaded"),
             "contractor_deletion_due": r.get("contractor_deletion_due"), "incident": r.get("incident")}
            for r in sorted(docs["recall"], key=lambda d: d.log_seq)]


def missing_checks(t: Document, docs: dict[str, list[Document]]) -> list[tuple[str, str, list[Document]]]:
    """(detail, detail_ja, documents) for each way the transfer left without its check."""
    if not required(t):
        return []
    release = valid_release(t, docs["second-check"])
    out = []
    for c in docs["second-check"]:
        by = (c.get("checked_by") or {}).get("user")
        if c.get("decision") == "approved" and c is not release and release is None:
            out.append((f"approved by {by!r}, who may not check it (the sender, or not one of the approvers "
                        f"the transfer names)", f"送付者本人又は確認者として定められていない者（{by}）が承認しています。", [c]))
    for kind in LEFT:
        for d in docs[kind]:
            if release is None or d.log_seq < release.log_seq:
                out.append((f"a {kind} document (issued {d.body.get('issued_at')}) shows the transfer left before a "
                            f"valid second check released it", "二重確認による解放の前に、データ又はパスワード通知が"
                            "引き渡されています。", [d]))
    return out


def summary(t: Document, docs: dict[str, list[Document]]) -> dict[str, Any] | None:
    if not required(t):
        return None
    rule = t.get("second_check")
    checks = sorted(docs["second-check"], key=lambda d: d.log_seq)
    last = checks[-1] if checks else None
    return {"required": True, "reasons": rule.get("reasons"), "approvers": rule.get("approvers"),
            "decision": last.get("decision") if last else None,
            "checked_by": last.get("checked_by") if last else None,
            "decided_at": last.get("decided_at") if last else None,
            "reason": last.get("reason") if last else None,
            "evidence": last.id if last else None, "verified": last.trusted if last else None}
