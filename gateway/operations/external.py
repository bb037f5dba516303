"""Hand-overs found outside the gateway (Kurume FY2021: two departments used a cloud service for a
year without approval). A security officer records what was found so the evidence, and so the
council's annual report, shows it as an unapproved transfer; the gateway did not carry the data.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from gateway.clock import timestamp
from gateway.errors import Forbidden, Invalid, NotFound
from gateway.operations.accounts import Caller
from gateway.operations.attempt import attempt
from gateway.service import Gateway


def declare(gw: Gateway, caller: Caller, *, sender_org: str, recipient: str, description: str, records: int,
            handed_over_at: datetime) -> str:
    with attempt(gw, caller, "transfer.declare-external") as a, gw.unit() as session:
        if a.user.role not in ("security-officer", "admin"):
            raise Forbidden("承認外の受渡しの記録は情報セキュリティ担当だけができます。",
                            "only a security officer records hand-overs found outside the gateway.")
        transfer_id = f"X{handed_over_at:%Y%m%d}-{uuid.uuid4().hex[:10]}"
        a.transfer = transfer_id
        _, document = gw.ledger.record(session, a.event(
            reason=f"hand-over outside the gateway recorded: {description}",
            evidence_type="transfer",
            evidence={
                "transfer": transfer_id, "profile": "external", "channel": "external",
                "sender": {"user": None, "org": sender_org}, "recipient": {"org": recipient},
                "parent_transfer": None,
                # What was handed over is known only from the department's account of it.
                "manifest": {"record_count": records, "columns": [], "sha256": "", "size_bytes": 0,
                             "removed": {}},
                "package_sha256": None, "sent_at": timestamp(handed_over_at), "receipt_due": None,
                "gateway_erase_due": None, "contractor_deletion_due": None, "description": description,
            },
        ))
    assert document is not None
    return transfer_id


def regularise(gw: Gateway, caller: Caller, transfer_id: str, *, approval: str, note: str) -> str:
    """Link an outside hand-over recorded by `declare` to the approval that later regularised it
    (Kurume FY2021: the LINE WORKS use, approved afterwards). The hand-over stays what it was, an
    unapproved transfer at its time; the link says what the council did about it."""
    from gateway.store import models as m

    with attempt(gw, caller, "transfer.regularise", transfer=transfer_id, approval=approval) as a:
        if a.user.role not in ("security-officer", "admin"):
            raise Forbidden("承認外の受渡しの事後承認の記録は情報セキュリティ担当だけができます。",
                            "only a security officer links an outside hand-over to a later approval.")
        if not note.strip() or len(note) > 4000:
            raise Invalid("経緯を 1〜4000 文字で書いてください。", "give the account in 1 to 4000 characters.")
        with gw.read() as session:
            found = session.get(m.Approval, approval)
            declared = session.scalar(select(m.LogEntry.seq).where(
                m.LogEntry.transfer_id == transfer_id, m.LogEntry.action == "transfer.declare-external",
                m.LogEntry.outcome == "ok").limit(1))
        if found is None or found.city_id != a.user.organisation_id:
            raise NotFound(f"承認「{approval}」は見つかりません。", f"no approval '{approval}' of your city.")
        if declared is None or not transfer_id.startswith("X"):
            raise NotFound(f"承認外の受渡し「{transfer_id}」の記録は見つかりません。",
                           f"no outside hand-over '{transfer_id}' was recorded.")
        with gw.unit() as session:
            _, document = gw.ledger.record(session, a.event(
                reason=f"outside hand-over {transfer_id} regularised by approval {approval}",
                evidence_type="regularisation",
                evidence={"transfer": transfer_id, "regularised_by": approval, "note": note,
                          "by": {"user": a.user.login, "org": a.user.organisation_id}},
            ))
    assert document is not None
    return str(document["id"])
