"""The password notice's dispatch: how, when and by whom it left, apart from the data."""
from __future__ import annotations

import uuid

from gateway.errors import GatewayError
from gateway.clock import timestamp
from gateway.ledger.log import Event
from gateway.notices.password_notice import check_delivery
from gateway.operations.accounts import Caller, account, actor
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.registry import get_approval, get_profile


def dispatch(gw: Gateway, caller: Caller, transfer_id: str, *, method: str, tracking: str | None = None) -> str:
    """Record that the notice left by `method`; refused (and logged) for the data's own channel."""
    with gw.unit() as session:
        user = account(session, caller.login)
        who = actor(user, caller)
        transfer = session.get(m.Transfer, transfer_id)
        if transfer is None or transfer.sender_organisation_id != user.organisation_id:
            raise GatewayError(f"受け渡し「{transfer_id}」は見つかりません。", f"no transfer '{transfer_id}'.")
        approval = get_approval(session, transfer.approval_id)
        profile = get_profile(session, transfer.profile_id)
    try:
        check_delivery(approval, profile, method)
    except GatewayError as err:
        gw.record(Event(action="notice.dispatch", channel=caller.channel, actor=who, source=caller.source,
                        approval=approval.id, transfer=transfer_id, outcome="refused",
                        kinds=(err.kind,) if err.kind else (), reason=err.en))
        raise
    notice_id = f"N-{uuid.uuid4().hex[:12]}"
    with gw.unit() as session:
        _, document = gw.ledger.record(session, Event(
            action="notice.dispatch", channel=caller.channel, actor=who, source=caller.source,
            approval=approval.id, transfer=transfer_id, reason=f"by {method}",
            evidence_type="password-notice",
            evidence={
                "transfer": transfer_id,
                "notice": notice_id,
                "method": method,
                "tracking": tracking,
                "dispatched_at": timestamp(gw.clock.now()),
                "dispatched_by": {"user": who.user, "org": who.org},
            },
        ))
    assert document is not None
    return notice_id
