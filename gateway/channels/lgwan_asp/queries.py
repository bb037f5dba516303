"""Read-only views the pages and the API share: what a caller may list, scoped to their organisation.

These read rows; every change goes through gateway.operations / gateway.retention.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select

from gateway.core.profiles import PASSWORD_METHODS
from gateway.core.transfers import HELD
from gateway.ledger.hashing import leaf_hash
from gateway.ledger.range_check import origin
from gateway.retention.reminders import reminders
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_deliverables import Deliverable
from gateway.store.registry import get_approval, get_profile


@dataclass(frozen=True)
class SendChoice:
    approval: str
    title: str
    recipients: list[tuple[str, str]]
    profiles: list[str]


def send_choices(gw: Gateway, org: str) -> list[SendChoice]:
    """The approvals of the staff member's own city, with the recipients and profiles each names."""
    out = []
    with gw.read() as session:
        for row in session.scalars(select(m.Approval).where(m.Approval.city_id == org).order_by(m.Approval.id)):
            a = get_approval(session, row.id)
            recips = [(r.organisation.id, r.organisation.name) for r in a.recipients]
            out.append(SendChoice(a.id, a.title, recips, list(a.profiles)))
    return out


def profile_titles(gw: Gateway) -> dict[str, str]:
    """Each registered transfer profile's title (`LGWAN-ASP 専用ページ`), for people to choose by."""
    with gw.read() as session:
        return {pid: get_profile(session, pid).title for pid in session.scalars(select(m.TransferProfile.id))}


def password_methods() -> dict[str, str]:
    return dict(PASSWORD_METHODS)


def transfer_row(t: m.Transfer) -> dict[str, Any]:
    return {"id": t.id, "approval": t.approval_id, "profile": t.profile_id, "channel": t.channel,
            "sender_org": t.sender_organisation_id, "recipient_org": t.recipient_organisation_id,
            "state": t.state, "records": t.record_count, "sha256": t.plaintext_sha256,
            "package_sha256": t.package_sha256, "sent_at": t.sent_at, "received_at": t.received_at,
            "erased_at": t.erased_at, "receipt_due": t.receipt_due, "gateway_erase_due": t.gateway_erase_due,
            "contractor_deletion_due": t.contractor_deletion_due}


def sent_by(gw: Gateway, org: str, limit: int = 100) -> list[dict[str, Any]]:
    with gw.read() as session:
        rows = session.scalars(select(m.Transfer).where(m.Transfer.sender_organisation_id == org)
                               .order_by(m.Transfer.sent_at.desc()).limit(limit))
        return [transfer_row(t) for t in rows]


def addressed_to(gw: Gateway, org: str, login: str, limit: int = 200) -> list[dict[str, Any]]:
    """Transfers addressed to the contractor's organisation under approvals that name `login` a
    designated handler. Another employee of the same contractor sees none of their metadata
    (ids, record counts, checksums): the approval's handler list is who may know of them."""
    with gw.read() as session:
        rows = session.scalars(select(m.Transfer).where(m.Transfer.recipient_organisation_id == org,
                                                        m.Transfer.state.not_in(HELD))
                               .order_by(m.Transfer.sent_at.desc()).limit(limit))
        designated = _Designated(session, org, login)
        return [transfer_row(t) for t in rows if designated(t.approval_id)]


class _Designated:
    """Whether `login` is a designated handler of `org` under an approval (each approval read once)."""

    def __init__(self, session: Any, org: str, login: str) -> None:
        self.session, self.org, self.login = session, org, login
        self.known: dict[str, bool] = {}

    def __call__(self, approval_id: str) -> bool:
        if approval_id not in self.known:
            handlers = get_approval(self.session, approval_id).handlers_of(self.org)
            self.known[approval_id] = any(h.login == self.login for h in handlers)
        return self.known[approval_id]


def own_transfer(gw: Gateway, transfer_id: str, *, org: str, side: str, login: str | None = None) -> dict[str, Any] | None:
    """A transfer if the caller's organisation is its sender (side="sender"), or its recipient and
    the caller (`login`) a designated handler under its approval (side="recipient")."""
    with gw.read() as session:
        t = session.get(m.Transfer, transfer_id[:64])
        if t is None:
            return None
        owner = t.recipient_organisation_id if side == "recipient" else t.sender_organisation_id
        if owner != org or side == "recipient" and t.state in HELD:
            return None
        if side == "recipient" and not _Designated(session, org, login or "")(t.approval_id):
            return None
        row = transfer_row(t)
        row["deletions"] = [
            {"id": d.id, "state": d.state, "request": d.request, "decision": d.decision,
             "certificate": d.certificate, "requested_at": d.requested_at}
            for d in session.scalars(select(m.ContractorDeletion).where(m.ContractorDeletion.transfer_id == t.id)
                                     .order_by(m.ContractorDeletion.requested_at))]
        return row


