"""Registering approvals and transfer profiles in the database, and reading them back.

An approval is registered once and never edited: the council's reply does not change after the
fact. A changed decision is a new approval with a new id; re-adding the identical file is a no-op.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core import approvals as core
from gateway.core.approvals import parse_approval_text
from gateway.core.profiles import Profile, load_profile, parse_profile_text
from gateway.core.tomlfile import read_text
from gateway.errors import Conflict, Invalid, NotFound
from gateway.store import models as m
from gateway.store.models_accounts import HandlerAmendment


def register_approval(session: Session, path: Path, *, actor: str, at: datetime,
                      shown_as: str | None = None) -> tuple[core.Approval, bool]:
    """Check and store one approval file. Returns the approval and whether it was new. Messages
    name the file as `shown_as` (an uploaded file's own name, not where the server keeps it)."""
    label = shown_as or str(path)
    # Parse the very text that is stored, so the registered record and its hash cannot diverge.
    source = read_text(path)
    approval = parse_approval_text(source, label)
    existing = session.get(m.Approval, approval.id)
    if existing is not None:
        if existing.source_sha256 == approval.source_sha256:
            return approval, False
        raise Conflict(
            f"承認「{approval.id}」は別の内容で登録済みです。答申の変更は新しい id の承認として登録してください。",
            f"approval '{approval.id}' is already registered with other content; "
            "register a changed decision as a new approval with a new id.",
        )
    missing = [p for p in approval.profiles if session.get(m.TransferProfile, p) is None]
    if missing:
        raise Invalid(
            f"{label}: 登録されていない受け渡し方法です: {', '.join(missing)}。`gateway init` で登録されるものから選んでください。",
            f"{label}: unknown transfer profiles: {', '.join(missing)}; use profiles registered by `gateway init`.",
        )
    for org in approval.organisations():
        _upsert_organisation(session, org)
    session.add(m.Approval(
        id=approval.id,
        case_number=approval.case_number,
        title=approval.title,
        city_id=approval.city.id,
        decision=approval.decision,
        period_start=approval.period_start,
        period_end=approval.period_end,
        max_records=approval.max_records,
        source_toml=source,
        source_sha256=approval.source_sha256,
        registered_at=at,
        registered_by=actor,
    ))
    session.flush()
    for r in approval.recipients:
        session.add(m.ApprovalRecipient(approval_id=approval.id, organisation_id=r.organisation.id))
        for s in r.subcontractors:
            session.add(m.ApprovalRecipient(
                approval_id=approval.id, organisation_id=s.organisation.id, via_organisation_id=r.organisation.id
            ))
        for x in (r, *r.subcontractors):
            for h in x.handlers:
                user = _handler_account(session, h, x.organisation.id, at)
                session.add(m.HandlerDesignation(approval_id=approval.id, user_id=user.id, role=h.role))
    session.flush()
    return approval, True


def _upsert_organisation(session: Session, org: core.Organisation) -> None:
    row = session.get(m.Organisation, org.id)
    if row is None:
        session.add(m.Organisation(id=org.id, name=org.name, kind=org.kind, certifications=list(org.certifications)))
        return
    if row.kind != org.kind:
        raise Conflict(
            f"組織「{org.id}」は既に {row.kind} として登録されています（今回は {org.kind}）。",
            f"organisation '{org.id}' is registered as {row.kind}, not {org.kind}.",
        )
    # Certifications are renewed and lapse; the newest approval states what the council relied on.
    row.certifications = sorted(set(org.certifications))


def _handler_account(session: Session, h: core.Handler, org_id: str, at: datetime) -> m.User:
    """The account of a designated handler; created without credentials if it does not exist yet.

    Credentials are issued separately and reach the person by hand or registered mail.
    """
    user = session.scalar(select(m.User).where(m.User.login == h.login))
    if user is None:
        user = m.User(login=h.login, display_name=h.name, organisation_id=org_id, role="contractor", created_at=at)
        session.add(user)
        session.flush()
    elif user.organisation_id != org_id:
        raise Invalid(
            f"取扱者「{h.login}」は別の組織（{user.organisation_id}）のアカウントです。",
            f"handler '{h.login}' is an account of another organisation ({user.organisation_id}).",
        )
    return user


def register_profiles(session: Session, directory: Path) -> list[str]:
    """Store the shipped transfer profiles; a profile already stored must not have changed, since
    approvals and evidence refer to it by id."""
    added = []
    for path in sorted(directory.glob("*.toml")):
        profile = load_profile(path)
        row = session.get(m.TransferProfile, profile.id)
        if row is None:
            session.add(m.TransferProfile(
                id=profile.id, channel=profile.channel,
                source_toml=read_text(path), source_sha256=profile.source_sha256,
            ))
            added.append(profile.id)
        elif row.source_sha256 != profile.source_sha256:
            raise Conflict(
                f"受け渡し方法「{profile.id}」の定義が登録時から変わっています。変更は新しい id で追加してください。",
                f"transfer profile '{profile.id}' changed since it was registered; add a changed profile under a new id.",
            )
    session.flush()
    return added


def list_approvals(session: Session) -> list[m.Approval]:
    return list(session.scalars(select(m.Approval).order_by(m.Approval.registered_at, m.Approval.id)))


def get_approval(session: Session, approval_id: str) -> core.Approval:
    """The registered approval, re-read from the exact text that was registered."""
    row = session.get(m.Approval, approval_id)
    if row is None:
        raise NotFound(
            f"承認「{approval_id}」は登録されていません。`gateway approval list` で確認してください。",
            f"no approval '{approval_id}' is registered; see `gateway approval list`.",
        )
    approval = parse_approval_text(row.source_toml, f"approval:{approval_id}")
    return amended(session, approval)


def amended(session: Session, approval: core.Approval) -> core.Approval:
    """The approval with the handler-list amendments the city recorded since, applied in order."""
    changes = list(session.scalars(select(HandlerAmendment).where(HandlerAmendment.approval_id == approval.id)
                                   .order_by(HandlerAmendment.id)))
    for change in changes:
        handlers = tuple(h for h in approval.handlers_of(change.organisation_id) if h.login != change.login)
        if change.change == "add":
            handlers = (*handlers, core.Handler(change.login, change.name, change.role))
        approval = approval.with_handlers(change.organisation_id, handlers)
    return approval


def get_profile(session: Session, profile_id: str) -> Profile:
    row = session.get(m.TransferProfile, profile_id)
    if row is None:
        raise NotFound(
            f"受け渡し方法「{profile_id}」は登録されていません。",
            f"no transfer profile '{profile_id}' is registered.",
        )
    return parse_profile_text(row.source_toml, f"profile:{profile_id}")
