"""The contractor's erasure, as the councils' special terms require it.

Before: a written deletion request (items, media, quantity, method, planned date). The city
approves or rejects it and may name a witness. After: an erasure certificate with the fields of
NIST SP 800-88 Rev. 1 Appendix G (media, sanitisation method clear/purge/destroy, technique, tool,
verification, who sanitised and who verified, with titles, date and place). Request and
certificate are signed evidence; a certificate missing past its deadline is `deletion-overdue`.
"""
from __future__ import annotations

import unicodedata
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.attestations.document import DELETION_REQUEST, ERASURE_CERTIFICATE, SANITISATION
from gateway.clock import timestamp
from gateway.errors import Conflict, Invalid, NotFound, Refused
from gateway.findings import Kind
from gateway.operations.accounts import Caller
from gateway.operations.attempt import attempt
from gateway.operations.attested import Attested, default_for
from gateway.operations.receive import authorised
from gateway.retention.subcontract import addressees
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.registry import get_approval


@dataclass(frozen=True)
class DeletionRequest:
    items: str  # what is to be erased: files, printouts, intermediate data
    media: str  # where it is: servers, PCs, removable media
    quantity: int
    method: str
    planned_date: date


@dataclass(frozen=True)
class Person:
    name: str
    title: str


@dataclass(frozen=True)
class ErasureCertificate:
    erased_at: datetime
    media_manufacturer: str
    media_model: str
    media_serial_or_location: str
    sanitisation: str  # clear | purge | destroy
    technique: str
    tool: str  # name and version
    verification: str
    sanitised_by: Person
    verified_by: Person
    place: str


def request(gw: Gateway, caller: Caller, transfer_id: str, req: DeletionRequest,
            attested: Attested | None = None) -> str:
    """The contractor's request; `attested` as for receipts (operations.receive.confirm_receipt)."""
    with attempt(gw, caller, "deletion.request") as a:
        if req.quantity < 1 or not all(s.strip() for s in (req.items, req.media, req.method)):
            raise Invalid("消去する項目・媒体・数量・方法をすべて記入してください。",
                          "fill in the items, media, quantity and method of the erasure.")
        transfer = authorised(a, transfer_id)
        accepted = (attested or default_for(a)).check(a, DELETION_REQUEST, transfer_id, transfer.approval_id)
        deletion_id = f"D-{uuid.uuid4().hex[:12]}"
        now = gw.clock.now()
        with gw.unit() as session:
            _refuse_repeat(session, transfer_id, req.items)
            body = {**asdict(req), "planned_date": req.planned_date.isoformat()}
            session.add(m.ContractorDeletion(id=deletion_id, transfer_id=transfer_id, state="requested",
                                             request=body, requested_at=now, updated_at=now))
            session.flush()
            _, document = gw.ledger.record(session, a.event(
                evidence_type="deletion-request",
                evidence={"transfer": transfer_id, "deletion": deletion_id, **body,
                          "requested_by": {"user": a.actor.user, "org": a.actor.org},
                          "attested": accepted.member},
            ))
            assert document is not None
            accepted.keep(session, document)
    return deletion_id


