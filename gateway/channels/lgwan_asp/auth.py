"""Login: argon2id passwords, throttling and lockout, one answer for every failure.

Parameters follow OWASP ASVS 5.0 Appendix C / the OWASP Password Storage Cheat Sheet minimum for
argon2id (m = 19 MiB, t = 2, p = 1). Failures are counted per login *as typed* and per source
address; an unknown login is counted and locked exactly like a real one and is checked against a
dummy hash, so neither the answer nor its timing tells whether an account exists. The lock is
logged once, as `brute-force`.
"""
from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select

from gateway.channels.lgwan_asp import directory_login
from gateway.errors import Conflict, GatewayError, Invalid, NotFound, Unauthenticated, Unavailable
from gateway.findings import Kind
from gateway.ledger.log import Actor, Event
from gateway.operations.attempt import attempt
from gateway.service import Gateway
from gateway.settings import PortalSettings
from gateway.store import models as m
from gateway.store.models_directory import DirectoryAccount
from gateway.store.models_portal import LoginThrottle
from gateway.store.throttles import locked_throttle

CHANNEL = "lgwan-asp"

HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)
_DUMMY = HASHER.hash(secrets.token_urlsafe(16))

MIN_LENGTH = 12  # ASVS 5.0 asks for at least 8 and recommends 15; 12 is this portal's floor
MAX_LENGTH = 128


@dataclass(frozen=True)
class Limits:
    account_failures: int = 5
    source_failures: int = 20
    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=15)
    # Each failure after the second waits a little longer before answering (capped), so a
    # guesser gets few tries per minute even before the lock.
    delay_step: float = 0.2
    delay_cap: float = 2.0

    @classmethod
    def of(cls, settings: PortalSettings) -> Limits:
        return cls(account_failures=settings.login_account_failures, source_failures=settings.login_source_failures,
                   window=timedelta(minutes=settings.login_window_minutes),
                   lock=timedelta(minutes=settings.login_lock_minutes))


def login_refused(detail: str, *, locked_now: bool = False) -> Unauthenticated:
    """The same words for every failed login, so they reveal nothing; `detail` is for the log."""
    return Unauthenticated(
        "ログインできませんでした。ID とパスワードを確認してください。失敗が続くと一定時間ロックされます。",
        "login failed: check your ID and password. Repeated failures lock the login for a while.",
        kinds=[Kind.BRUTE_FORCE] if locked_now else (), detail=detail)




def login(gw: Gateway, login_name: str, password: str, *, terminal: str, terminal_owner: int | None,
          source: str | None, limits: Limits) -> m.User:
    """The account, if the password is right, nothing is locked and the terminal is the user's own.
    A directory account's password is checked by a bind to the city's directory, and its role is
    the one its groups there map to (directory_login.py)."""
    key = login_name.strip()[:200]
    src = (source or "-")[:200]
    now = gw.clock.now()
    with gw.unit() as session:
        user = session.scalar(select(m.User).where(m.User.login == key))
        in_directory = user is not None and not user.disabled and \
            session.get(DirectoryAccount, user.id) is not None
        stored = user.password_hash if user is not None and not user.disabled and not in_directory else None
        user_id = user.id if user is not None else None
        # Failures count against the account only when they come from the account's own terminal:
        # typed at someone else's terminal they count against that terminal (and the source), so
        # nobody can lock a colleague out from their own desk (issue 19, defect 6).
        scopes = _scopes(key, src, terminal, own=user_id is not None and terminal_owner == user_id)
        # Only read here: a row is made by the first failure (`_fail`), never by a login's look.
        throttles = [session.get(LoginThrottle, (scope, k)) for scope, k in scopes]
        locked = any(t is not None and t.locked_until is not None and t.locked_until > now for t in throttles)
        known = Actor(user=user.login, org=user.organisation_id, role=user.role, terminal=terminal) \
            if user is not None else Actor(terminal=terminal)
    reason = None
    told: Unauthenticated | None = None
    verdict: directory_login.Verdict | None = None
    if in_directory:
        assert user is not None
        # Locked: the directory is not asked, so a guesser cannot go on trying passwords there.
        verdict = None if locked else directory_login.check(gw, user.organisation_id, key, password)
        if verdict is not None and verdict.unavailable is not None:
            raise _unavailable(gw, known, source, verdict.unavailable)
        ok = verdict is not None and verdict.role is not None
        if verdict is not None and not ok:
            reason, told = verdict.detail, verdict.told
    else:
        ok = _verify(stored, password)  # always pays the hash, also when locked or unknown
    if locked:
        reason = "login locked after repeated failures"
    elif not ok:
        reason = reason or ("wrong password" if stored is not None else "unknown, disabled or credential-less account")
    elif terminal_owner != user_id:
        # A designated terminal belongs to one person: another's certificate does not log you in.
        reason, told = "terminal certificate was issued to another account", None
    if reason is None:
        with gw.unit() as session:
            row = session.get(m.User, user_id)
            assert row is not None
            note = None
            if verdict is not None and verdict.role is not None:
                note = directory_login.apply_role(row, verdict)
                known = Actor(user=row.login, org=row.organisation_id, role=row.role, terminal=terminal)
            elif stored is not None and HASHER.check_needs_rehash(stored):
                row.password_hash = HASHER.hash(password)
            t = session.get(LoginThrottle, ("account", key))
            if t is not None:
                session.delete(t)
            gw.ledger.record(session, Event(action="auth.login", channel="lgwan-asp", actor=known, source=source,
                                            reason=note))
            session.expunge(row)
            return row
    raise _fail(gw, scopes, known, source, reason, locked, limits, told=told)


