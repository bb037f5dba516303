"""Named operators: who is at the gateway's console, as a person of the gateway, not an OS account.

Every `gateway` command except `init` acts as the account its operating-system user is mapped to
(`gateway operator add OSUSER --login L`); an unmapped user is refused, and the refusal is logged.
`gateway init` maps the user who ran it to the installation's administrator account (`admin`), the
one operator who can then add the others (gateway.store.operators).

The operating-system user is the one sudo names (`SUDO_USER`: operators reach the service account
through sudo, which sets it and does not let the caller choose it), else the process's real user.
Whoever can become the service account without sudo can also write its database directly: the
mapping makes the log say which person acted, it does not replace the file permissions.

`--as PERSON` is proxy entry: the operator enters a paper document of that person (a contractor's
paper receipt or erasure certificate, a colleague's signed request) and must say which paper
(`--paper FILE`, whose SHA-256 is recorded, or `--paper-ref TEXT`). The log entry names the person
and says who entered it from what paper; an attestation entered so is of strength `paper`.
"""
from __future__ import annotations

import hashlib
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from gateway.errors import Conflict, Forbidden, Invalid, Unauthenticated
from gateway.ledger.log import Actor
from gateway.operations.accounts import Caller, Proxy, account
from gateway.operations.attempt import attempt, refuse
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_operators import Operator

# Who may sit at the city's console: a contractor never has a shell on the city's gateway.
OPERATOR_ROLES = ("staff", "security-officer", "admin")


@dataclass(frozen=True)
class Operating:
    """The operator of this command: their OS user and the account they act as."""

    os_user: str
    login: str
    org: str
    role: str

    def actor(self) -> Actor:
        return Actor(user=self.login, org=self.org, role=self.role)


def os_user() -> str:
    sudo = os.environ.get("SUDO_USER", "").strip()
    if sudo:
        return sudo
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid-{os.getuid()}"


def resolve(gw: Gateway, user: str) -> Operating:
    """The operator `user` is mapped to; an unmapped (or disabled) one is refused and logged."""
    with gw.read() as session:
        row = session.get(Operator, user)
        account_row = session.get(m.User, row.user_id) if row is not None else None
        if account_row is not None and not account_row.disabled:
            return Operating(user, account_row.login, account_row.organisation_id, account_row.role)
    raise refuse(gw, Actor(user=f"os:{user}"[:64]), "cli.operator", Unauthenticated(
        f"OS の利用者「{user}」はこのゲートウェイの操作者として登録されていません。管理者に"
        f"「gateway operator add {user} --login あなたのアカウント」を依頼してください。",
        f"the operating-system user '{user}' is not a registered operator of this gateway; ask the "
        f"administrator to run 'gateway operator add {user} --login YOUR-ACCOUNT'."), channel="cli")


def add(gw: Gateway, by: Operating, user: str, login: str) -> None:
    """Map an OS user to an account; only the administrator may."""
    with attempt(gw, by.actor(), "operator.add", channel="cli") as a, gw.unit() as session:
        if by.role != "admin":
            raise Forbidden("操作者を登録できるのは管理者だけです。", "only the administrator may add operators.")
        if not user.strip() or len(user) > 64:
            raise Invalid("OS の利用者名を指定してください。", "give the operating-system user name.")
        target = account(session, login)
        a.subject_org = target.organisation_id
        if target.role not in OPERATOR_ROLES:
            raise Forbidden(f"役割「{target.role}」の利用者はゲートウェイを操作できません（受託者は gateway-client を使います）。",
                            f"a {target.role} account cannot operate the city's gateway (contractors use "
                            "gateway-client).")
        existing = session.get(Operator, user)
        if existing is not None:
            if existing.user_id == target.id:
                return
            raise Conflict(f"OS の利用者「{user}」は既に別のアカウントの操作者です。",
                           f"the operating-system user '{user}' already operates another account.")
        session.add(Operator(os_user=user, user_id=target.id, added_at=gw.clock.now(), added_by=by.login))
        gw.ledger.record(session, a.event(reason=f"OS user {user} operates {login} ({target.role})"))


def caller(gw: Gateway, by: Operating, person: str | None, *, paper: Path | None, paper_ref: str | None) -> Caller:
    """Who a command acts as: the operator, or with `--as PERSON` that person, entered from paper."""
    if person is None or person == by.login:
        if paper is not None or paper_ref is not None:
            raise refuse(gw, by.actor(), "cli.proxy", Invalid(
                "--paper / --paper-ref は --as（代理入力）と一緒に使います。",
                "--paper and --paper-ref go with --as (entering someone's paper)."), channel="cli")
        return Caller(by.login, "cli")
    problem: Forbidden | Invalid | None = None
    if by.role == "security-officer":
        problem = Forbidden("情報セキュリティ担当は他の人の代理で入力できません。", "a security officer does not enter "
                            "others' acts: the one who audits does not write what is audited.")
    elif paper is None and not (paper_ref or "").strip():
        problem = Invalid(
            f"「{person}」の代理で入力するには、その書面を --paper ファイル（スキャン）または --paper-ref（書類の番号）で示してください。",
            f"entering on behalf of '{person}' needs the paper it comes from: --paper FILE (its scan) or "
            "--paper-ref TEXT (where the paper is filed).")
    if problem is not None:
        raise refuse(gw, by.actor(), "cli.proxy", problem, channel="cli")
    digest = _sha256(gw, by, paper) if paper is not None else None
    return Caller(person, "cli", proxy=Proxy(by.login, by.org, by.role, digest, (paper_ref or "").strip() or None))


def _sha256(gw: Gateway, by: Operating, path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as err:
        raise refuse(gw, by.actor(), "cli.proxy", Invalid(
            f"書面のファイルを読めません: {path} ({err.strerror})", f"cannot read the paper's scan {path} ({err.strerror})."),
            channel="cli") from None
    return digest.hexdigest()


def listed(gw: Gateway) -> list[tuple[str, str, str]]:
    with gw.read() as session:
        return [(o.os_user, u.login, u.role) for o, u in session.execute(
            select(Operator, m.User).join(m.User, m.User.id == Operator.user_id).order_by(Operator.os_user))]

