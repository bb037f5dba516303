"""What the administration pages read: accounts with their credentials' state, approvals with
their handler lists as amended, organisations. Every change goes through gateway.operations."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_accounts import CredentialDelivery, HandlerAmendment
from gateway.store.models_portal import LoginThrottle, TerminalCertificate
from gateway.store.models_ssh import SshKey
from gateway.store.registry import get_approval


def users(gw: Gateway) -> list[dict[str, Any]]:
    now = gw.clock.now()
    with gw.read() as session:
        locked = {t.key for t in session.scalars(select(LoginThrottle).where(LoginThrottle.scope == "account"))
                  if t.locked_until is not None and t.locked_until > now}
        delivered = {d.user_id for d in session.scalars(select(CredentialDelivery))}
        return [{"login": u.login, "name": u.display_name, "org": u.organisation_id, "role": u.role,
                 "state": "disabled" if u.disabled else "locked" if u.login in locked else "active",
                 "password": u.password_hash is not None, "delivered": u.id in delivered}
                for u in session.scalars(select(m.User).order_by(m.User.organisation_id, m.User.login))]


def user(gw: Gateway, login: str) -> dict[str, Any] | None:
    with gw.read() as session:
        u = session.scalar(select(m.User).where(m.User.login == login[:64]))
        if u is None:
            return None
        row = next(r for r in users(gw) if r["login"] == u.login)
        row["terminals"] = [{"serial": t.serial, "fingerprint": t.fingerprint, "not_after": t.not_after,
                             "issued_at": t.issued_at, "revoked": t.revoked}
                            for t in session.scalars(select(TerminalCertificate).where(TerminalCertificate.user_id == u.id)
                                                     .order_by(TerminalCertificate.issued_at))]
        row["keys"] = [{"fingerprint": k.fingerprint, "type": k.public_key.split()[0], "added_at": k.added_at,
                        "revoked_at": k.revoked_at}
                       for k in session.scalars(select(SshKey).where(SshKey.user_id == u.id).order_by(SshKey.added_at))]
        row["deliveries"] = [{"method": d.method, "reference": d.reference, "at": d.recorded_at, "by": d.recorded_by}
                             for d in session.scalars(select(CredentialDelivery).where(CredentialDelivery.user_id == u.id)
                                                      .order_by(CredentialDelivery.id))]
        return row


def approvals(gw: Gateway) -> list[dict[str, Any]]:
    with gw.read() as session:
        return [{"id": a.id, "title": a.title, "city": a.city_id, "decision": a.decision, "period_start": a.period_start,
                 "period_end": a.period_end, "sha256": a.source_sha256}
                for a in session.scalars(select(m.Approval).order_by(m.Approval.registered_at, m.Approval.id))]


def approval(gw: Gateway, approval_id: str) -> dict[str, Any]:
    """One approval with each contractor's handler list as it stands and the amendments behind it."""
    with gw.read() as session:
        a = get_approval(session, approval_id[:64])
        lists = []
        for r in a.recipients:
            for x in (r, *r.subcontractors):
                lists.append({"org": x.organisation.id, "name": x.organisation.name,
                              "handlers": [{"login": h.login, "name": h.name, "role": h.role} for h in x.handlers]})
        changes = [{"org": c.organisation_id, "login": c.login, "change": c.change, "decision_ref": c.decision_ref,
                    "reason": c.reason, "at": c.at, "by": c.by, "evidence": c.evidence_id}
                   for c in session.scalars(select(HandlerAmendment).where(HandlerAmendment.approval_id == a.id)
                                            .order_by(HandlerAmendment.id))]
        return {"id": a.id, "title": a.title, "case_number": a.case_number, "city": a.city.id,
                "period_start": a.period_start, "period_end": a.period_end, "max_records": a.max_records,
                "profiles": list(a.profiles), "lists": lists, "amendments": changes}


def organisations(gw: Gateway) -> list[dict[str, Any]]:
    with gw.read() as session:
        counts: dict[str, int] = {}
        for u in session.scalars(select(m.User)):
            counts[u.organisation_id] = counts.get(u.organisation_id, 0) + 1
        return [{"id": o.id, "name": o.name, "kind": o.kind, "certifications": o.certifications,
                 "users": counts.get(o.id, 0)}
                for o in session.scalars(select(m.Organisation).order_by(m.Organisation.kind, m.Organisation.id))]
