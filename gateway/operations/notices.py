"""The password notice's dispatch: how, when and by whom it left, apart from the data."""
from __future__ import annotations

import uuid

from gateway.clock import timestamp
from gateway.core.transfers import refuse_if_held
from gateway.errors import NotFound
from gateway.notices.password_notice import check_delivery
from gateway.operations.accounts import Caller
from gateway.operations.attempt import attempt
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.registry import get_approval, get_profile


def dispatch(gw: Gateway, caller: Caller, transfer_id: str, *, method: str, tracking: str | None = None) -> str:
    """Record that the notice left by `method`; refused (and logged) for the data's own channel."""
    with attempt(gw, caller, "notice.dispatch") as a:
        with gw.read() as session:
            transfer = session.get(m.Transfer, transfer_id)
            if transfer is None or transfer.sender_organisation_id != a.user.organisation_id:
                raise NotFound(f"受け渡し「{transfer_id}」は見つかりません。", f"no transfer '{transfer_id}'.")
            approval = get_approval(session, transfer.approval_id)
            profile = get_profile(session, transfer.profile_id)
        a.approval, a.transfer = approval.id, transfer_id
        refuse_if_held(transfer.state)
        check_delivery(approval, profile, method)
        notice_id = f"N-{uuid.uuid4().hex[:12]}"
        with gw.unit() as session:
            _, document = gw.ledger.record(session, a.event(
                reason=f"by {method}",
                evidence_type="password-notice",
                evidence={
                    "transfer": transfer_id,
                    "notice": notice_id,
                    "method": method,
                    "tracking": tracking,
                    "dispatched_at": timestamp(gw.clock.now()),
                    "dispatched_by": {"user": a.actor.user, "org": a.actor.org},
                },
            ))
    assert document is not None
    return notice_id