def officer_orgs(gw: Gateway, org: str) -> tuple[list[str], set[str]]:
    """An officer sees their city's approvals and the organisations those approvals reach."""
    with gw.read() as session:
        approvals = list(session.scalars(select(m.Approval.id).where(m.Approval.city_id == org)))
        orgs = {org}
        for aid in approvals:
            orgs.update(o.id for o in get_approval(session, aid).organisations())
    return approvals, orgs


@dataclass(frozen=True)
class LogFilter:
    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    org: str | None = None
    approval: str | None = None
    action: str | None = None
    outcome: str | None = None
    limit: int = 500
    page: int = 1  # 1 = the newest `limit` entries

    @property
    def empty(self) -> bool:
        return not any((self.since, self.until, self.actor, self.org, self.approval, self.action, self.outcome))


PAGE_MAX = 500


def _officer_scope(session: Any, officer_org: str) -> Any:
    """What an officer of `officer_org` may read: entries about the city's approvals (directly or
    through a transfer under one); entries about no approval or transfer by a person of an
    organisation the city's approvals reach (log-ins, key registrations); administration of an
    account of such an organisation (its `subject_org`); and the administration of the
    installation itself (initialisation, keys, witnesses), which concerns every city on it. A
    contractor serving two cities appears in each city's log only with what it did for that city."""
    approvals = list(session.scalars(select(m.Approval.id).where(m.Approval.city_id == officer_org)))
    orgs = {officer_org}
    for aid in approvals:
        orgs.update(o.id for o in get_approval(session, aid).organisations())
    installation = set(session.scalars(select(m.Organisation.id).where(m.Organisation.kind == "gateway")))
    transfers = select(m.Transfer.id).where(m.Transfer.approval_id.in_(approvals))
    unattached = and_(m.LogEntry.approval_id.is_(None), m.LogEntry.transfer_id.is_(None))
    return or_(
        m.LogEntry.approval_id.in_(approvals),
        and_(m.LogEntry.approval_id.is_(None), m.LogEntry.transfer_id.in_(transfers)),
        and_(unattached, m.LogEntry.subject_org.in_(orgs)),
        and_(unattached, m.LogEntry.subject_org.is_(None), m.LogEntry.actor_org.in_(orgs)),
        and_(unattached, m.LogEntry.subject_org.is_(None),
             or_(m.LogEntry.actor_org.is_(None), m.LogEntry.actor_org.in_(installation))),
    )


def _filtered(session: Any, officer_org: str, f: LogFilter) -> Any:
    q = select(m.LogEntry).where(_officer_scope(session, officer_org))
    if f.since:
        q = q.where(m.LogEntry.at >= f.since)
    if f.until:
        q = q.where(m.LogEntry.at < f.until)
    if f.actor:
        q = q.where(m.LogEntry.actor_user == f.actor)
    if f.org:  # the organisation acting, or the one an administrative act concerned
        q = q.where(or_(m.LogEntry.actor_org == f.org, m.LogEntry.subject_org == f.org))
    if f.approval:
        q = q.where(m.LogEntry.approval_id == f.approval)
    if f.action:
        q = q.where(m.LogEntry.action.startswith(f.action, autoescape=True))
    if f.outcome:
        q = q.where(m.LogEntry.outcome == f.outcome)
    return q


def log_entries(gw: Gateway, officer_org: str, f: LogFilter) -> list[dict[str, Any]]:
    """One page of the entries an officer of `officer_org` may read that match `f`, newest first."""
    size = max(1, min(f.limit, 5000))
    with gw.read() as session:
        q = _filtered(session, officer_org, f).order_by(m.LogEntry.seq.desc())
        rows = list(session.scalars(q.offset((max(f.page, 1) - 1) * size).limit(size)))
        return [json.loads(r.body) for r in rows]


def log_count(gw: Gateway, officer_org: str, f: LogFilter) -> int:
    with gw.read() as session:
        sub = _filtered(session, officer_org, f).with_only_columns(m.LogEntry.seq).subquery()
        return int(session.scalar(select(func.count()).select_from(sub)) or 0)


def log_export(gw: Gateway, officer_org: str, f: LogFilter) -> Iterator[dict[str, Any]]:
    """Every entry matching `f`, oldest first, for an export of the filtered view."""
    with gw.read() as session:
        q = _filtered(session, officer_org, f).order_by(m.LogEntry.seq)
        for row in session.scalars(q).yield_per(2000):
            yield json.loads(row.body)


