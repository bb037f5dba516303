"""The contractor's erasure, as the councils' special terms require it.

Before: a written deletion request (items, media, quantity, method, planned date). The city
approves or rejects it and may name a witness. After: an erasure certificate with the fields of
NIST SP 800-88 Rev. 1 Appendix G (media, sanitisation method clear/purge/destroy, technique, tool,
verification, who sanitised and who verified, with titles, date and place). Request and
certificate are signed evidence; a certificate missing past its deadline is `deletion-overdue`.
"""
from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime

from gateway.errors import GatewayError
from gateway.clock import timestamp
from gateway.ledger.log import Actor, Event
from gateway.operations.accounts import Caller, account, actor, is_designated
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.registry import get_approval

SANITISATION = ("clear", "purge", "destroy")


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


def request(gw: Gateway, caller: Caller, transfer_id: str, req: DeletionRequest) -> str:
    if req.quantity < 1 or not all(s.strip() for s in (req.items, req.media, req.method)):
        raise GatewayError("消去する項目・媒体・数量・方法をすべて記入してください。",
                           "fill in the items, media, quantity and method of the erasure.")
    who, transfer = _contractor(gw, caller, transfer_id, "deletion.request")
    deletion_id = f"D-{uuid.uuid4().hex[:12]}"
    now = gw.clock.now()
    with gw.unit() as session:
        body = {**asdict(req), "planned_date": req.planned_date.isoformat()}
        session.add(m.ContractorDeletion(id=deletion_id, transfer_id=transfer_id, state="requested", request=body,
                                         requested_at=now, updated_at=now))
        session.flush()
        gw.ledger.record(session, Event(
            action="deletion.request", channel=caller.channel, actor=who, source=caller.source,
            approval=transfer.approval_id, transfer=transfer_id, evidence_type="deletion-request",
            evidence={"transfer": transfer_id, "deletion": deletion_id, **body,
                      "requested_by": {"user": who.user, "org": who.org}},
        ))
    return deletion_id


def decide(gw: Gateway, caller: Caller, deletion_id: str, *, approve: bool, witness: str | None = None,
           reason: str | None = None) -> None:
    """The city's answer to a request; only staff of the city the approval belongs to."""
    with gw.unit() as session:
        user = account(session, caller.login)
        who = actor(user, caller)
        row = session.get(m.ContractorDeletion, deletion_id, with_for_update=True)
        transfer = session.get(m.Transfer, row.transfer_id) if row else None
        # The city decides, also for a subcontractor's copies: the data is the city's.
        city = get_approval(session, transfer.approval_id).city.id if transfer is not None else None
        if row is None or transfer is None or user.organisation_id != city or user.role != "staff":
            raise GatewayError(f"消去依頼「{deletion_id}」は見つかりません。", f"no deletion request '{deletion_id}'.")
        if row.state != "requested":
            raise GatewayError(f"この依頼は既に「{row.state}」です。", f"this request is already '{row.state}'.")
        row.state = "approved" if approve else "rejected"
        row.decision = {"approve": approve, "witness": witness, "reason": reason, "by": user.login,
                        "at": timestamp(gw.clock.now())}
        row.updated_at = gw.clock.now()
        gw.ledger.record(session, Event(
            action="deletion.decide", channel=caller.channel, actor=who, source=caller.source,
            approval=transfer.approval_id, transfer=transfer.id,
            reason=f"{'approved' if approve else 'rejected'} {deletion_id}" + (f"; witness {witness}" if witness else ""),
        ))


def certify(gw: Gateway, caller: Caller, deletion_id: str, cert: ErasureCertificate) -> str:
    if cert.sanitisation not in SANITISATION:
        raise GatewayError(f"消去方法は {', '.join(SANITISATION)} のいずれかです。",
                           f"the sanitisation method is one of {', '.join(SANITISATION)}.")
    if cert.erased_at > gw.clock.now():
        raise GatewayError("消去日時が未来になっています。", "the erasure time is in the future.")
    with gw.unit() as session:
        row = session.get(m.ContractorDeletion, deletion_id)
        transfer_id = row.transfer_id if row else ""
    if row is None:
        raise GatewayError(f"消去依頼「{deletion_id}」は見つかりません。", f"no deletion request '{deletion_id}'.")
    who, transfer = _contractor(gw, caller, transfer_id, "deletion.certify")
    with gw.unit() as session:
        row = session.get(m.ContractorDeletion, deletion_id, with_for_update=True)
        assert row is not None
        if row.state != "approved":
            raise GatewayError(
                "消去証明は、市が承認した消去依頼に対してだけ提出できます。",
                f"a certificate can only follow an approved request (this one is '{row.state}').",
            )
        body = {**asdict(cert), "erased_at": timestamp(cert.erased_at)}
        row.state, row.certificate, row.updated_at = "certified", body, gw.clock.now()
        _, document = gw.ledger.record(session, Event(
            action="deletion.certify", channel=caller.channel, actor=who, source=caller.source,
            approval=transfer.approval_id, transfer=transfer_id, evidence_type="erasure-certificate",
            evidence={"transfer": transfer_id, "deletion": deletion_id, **body,
                      "method": cert.sanitisation, "witness": (row.decision or {}).get("witness"),
                      "certified_by": {"user": who.user, "org": who.org}},
        ))
    assert document is not None
    return str(document["id"])


def _contractor(gw: Gateway, caller: Caller, transfer_id: str, action: str) -> tuple[Actor, m.Transfer]:
    with gw.unit() as session:
        user = account(session, caller.login)
        who = actor(user, caller)
        transfer = session.get(m.Transfer, transfer_id)
        ok = (transfer is not None and transfer.recipient_organisation_id == user.organisation_id
              and is_designated(get_approval(session, transfer.approval_id), user))
        if ok:
            assert transfer is not None
            session.expunge(transfer)
            return who, transfer
    gw.record(Event(action=action, channel=caller.channel, actor=who, source=caller.source, outcome="refused",
                    reason=f"not a designated handler of the receiving organisation for {transfer_id}"))
    raise GatewayError(
        f"受け渡し「{transfer_id}」について、あなたは消去の手続きをできません（受領した組織の取扱者だけができます）。",
        f"you cannot file erasure records for '{transfer_id}': only designated handlers of the receiving organisation can.",
    )
