"""A person confirms that a condition of an approval was met: who, when, with what.

A condition with a `rule` is checked by the gateway (at registration or at each hand-over). Every
other condition (an on-site inspection, a handler list on paper, locked cabinets) can only be
confirmed by a person of the city; until someone does, the auditor reports it as open. The
confirmation is signed evidence of its own, tied to the approval and to the condition's text.
"""
from __future__ import annotations

import hashlib
from datetime import datetime

from gateway.clock import timestamp
from gateway.errors import Invalid
from gateway.operations.accounts import Caller
from gateway.operations.attempt import attempt
from gateway.operations.city_approval import own_approval
from gateway.service import Gateway

ACTION = "condition.confirm"
CONFIRMERS = ("staff", "security-officer")


def confirm(gw: Gateway, caller: Caller, approval_id: str, number: int, *, means: str,
            confirmed_on: datetime | None = None, note: str | None = None) -> str:
    """Record that condition `number` (1-based, as `gateway approval show` numbers them) was
    confirmed, by what means (an inspection report, a submitted list, a visit). Returns the
    evidence id."""
    with attempt(gw, caller, ACTION) as a, gw.unit() as session:
        user = a.user
        approval = own_approval(a, session, approval_id, CONFIRMERS,
                                ("条件の確認は市の職員又は情報セキュリティ担当が記録します。",
                                 "city staff or a security officer record that a condition was met."))
        if not 1 <= number <= len(approval.conditions):
            raise Invalid(f"条件の番号は 1〜{len(approval.conditions)} です（gateway approval show で確認）。",
                          f"the condition number is 1-{len(approval.conditions)} (see gateway approval show).")
        if not means.strip():
            raise Invalid("何によって確認したか（報告書、立入調査等）を記入してください。",
                          "say by what the condition was confirmed (a report, an inspection, ...).")
        now = gw.clock.now()
        on = confirmed_on or now
        if on > now:
            raise Invalid("確認日が未来です。", "the confirmation date is in the future.")
        condition = approval.conditions[number - 1]
        _, document = gw.ledger.record(session, a.event(
            reason=f"condition {number} of {approval.id} confirmed: {means.strip()}",
            evidence_type="condition-confirmation",
            evidence={"condition": number, "kind": condition.kind,
                      "text_sha256": hashlib.sha256(condition.text.encode("utf-8")).hexdigest(),
                      "means": means.strip(), "note": note, "confirmed_on": timestamp(on),
                      "confirmed_by": {"user": user.login, "org": user.organisation_id, "role": user.role}},
        ))
        assert document is not None
        return str(document["id"])
