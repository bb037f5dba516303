"""What a contractor's handler may see: the transfers addressed to their organisation under
approvals that name them, whose gateway copy still exists."""
from __future__ import annotations

from sqlalchemy import select

from gateway.core.transfers import HELD
from gateway.operations.accounts import account, is_designated
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.registry import get_approval


def transfers_for(gw: Gateway, login: str, *, erased: bool = False) -> list[m.Transfer]:
    """`erased`: also those whose gateway copy is gone (their receipts and erasures are still due)."""
    with gw.read() as session:
        user = account(session, login)
        query = select(m.Transfer).where(m.Transfer.recipient_organisation_id == user.organisation_id,
                                         m.Transfer.state.not_in(HELD))
        if not erased:
            query = query.where(m.Transfer.erased_at.is_(None))
        rows = list(session.scalars(query.order_by(m.Transfer.sent_at)))
        visible = []
        approvals: dict[str, bool] = {}
        for t in rows:
            if t.approval_id not in approvals:
                approvals[t.approval_id] = is_designated(get_approval(session, t.approval_id), user)
            if approvals[t.approval_id]:
                session.expunge(t)
                visible.append(t)
        return visible


def package_sizes(gw: Gateway, transfers: list[m.Transfer]) -> dict[str, int]:
    """Size of each transfer's age package (what a download delivers)."""
    blobs = {t.package_blob_id: t.id for t in transfers}
    with gw.read() as session:
        rows = session.execute(select(m.Blob.id, m.Blob.size).where(m.Blob.id.in_(list(blobs))))
        return {blobs[blob_id]: size for blob_id, size in rows}
