"""Hand-overs found outside the gateway (Kurume FY2021: two departments used a cloud service for a
year without approval). A security officer records what was found so the evidence, and so the
council's annual report, shows it as an unapproved transfer; the gateway did not carry the data.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from gateway.clock import timestamp
from gateway.errors import Forbidden
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
