"""The subcontractor's erasure certificate goes to the city (甲) and the contractor (乙).

Shinjuku 2020 (seed 003), 再委託用の特記事項 13: 「丙は、個人情報を消去した場合には、消去をしたことの記録を
保存するとともに、甲及び乙に対して消去をしたことの証明書を提出するものとする。なお、甲及び乙は、必要に応じ、
消去の状況について確認を行うものとする。」 The city decides the deletion request as for any copy of its
data (deletion.decide); the contractor that relayed the data records here that it received the
certificate and accepts it, as signed evidence of its own.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import timestamp
from gateway.errors import Conflict, Forbidden, NotFound
from gateway.findings import Kind
from gateway.operations.accounts import Caller, is_designated
from gateway.operations.attempt import attempt
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.registry import get_approval

ACTION = "deletion.acknowledge"


def addressees(session: Session, transfer: m.Transfer) -> list[dict[str, str]] | None:
    """To whom a certificate for `transfer` goes: the city and, for a subcontractor's copy, the
    contractor that relayed it. None for a transfer that is not a relay."""
    if transfer.parent_transfer_id is None:
        return None
    parent = session.get(m.Transfer, transfer.parent_transfer_id)
    assert parent is not None
    return [{"org": parent.sender_organisation_id, "role": "甲"}, {"org": transfer.sender_organisation_id, "role": "乙"}]


def acknowledge(gw: Gateway, caller: Caller, deletion_id: str, *, accept: bool = True, note: str | None = None) -> str:
    """乙 records that the subcontractor's certificate reached it, and whether it accepts it."""
    with attempt(gw, caller, ACTION) as a, gw.unit() as session:
        user = a.user
        row = session.get(m.ContractorDeletion, deletion_id, with_for_update=True)
        transfer = session.get(m.Transfer, row.transfer_id) if row is not None else None
        # Only the contractor that relayed the data (乙) may know of the request here.
        if row is None or transfer is None or transfer.parent_transfer_id is None \
                or transfer.sender_organisation_id != user.organisation_id:
            raise NotFound(f"消去依頼「{deletion_id}」は見つかりません。", f"no deletion request '{deletion_id}'.")
        a.approval, a.transfer = transfer.approval_id, transfer.id
        if not is_designated(get_approval(session, transfer.approval_id), user):
            raise Forbidden("あなたはこの承認の取扱者名簿に載っていません。",
                            "you are not on this approval's list of designated handlers.",
                            kinds=[Kind.NON_DESIGNATED_HANDLER])
        certificate = (row.certificate or {})
        if not certificate:
            raise Conflict("再委託先の消去証明書はまだ提出されていません。",
                           "the subcontractor has not filed its erasure certificate yet.")
        if row.state != "certified":
            raise Conflict("再委託先の消去証明書がまだ揃っていません。",
                           "the subcontractor's erasure certificates are not complete yet.")
        done = session.scalar(select(m.LogEntry.seq).where(
            m.LogEntry.action == ACTION, m.LogEntry.transfer_id == transfer.id, m.LogEntry.outcome == "ok"))
        if done is not None:
            raise Conflict("この消去証明書の受領は既に記録されています。", "this certificate was already acknowledged.")
        _, document = gw.ledger.record(session, a.event(
            reason=f"{'accepted' if accept else 'did not accept'} the subcontractor's certificate of {deletion_id}",
            evidence_type="erasure-acknowledgement",
            evidence={"transfer": transfer.id, "deletion": deletion_id, "accepted": accept, "note": note,
                      "acknowledged_by": {"user": user.login, "org": user.organisation_id},
                      "acknowledged_at": timestamp(gw.clock.now())},
        ))
        assert document is not None
        return str(document["id"])
