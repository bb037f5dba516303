"""Amending an approval's list of designated handlers (退職・異動) under the city's recorded decision.

The approval's text stays as the council approved it and is not registered again; the amendment
is stored beside it, applied whenever the approval is read (store/registry.get_approval), and
issued as signed `handler-amendment` evidence naming the decision it rests on."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.core.approvals import HANDLER_ROLES
from gateway.errors import Conflict, Invalid, NotFound
from gateway.ledger.log import Actor
from gateway.operations.attempt import attempt
from gateway.operations.lifecycle import require_admin
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_accounts import HandlerAmendment
from gateway.store.registry import get_approval


@dataclass(frozen=True)
class NewHandler:
    login: str
    name: str
    role: str = "handler"


def parse_new_handler(text: str) -> NewHandler:
    """`LOGIN:氏名[:responsible|handler]`, as the command line takes it."""
    parts = [p.strip() for p in text.split(":")]
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise Invalid(f"追加する取扱者は「ID:氏名[:役割]」の形で指定してください（{text[:60]}）。",
                      f"give a handler to add as LOGIN:NAME[:ROLE] (got {text[:60]!r}).")
    return NewHandler(parts[0], parts[1], parts[2] if len(parts) == 3 else "handler")


def _decision_sha256(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as err:
        raise Invalid(f"決定書のファイルを読めません: {path.name}（{err.strerror}）",
                      f"cannot read the decision's scan {path.name} ({err.strerror}).") from None


def amend_handlers(gw: Gateway, approval_id: str, *, org: str, add: Sequence[NewHandler | str], remove: Sequence[str],
                   decision_ref: str, decision: Path | None = None, reason: str, actor: Actor,
                   channel: str = "cli") -> list[str]:
    """Change `org`'s handler list under `approval_id`; returns the list after the change."""
    with attempt(gw, actor, "approval.amend-handlers", channel=channel, approval=approval_id[:64]) as a:
        require_admin(actor)
        added = [h if isinstance(h, NewHandler) else parse_new_handler(h) for h in add]
        removed = list(remove)
        ref, why = decision_ref.strip(), reason.strip()
        if not ref or len(ref) > 300:
            raise Invalid("市の決定（決裁番号など）を 300 文字以内で指定してください。取扱者の変更は市の承認が必要です。",
                          "name the city's decision (its file number) in at most 300 characters: a change of "
                          "handlers needs the city's approval.")
        if not why or len(why) > 500:
            raise Invalid("変更の理由（退職、異動など）を 500 文字以内で入力してください。",
                          "give the reason (a leaver, a transfer) in at most 500 characters.")
        if not added and not removed:
            raise Invalid("追加（--add）または削除（--remove）する取扱者を指定してください。",
                          "name a handler to add (--add) or remove (--remove).")
        if len({h.login for h in added} | set(removed)) != len(added) + len(removed):
            raise Invalid("同じ ID を二度指定しています。", "the same login is named twice.")
        for h in added:
            if h.role not in HANDLER_ROLES or not h.login or len(h.login) > 64 or len(h.name) > 200:
                raise Invalid(f"取扱者「{h.login[:64]}」の役割は {' / '.join(HANDLER_ROLES)} のどちらかです。",
                              f"handler '{h.login[:64]}': the role is one of {', '.join(HANDLER_ROLES)}.")
        digest = _decision_sha256(decision)
        with gw.unit() as session:
            approval = get_approval(session, approval_id)
            a.subject_org = org
            if org == approval.city.id or org not in {o.id for o in approval.organisations()}:
                raise NotFound(f"組織「{org}」はこの承認の受託者・再委託先ではありません。",
                               f"'{org}' is not a contractor or subcontractor under this approval.")
            current = [h.login for h in approval.handlers_of(org)]
            missing = [login for login in removed if login not in current]
            if missing:
                raise Conflict(f"取扱者名簿にいません: {', '.join(missing)}", f"not on the handler list: {', '.join(missing)}")
            present = [h.login for h in added if h.login in current]
            if present:
                raise Conflict(f"既に取扱者名簿にいます: {', '.join(present)}",
                               f"already on the handler list: {', '.join(present)}")
            after = [login for login in current if login not in removed] + [h.login for h in added]
            if not after:
                raise Invalid("取扱者が一人もいなくなります。後任を --add で同時に指定してください。",
                              "the list would be empty; name the successor with --add in the same amendment.")
            now = gw.clock.now()
            accounts = {h.login: _account(session, h, org, now) for h in added}
            _, document = gw.ledger.record(session, a.event(
                reason=f"{org}: +{','.join(h.login for h in added) or '-'} -{','.join(removed) or '-'}; {ref}; {why}",
                evidence_type="handler-amendment",
                evidence={"organisation": org, "added": [{"login": h.login, "name": h.name, "role": h.role} for h in added],
                          "removed": removed, "handlers_after": after, "decision_ref": ref,
                          "decision_sha256": digest, "reason": why}))
            assert document is not None
            names = {h.login: h for h in approval.handlers_of(org)}
            for login in remove:
                old = names[login]
                session.add(HandlerAmendment(approval_id=approval.id, organisation_id=org, login=login, change="remove",
                                             name=old.name, role=old.role, decision_ref=ref, decision_sha256=digest,
                                             reason=why, at=now, by=actor.user or "", evidence_id=document["id"]))
                user_id = session.scalar(select(m.User.id).where(m.User.login == login))
                session.execute(delete(m.HandlerDesignation).where(m.HandlerDesignation.approval_id == approval.id,
                                                                   m.HandlerDesignation.user_id == user_id))
            for h in added:
                session.add(HandlerAmendment(approval_id=approval.id, organisation_id=org, login=h.login, change="add",
                                             name=h.name, role=h.role, decision_ref=ref, decision_sha256=digest,
                                             reason=why, at=now, by=actor.user or "", evidence_id=document["id"]))
                session.add(m.HandlerDesignation(approval_id=approval.id, user_id=accounts[h.login].id, role=h.role))
            return after


def _account(session: Session, h: NewHandler, org: str, at: datetime) -> m.User:
    """The new handler's account: an existing one of the same organisation, or a new one without
    credentials (issued separately, as for handlers an approval names when registered)."""
    user = session.scalar(select(m.User).where(m.User.login == h.login))
    if user is None:
        user = m.User(login=h.login, display_name=h.name, organisation_id=org, role="contractor", created_at=at)
        session.add(user)
        session.flush()
        return user
    if user.organisation_id != org or user.role != "contractor":
        raise Conflict(f"「{h.login}」は別の組織（{user.organisation_id}）または受託者以外のアカウントです。",
                       f"'{h.login}' is an account of another organisation ({user.organisation_id}) or not a contractor.")
    if user.disabled:
        raise Conflict(f"「{h.login}」のアカウントは無効です。先に有効にしてください。",
                       f"the account '{h.login}' is disabled; enable it first.")
    return user
