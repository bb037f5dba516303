"""Who is acting, and whether they may: accounts, organisations, designated handlers."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.approvals import Approval
from gateway.errors import Conflict, Invalid, NotFound
from gateway.ledger.log import Actor
from gateway.store import models as m

ROLES = ("staff", "contractor", "security-officer", "admin")


@dataclass(frozen=True)
class Proxy:
    """An operator entering a person's paper document on their behalf (`--as PERSON --paper ...`)."""

    operator: str
    org: str
    role: str
    paper_sha256: str | None = None  # of the scan
    paper_ref: str | None = None  # where the paper is filed

    def note(self) -> str:
        paper = f"sha256:{self.paper_sha256}" if self.paper_sha256 else f"ref:{self.paper_ref}"
        return f"entered by {self.operator} ({self.role}) from paper {paper}"


@dataclass(frozen=True)
class Caller:
    """An authenticated person and how the channel identified them."""

    login: str
    channel: str
    source: str | None = None
    terminal: str | None = None
    ssh_key: str | None = None
    proxy: Proxy | None = None  # set when an operator enters this person's paper


def account(session: Session, login: str) -> m.User:
    user = session.scalar(select(m.User).where(m.User.login == login))
    if user is None or user.disabled:
        # The same answer for unknown and disabled accounts: no account enumeration.
        raise NotFound(
            f"利用者「{login}」は登録されていないか、無効です。",
            f"user '{login}' is not registered or is disabled.",
        )
    return user


def actor(user: m.User, caller: Caller) -> Actor:
    return Actor(user=user.login, org=user.organisation_id, role=user.role,
                 terminal=caller.terminal, ssh_key=caller.ssh_key)


def is_designated(approval: Approval, user: m.User) -> bool:
    return any(h.login == user.login for h in approval.handlers_of(user.organisation_id))


def add_user(session: Session, *, login: str, name: str, org: str, role: str, at: datetime) -> m.User:
    if role not in ROLES:
        raise Invalid(f"役割「{role}」はありません。", f"unknown role '{role}'; use one of {', '.join(ROLES)}.")
    organisation = session.get(m.Organisation, org)
    if organisation is None:
        raise NotFound(
            f"組織「{org}」は登録されていません。承認を登録すると組織も登録されます。",
            f"organisation '{org}' is not registered; registering an approval registers its organisations.",
        )
    if role == "staff" and organisation.kind != "city":
        raise Invalid("職員は市の組織にだけ登録できます。", "staff accounts belong to a city.")
    if role == "contractor" and organisation.kind == "city":
        raise Invalid("受託者アカウントは市の組織には登録できません。", "contractor accounts cannot belong to a city.")
    if session.scalar(select(m.User).where(m.User.login == login)) is not None:
        raise Conflict(f"利用者「{login}」は既に登録されています。", f"user '{login}' already exists.")
    user = m.User(login=login, display_name=name, organisation_id=org, role=role, created_at=at)
    session.add(user)
    session.flush()
    return user