def _same_items(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _refuse_repeat(session: Session, transfer_id: str, items: str) -> None:
    """A second request for the same items of the same transfer is the first one again (a double
    click, a retry), not a new request: unless the city rejected the earlier one, it conflicts."""
    for row in session.scalars(select(m.ContractorDeletion).where(m.ContractorDeletion.transfer_id == transfer_id,
                                                                  m.ContractorDeletion.state != "rejected")):
        if _same_items(str(row.request.get("items", ""))) == _same_items(items):
            raise Conflict(f"同じ項目の消去依頼（{row.id}）が既にあります。状況は受け渡しの画面で確認してください。",
                           f"a deletion request for the same items ({row.id}) already exists; see its state on the "
                           "transfer's page.")


def decide(gw: Gateway, caller: Caller, deletion_id: str, *, approve: bool, witness: str | None = None,
           reason: str | None = None) -> None:
    """The city's answer to a request; only staff of the city the approval belongs to."""
    with attempt(gw, caller, "deletion.decide") as a, gw.unit() as session:
        user = a.user
        row = session.get(m.ContractorDeletion, deletion_id, with_for_update=True)
        transfer = session.get(m.Transfer, row.transfer_id) if row else None
        # The city decides, also for a subcontractor's copies: the data is the city's.
        city = get_approval(session, transfer.approval_id).city.id if transfer is not None else None
        if row is None or transfer is None or user.organisation_id != city or user.role != "staff":
            raise NotFound(f"消去依頼「{deletion_id}」は見つかりません。", f"no deletion request '{deletion_id}'.")
        a.approval, a.transfer = transfer.approval_id, transfer.id
        if row.state != "requested":
            raise Conflict(f"この依頼は既に「{row.state}」です。", f"this request is already '{row.state}'.")
        row.state = "approved" if approve else "rejected"
        row.decision = {"approve": approve, "witness": witness, "reason": reason, "by": user.login,
                        "at": timestamp(gw.clock.now())}
        row.updated_at = gw.clock.now()
        # Evidence of its own: an erasure certificate must not be dated before this decision, and
        # the auditor checks that order from the bundle alone.
        gw.ledger.record(session, a.event(
            reason=f"{'approved' if approve else 'rejected'} {deletion_id}" + (f"; witness {witness}" if witness else ""),
            evidence_type="deletion-decision",
            evidence={"transfer": transfer.id, "deletion": deletion_id, "approved": approve, "witness": witness,
                      "reason": reason, "decided_by": {"user": user.login, "org": user.organisation_id},
                      "decided_at": row.decision["at"]},
        ))


def _location(places: tuple[str, ...], covered: list[str], where: str) -> str | None:
    """Which of the approval's places of erasure a certificate covers: the one its media or
    location names. None where the approval lists no places."""
    if not places:
        return None
    named = [p for p in places if _norm(p) in _norm(where)]
    if not named:
        raise Invalid(f"消去した場所（--media-serial）に、承認が定める消去場所（{'、'.join(places)}）のいずれかを"
                      "書いてください。",
                      f"name one of the approval's places of erasure ({', '.join(places)}) in --media-serial.")
    fresh = [p for p in named if p not in covered]
    if not fresh:
        raise Conflict(f"「{named[0]}」の消去証明は既に提出されています。",
                       f"an erasure certificate for '{named[0]}' was already filed under this request.")
    return fresh[0]


def _norm(text: str) -> str:
    return "".join(text.split()).casefold()


def certify(gw: Gateway, caller: Caller, deletion_id: str, cert: ErasureCertificate,
            attested: Attested | None = None, *, transfer: str | None = None) -> str:
    """The erasure certificate, after the city approved the request, never dated before that
    approval (`attestation-out-of-order`). `transfer` is the one a signed certificate names."""
    with attempt(gw, caller, "deletion.certify") as a:
        if cert.sanitisation not in SANITISATION:
            raise Invalid(f"消去方法は {', '.join(SANITISATION)} のいずれかです。",
                          f"the sanitisation method is one of {', '.join(SANITISATION)}.")
        if cert.erased_at > gw.clock.now():
            raise Invalid("消去日時が未来になっています。", "the erasure time is in the future.")
        with gw.read() as session:
            row = session.get(m.ContractorDeletion, deletion_id)
            transfer_id = row.transfer_id if row else ""
        if row is None or transfer not in (None, transfer_id):
            raise NotFound(f"消去依頼「{deletion_id}」は見つかりません。", f"no deletion request '{deletion_id}'.")
        approval_id = authorised(a, transfer_id).approval_id
        accepted = (attested or default_for(a)).check(a, ERASURE_CERTIFICATE, transfer_id, approval_id)
        with gw.unit() as session:
            row = session.get(m.ContractorDeletion, deletion_id, with_for_update=True)
            assert row is not None
            if row.state != "approved":
                raise Conflict(
                    "消去証明は、市が承認した消去依頼に対してだけ提出できます。",
                    f"a certificate can only follow an approved request (this one is '{row.state}').",
                )
            approved_at = datetime.fromisoformat(str((row.decision or {})["at"]).replace("Z", "+00:00"))
            transfer_row = session.get(m.Transfer, transfer_id)
            assert transfer_row is not None
            places = get_approval(session, transfer_row.approval_id).retention.erasure_locations
            covered = list((row.certificate or {}).get("covered", ())) if places else []
            location = _location(places, covered, cert.media_serial_or_location)
            if cert.erased_at < approved_at:
                raise Refused.one(
                    Kind.ATTESTATION_OUT_OF_ORDER,
                    "消去日時が、市が消去依頼を承認した日時より前になっています。承認後に消去した日時を記入してください。",
                    "the erasure is dated before the city approved the deletion request; give the time you "
                    "erased the data, after the approval.")
            body = {**asdict(cert), "erased_at": timestamp(cert.erased_at)}
            if location is not None:
                covered.append(location)
                # One request, several places (Kurume GIS: 現行サーバ, 変換サーバ, 外付HDD): one
                # certificate each; the request is certified once every place is covered.
                body["covers"] = location
            done = all(p in covered for p in places)
            row.state = "certified" if done else "approved"
            row.certificate, row.updated_at = {**body, "covered": covered}, gw.clock.now()
            _, document = gw.ledger.record(session, a.event(
                evidence_type="erasure-certificate",
                evidence={"transfer": transfer_id, "deletion": deletion_id, **body,
                          "method": cert.sanitisation, "witness": (row.decision or {}).get("witness"),
                          "certified_by": {"user": a.actor.user, "org": a.actor.org},
                          # A subcontractor's certificate goes to 甲 and 乙 (seed 003, 再委託用特記事項 13).
                          "addressed_to": addressees(session, transfer_row),
                          "approved_at": timestamp(approved_at), "attested": accepted.member},
            ))
            assert document is not None
            accepted.keep(session, document)
    return str(document["id"])
