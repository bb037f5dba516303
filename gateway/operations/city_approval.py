"""The approval a city's own person records against: found only if it is their city's, and only
for the roles that may record on it.

Another city's approval is "not found", not "forbidden", so a person cannot learn which approvals
other cities hold by trying ids.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.core.approvals import Approval
from gateway.errors import Forbidden, NotFound
from gateway.operations.attempt import Attempt
from gateway.store.registry import get_approval


def own_approval(a: Attempt, session: Session, approval_id: str, roles: tuple[str, ...],
                 refused: tuple[str, str]) -> Approval:
    """The caller's city's approval `approval_id`, named on the attempt; `refused` (Japanese,
    English) says who may record when the caller's role is not in `roles`."""
    approval = get_approval(session, approval_id)
    if a.user.organisation_id != approval.city.id:
        raise NotFound(f"承認「{approval_id}」は見つかりません。", f"no approval '{approval_id}'.")
    a.approval = approval.id
    if a.user.role not in roles:
        raise Forbidden(*refused)
    return approval
