"""A signed attestation arriving from a handler's client, whatever the channel (the portal's
`POST /api/v1/attestations`, a file written into SFTP's `/attestations`): read, then recorded by
the operation of its type, which checks the signature inside its own attempt (so a refusal is
logged once, under the action it would have been: `transfer.receipt`, `deletion.certify`, ...).

The answer is the same JSON on every channel, for the client to read back.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from gateway.attestations import document as d
from gateway.operations.accounts import Caller
from gateway.operations.attempt import attempt
from gateway.operations.attested import Signed
from gateway.service import Gateway

ACTION = "attestation.file"


def file(gw: Gateway, caller: Caller, payload: Any) -> dict[str, Any]:
    """Record the attestation in `payload` ({document, signature}); the answer names its evidence."""
    with attempt(gw, caller, ACTION):
        envelope = d.Envelope.from_json(payload)  # only its form: the signature is checked below
    doc, signed = envelope.document, Signed(envelope)
    answer: dict[str, Any] = {"attestation": envelope.id, "type": envelope.type, "transfer": doc["transfer"]}
    if envelope.type == d.RECEIPT:
        from gateway.operations.receive import confirm_receipt

        r = confirm_receipt(gw, caller, doc["transfer"], record_count=doc["record_count"], sha256=doc["sha256"],
                            attested=signed)
        return {**answer, "matches": r.matches, "evidence": r.evidence}
    if envelope.type == d.DELETION_REQUEST:
        from gateway.retention import deletion

        deletion_id = deletion.request(gw, caller, doc["transfer"], deletion.DeletionRequest(
            items=doc["items"], media=doc["media"], quantity=doc["quantity"], method=doc["method"],
            planned_date=date.fromisoformat(doc["planned_date"])), attested=signed)
        return {**answer, "deletion": deletion_id}
    if envelope.type == d.ERASURE_CERTIFICATE:
        from gateway.retention import deletion

        evidence = deletion.certify(gw, caller, doc["deletion"], deletion.ErasureCertificate(
            erased_at=_time(doc["erased_at"]), media_manufacturer=doc["media_manufacturer"],
            media_model=doc["media_model"], media_serial_or_location=doc["media_serial_or_location"],
            sanitisation=doc["sanitisation"], technique=doc["technique"], tool=doc["tool"],
            verification=doc["verification"], sanitised_by=deletion.Person(**doc["sanitised_by"]),
            verified_by=deletion.Person(**doc["verified_by"]), place=doc["place"]),
            attested=signed, transfer=doc["transfer"])
        return {**answer, "deletion": doc["deletion"], "evidence": evidence}
    from gateway.operations.deliverables import declare

    evidence = declare(gw, caller, doc["transfer"], name=doc["name"], sha256=doc["sha256"], size=doc["size"],
                       attested=signed)
    return {**answer, "evidence": evidence}


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
