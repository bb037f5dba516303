"""Accounts over their life, each act by an administrator and logged: disabling a leaver's account
(its sessions end at once), enabling it again, lifting a log-in lock, and recording how the
initial credentials reached the person (page address and ID, the password by hand or 簡易書留)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import Conflict, Forbidden, Invalid, NotFound
from gateway.ledger.log import Actor
from gateway.operations.attempt import Attempt, attempt
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_accounts import CredentialDelivery
from gateway.store.models_portal import LoginThrottle, PortalSession

DELIVERY_METHODS = {"by-hand": ("手渡し", "by hand"), "registered-mail": ("簡易書留", "registered mail")}


def require_admin(actor: Actor) -> None:
    if actor.role != "admin":
        raise Forbidden("利用者の管理は管理者だけができます。", "only the administrator manages accounts.")


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text or len(text) > 500:
        raise Invalid("理由を 500 文字以内で入力してください（例: 退職、異動、端末の紛失）。",
                      "give the reason in at most 500 characters (a leaver, a transfer, a lost terminal).")
    return text


def _user(a: Attempt, session: Session, login: str) -> m.User:
    user = session.scalar(select(m.User).where(m.User.login == login))
    if user is None:
        raise NotFound(f"利用者「{login}」は登録されていません。", f"no account '{login}'.")
    a.subject_org = user.organisation_id
    return user


def disable(gw: Gateway, login: str, *, reason: str, actor: Actor, channel: str = "cli") -> None:
    """The account can no longer log in on any channel; its open portal sessions end now."""
    with attempt(gw, actor, "user.disable", channel=channel) as a, gw.unit() as session:
        require_admin(actor)
        text = _reason(reason)
        user = _user(a, session, login)
        if user.login == actor.user:
            raise Conflict("自分自身のアカウントは無効にできません。", "you cannot disable your own account.")
        if user.disabled:
            raise Conflict(f"利用者「{login}」は既に無効です。", f"account '{login}' is already disabled.")
        user.disabled = True
        sessions = list(session.scalars(select(PortalSession).where(PortalSession.user_id == user.id)))
        for row in sessions:
            session.delete(row)
        ended = len(sessions)
        gw.ledger.record(session, a.event(reason=f"{login} disabled: {text}; {ended} session(s) ended"))


def enable(gw: Gateway, login: str, *, reason: str, actor: Actor, channel: str = "cli") -> None:
    with attempt(gw, actor, "user.enable", channel=channel) as a, gw.unit() as session:
        require_admin(actor)
        text = _reason(reason)
        user = _user(a, session, login)
        if not user.disabled:
            raise Conflict(f"利用者「{login}」は無効になっていません。", f"account '{login}' is not disabled.")
        user.disabled = False
        gw.ledger.record(session, a.event(reason=f"{login} enabled: {text}"))


def unlock(gw: Gateway, login: str, *, actor: Actor, channel: str = "cli") -> None:
    """Lift the lock that repeated failed log-ins put on the account (the count starts again)."""
    with attempt(gw, actor, "user.unlock", channel=channel) as a, gw.unit() as session:
        require_admin(actor)
        _user(a, session, login)
        throttle = session.get(LoginThrottle, ("account", login))
        now = gw.clock.now()
        if throttle is None or throttle.locked_until is None or throttle.locked_until <= now:
            raise Conflict(f"利用者「{login}」はロックされていません。", f"account '{login}' is not locked.")
        session.delete(throttle)
        gw.ledger.record(session, a.event(reason=f"{login} unlocked after {throttle.failures} failed log-ins"))


def is_locked(gw: Gateway, login: str) -> bool:
    with gw.read() as session:
        throttle = session.get(LoginThrottle, ("account", login))
        return bool(throttle and throttle.locked_until and throttle.locked_until > gw.clock.now())


def record_delivery(gw: Gateway, login: str, *, method: str, reference: str, actor: Actor,
                    channel: str = "cli") -> None:
    """Record that the initial credentials were delivered, and how (Shinjuku requires the password
    by hand or by 簡易書留, apart from the page address and ID)."""
    with attempt(gw, actor, "user.credentials-delivered", channel=channel) as a, gw.unit() as session:
        require_admin(actor)
        if method not in DELIVERY_METHODS:
            raise Invalid(f"交付方法は {' / '.join(DELIVERY_METHODS)} から選んでください。",
                          f"the delivery method is one of {', '.join(DELIVERY_METHODS)}.")
        ref = reference.strip()
        if not ref or len(ref) > 200:
            raise Invalid("追跡番号または手渡しした人を 200 文字以内で入力してください。",
                          "give the tracking number or who handed it over, in at most 200 characters.")
        user = _user(a, session, login)
        if user.password_hash is None:
            raise Conflict(f"「{login}」の初期パスワードはまだ発行されていません（gateway user issue-password）。",
                           f"no initial password was issued for '{login}' yet (gateway user issue-password).")
        session.add(CredentialDelivery(user_id=user.id, method=method, reference=ref, recorded_at=gw.clock.now(),
                                       recorded_by=actor.user or ""))
        gw.ledger.record(session, a.event(reason=f"initial credentials for {login} delivered {method}: {ref}"))