def log_entry(gw: Gateway, officer_org: str, seq: int) -> dict[str, Any] | None:
    """One entry the officer may read, with its hash, its place in the chain and the signed
    evidence document it points to (None if out of their scope or absent)."""
    with gw.read() as session:
        row = session.scalars(select(m.LogEntry).where(m.LogEntry.seq == seq, _officer_scope(session, officer_org))).first()
        if row is None:
            return None
        head = session.get(m.LedgerHead, 1)
        entry = json.loads(row.body)
        document = None
        if entry.get("evidence"):
            doc = session.get(m.EvidenceDocument, entry["evidence"]["id"])
            document = json.loads(doc.body) if doc is not None else None
        checkpoint = session.scalar(select(func.min(m.Checkpoint.size)).where(m.Checkpoint.size >= seq))
        return {"entry": entry, "hash": row.hash, "head": head.seq if head else seq,
                "checkpoint": checkpoint, "document": document, "subject_org": row.subject_org}


def chain_status(gw: Gateway) -> dict[str, Any]:
    """Recompute every entry's hash and link, and compare with the head the appenders keep.
    (The full check, signatures and cross-references included, is the auditor's report.)"""
    problems: list[str] = []
    with gw.read() as session:
        # A pruned log starts after the last signed pruning statement, linked to its head.
        pruned, prev, _ = origin(session)
        seq = pruned
        head = session.get(m.LedgerHead, 1)
        for row in session.execute(select(m.LogEntry.seq, m.LogEntry.hash, m.LogEntry.body)
                                   .order_by(m.LogEntry.seq)).yield_per(2000):
            seq += 1
            entry = json.loads(row.body)
            if entry.get("seq") != row.seq or row.seq != seq:
                problems.append(f"seq {row.seq}: out of order or missing")
            if entry.get("prev") != prev:
                problems.append(f"seq {row.seq}: does not link to the entry before it")
            if leaf_hash(entry) != row.hash:
                problems.append(f"seq {row.seq}: content does not match its hash")
            prev = row.hash
            if len(problems) >= 20:
                break
        ok = not problems and head is not None and head.seq == seq and (seq == 0 or head.hash == prev)
        if not problems and not ok:
            problems.append("the head does not match the last entry")
        return {"ok": ok, "entries": seq - pruned, "pruned": pruned, "head": head.hash if head else None,
                "checkpoint_size": head.checkpoint_size if head else 0, "problems": problems}


def approval_states(gw: Gateway, org: str) -> list[dict[str, Any]]:
    approvals, _ = officer_orgs(gw, org)
    due = {(r.transfer, r.kind): r for r in reminders(gw, within=timedelta(0)) if r.overdue}
    out = []
    with gw.read() as session:
        for aid in approvals:
            row = session.get(m.Approval, aid)
            assert row is not None
            transfers = []
            for t in session.scalars(select(m.Transfer).where(m.Transfer.approval_id == aid).order_by(m.Transfer.sent_at)):
                r = transfer_row(t)
                r["overdue"] = sorted(kind for (tid, kind) in due if tid == t.id)
                transfers.append(r)
            counts: dict[str, int] = {}
            for r in transfers:
                counts[r["state"]] = counts.get(r["state"], 0) + 1
            out.append({"id": aid, "title": row.title, "period_start": row.period_start, "period_end": row.period_end,
                        "transfers": transfers, "counts": counts,
                        "overdue": sum(1 for r in transfers if r["overdue"])})
    return out


def deliverables_of(gw: Gateway, transfer_id: str) -> list[dict[str, Any]]:
    """What the contractor returned under a transfer (the caller's access is checked by the caller)."""
    with gw.read() as session:
        rows = session.scalars(select(Deliverable).where(Deliverable.transfer_id == transfer_id[:64])
                               .order_by(Deliverable.uploaded_at, Deliverable.id))
        return [{"id": d.id, "name": d.name, "size": d.size, "sha256": d.sha256, "uploaded_by": d.uploaded_by,
                 "uploaded_at": d.uploaded_at} for d in rows]


def city_reminders(gw: Gateway, org: str, *, within: timedelta) -> list[dict[str, Any]]:
    """Deadlines of the staff member's own city coming up within `within`, or already passed."""
    with gw.read() as session:
        mine = set(session.scalars(select(m.Approval.id).where(m.Approval.city_id == org)))
    return [{"kind": r.kind, "transfer": r.transfer, "approval": r.approval, "due": r.due, "overdue": r.overdue}
            for r in reminders(gw, within=within) if r.approval in mine]