def _unavailable(gw: Gateway, who: Actor, source: str | None, detail: str) -> GatewayError:
    """The directory could not be asked (down, or its TLS failed): logged as a refused login, but
    not counted against the person, who did nothing wrong: an outage must not lock every desk."""
    with attempt(gw, who, "auth.login", channel=CHANNEL, source=source) as a, gw.unit() as session:
        err = a.refuse_in(session, Unavailable(
            "ディレクトリ（職員の認証サーバー）に接続できないため、ログインできません。しばらくしてからやり直し、"
            "続く場合はシステム管理者に連絡してください。",
            "the city's directory cannot be reached, so directory logins fail now: try again later, and tell "
            "the system administrator if it persists.", detail=detail))
    return err


def _scopes(key: str, src: str, terminal: str, *, own: bool) -> list[tuple[str, str]]:
    """The throttles a login attempt counts against: (account or terminal) and source."""
    return [("account", key) if own else ("terminal", terminal[:200] or "-"), ("source", src)]


def _fail(gw: Gateway, scopes: list[tuple[str, str]], who: Actor, source: str | None, reason: str,
          was_locked: bool, limits: Limits, *, told: Unauthenticated | None = None) -> GatewayError:
    """Count the failure and log the refusal in one transaction; the refusal that locks an account or
    source is logged as `auth.lockout` (brute-force). Returns the error, logged, to raise."""
    now = gw.clock.now()
    newly: list[str] = []
    with attempt(gw, who, "auth.login", channel=CHANNEL, source=source) as a, gw.unit() as session:
        failures = 0
        for scope, k in scopes:
            limit = limits.source_failures if scope == "source" else limits.account_failures
            t = locked_throttle(session, scope, k)
            if t.first_failure_at is None or now - t.first_failure_at > limits.window:
                t.failures, t.first_failure_at = 0, now
            t.failures += 1
            if scope != "source":
                failures = t.failures
            if t.failures >= limit and not (t.locked_until is not None and t.locked_until > now):
                t.locked_until = now + limits.lock
                newly.append(scope)
        if newly:
            a.action = "auth.lockout"
            reason += (f"; {' and '.join(newly)} locked for {int(limits.lock.total_seconds() // 60)} min after"
                       " repeated failed logins")
        if told is not None and not newly:
            # Said only after the directory accepted the password: it reveals nothing to a guesser.
            told.detail = reason
            err = a.refuse_in(session, told)
        else:
            err = a.refuse_in(session, login_refused(reason, locked_now=bool(newly)))
    if not was_locked and failures > 2:
        time.sleep(min(limits.delay_step * (failures - 2), limits.delay_cap))
    return err


def _verify(stored: str | None, password: str) -> bool:
    try:
        return HASHER.verify(stored or _DUMMY, password[:MAX_LENGTH * 4]) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_new_password(user: m.User, new: str, confirm: str) -> None:
    if new != confirm:
        raise Invalid("新しいパスワードが確認欄と一致しません。", "the new password and its confirmation differ.")
    if not MIN_LENGTH <= len(new) <= MAX_LENGTH:
        raise Invalid(f"パスワードは {MIN_LENGTH}〜{MAX_LENGTH} 文字にしてください。",
                           f"use a password of {MIN_LENGTH} to {MAX_LENGTH} characters.")
    if user.login.lower() in new.lower():
        raise Invalid("パスワードに ID を含めないでください。", "do not include your ID in the password.")


def change_password(gw: Gateway, user_id: int, current: str, new: str, confirm: str, *, actor: Actor,
                    source: str | None) -> None:
    with attempt(gw, actor, "auth.password-change", channel=CHANNEL, source=source) as a:
        with gw.read() as session:
            user = session.get(m.User, user_id)
            assert user is not None
            stored = user.password_hash
            if session.get(DirectoryAccount, user_id) is not None:
                raise Conflict("パスワードはディレクトリ（職員の認証サーバー）で管理されています。変更は庁内の手順で行ってください。",
                               "your password is the directory's: change it there, as your city's procedure says.")
        if not _verify(stored, current):
            raise Unauthenticated("現在のパスワードが正しくありません。", "the current password is wrong.")
        check_new_password(user, new, confirm)
        if _verify(stored, new):
            raise Invalid("現在と異なるパスワードにしてください。", "choose a password different from the current one.")
        with gw.unit() as session:
            row = session.get(m.User, user_id)
            assert row is not None
            row.password_hash = HASHER.hash(new)
            row.must_change_password = False
            gw.ledger.record(session, a.event())


ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")


def issue_initial_password(gw: Gateway, login_name: str, *, actor: Actor, channel: str = "cli") -> str:
    """A random initial password (printed once, for the registered-mail letter) that must be changed."""
    password = "-".join("".join(secrets.choice(ALPHABET) for _ in range(5)) for _ in range(4))
    with attempt(gw, actor, "user.issue-password", channel=channel) as a, gw.unit() as session:
        user = session.scalar(select(m.User).where(m.User.login == login_name))
        if user is None or user.disabled:
            raise NotFound(f"利用者「{login_name}」は登録されていないか、無効です。",
                           f"user '{login_name}' is not registered or is disabled.")
        if session.get(DirectoryAccount, user.id) is not None:
            raise Conflict(f"「{login_name}」はディレクトリでログインする利用者です。パスワードはディレクトリで管理されます。",
                           f"'{login_name}' logs in through the directory; its password is managed there.")
        a.subject_org = user.organisation_id
        user.password_hash = HASHER.hash(password)
        user.must_change_password = True
        t = session.get(LoginThrottle, ("account", login_name))
        if t is not None:
            session.delete(t)
        gw.ledger.record(session, a.event(reason=f"initial password issued for {login_name}"))
    return password
