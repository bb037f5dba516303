"""The status of every condition of an approval, from the bundle alone (issue 21, item 2).

checked: the condition carries a rule the gateway enforces; the report names the rule and where it
is enforced (at registration, at each hand-over, or by this report's own findings).
confirmed: a trusted `condition-confirmation` document names it (number and the SHA-256 of its
text, so a confirmation of an older wording does not count): who, when, by what.
open: neither.
"""
from __future__ import annotations

import hashlib
from typing import Any

from audit.evidence import Document

KIND_LABELS = {"council-condition": "答申の条件", "attached-opinion": "附帯意見", "special-term": "特記事項",
               "consultation-measure": "諮問書の保護対策", "unclassified": "区分なし"}
# Where the gateway enforces each rule (gateway/data/simulations/approvals/README.md).
RULES = {
    "gateway-retention-max-days": ("registration", "承認登録時に保管日数の上限を確認"),
    "contractor-deletion-max-days": ("registration", "承認登録時に消去期限の上限を確認"),
    "require-certification": ("registration", "承認登録時に提供先の認証を確認"),
    "no-subcontracting": ("registration", "承認登録時に再委託先がないことを確認"),
    "exclude-population": ("registration-and-hand-over", "承認登録時に除外対象を確認し、送付のたびに除外"),
    "password-delivery": ("hand-over", "送付・通知のたびにパスワードの送付方法を確認"),
    "erasure-certificate-required": ("report", "この報告が消去証明書の有無を確認（deletion-overdue）"),
}


def statuses(conditions: list[dict[str, Any]], approval_id: str, documents: list[Document]) -> list[dict[str, Any]]:
    confirmations: dict[int, list[Document]] = {}
    for d in documents:
        if d.type == "condition-confirmation" and d.approval == approval_id and d.trusted \
                and type(d.get("condition")) is int:
            confirmations.setdefault(d.get("condition"), []).append(d)
    out = []
    for c in conditions:
        entry = {**c, "kind_label": KIND_LABELS.get(c["kind"], c["kind"])}
        text_sha = hashlib.sha256(c["text"].encode("utf-8")).hexdigest()
        mine = [d for d in confirmations.get(c["number"], []) if d.get("text_sha256") == text_sha]
        if c.get("rule") in RULES:
            where, ja = RULES[c["rule"]]
            entry["status"] = {"state": "checked", "rule": c["rule"], "where": where, "ja": ja}
        elif mine:
            d = mine[-1]
            entry["status"] = {"state": "confirmed", "by": d.get("confirmed_by"), "on": d.get("confirmed_on"),
                               "means": d.get("means"), "evidence": d.id}
        else:
            entry["status"] = {"state": "open"}
        out.append(entry)
    return out
