"""Server-side sessions: the browser holds only a random token; the database holds its SHA-256.

A session is bound to the terminal (client certificate) it was opened on, ends after an idle
period and after an absolute lifetime, both measured by the gateway's clock, so rehearsals and
tests move time the same way for sessions as for everything else.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from gateway.operations.accounts import Caller
from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.failures import DatabaseBusy
from gateway.store.models_portal import PortalSession, TerminalCertificate

COOKIE = "__Host-session"
IDLE = timedelta(minutes=15)
ABSOLUTE = timedelta(hours=8)
# Writing last_seen on every request would serialise all requests on the database's write lock.
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class Auth:
    """Who is calling, as the guard found them: one per request."""

    token_sha256: str
    kind: str  # web | api
    user_id: int
    login: str
    name: str
    org: str
    role: str
    must_change_password: bool
    csrf: str
    terminal: str
    source: str | None

    def caller(self) -> Caller:
        return Caller(self.login, "lgwan-asp", source=self.source, terminal=self.terminal)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def create(gw: Gateway, user: m.User, *, kind: str, terminal: str, source: str | None) -> tuple[str, str]:
    """A new session; returns (token for the cookie or bearer header, its CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = gw.clock.now()
    with gw.unit() as session:
        session.add(PortalSession(token_sha256=digest(token), kind=kind, user_id=user.id, terminal=terminal,
                                  source=source, csrf=csrf, created_at=now, last_seen_at=now))
    return token, csrf


def resolve(gw: Gateway, token: str | None, *, kind: str, terminal: str, source: str | None) -> Auth | None:
    """The session of `token`, read without the write lock (the guard calls this for every
    request); the rare writes, ending an expired session and the 30-second touch, are short
    transactions of their own after the read."""
    if not token or len(token) > 200:
        return None
    now = gw.clock.now()
    with gw.read() as session:
        row = session.get(PortalSession, digest(token))
        if row is None or row.kind != kind or row.ended_at is not None or row.terminal != terminal:
            return None
        expired = now - row.last_seen_at > IDLE or now - row.created_at > ABSOLUTE
        user = None if expired else session.get(m.User, row.user_id)
    if expired:
        # Expired by the clock whether or not this write gets through; a later request retries it.
        _mark_if_free(gw, row.token_sha256, ended_at=now)
        return None
    if user is None or user.disabled:
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        # Only the idle clock's precision is lost if the database is busy: the next request touches it.
        _mark_if_free(gw, row.token_sha256, last_seen_at=now)
    return Auth(row.token_sha256, row.kind, user.id, user.login, user.display_name, user.organisation_id,
                user.role, bool(user.must_change_password), row.csrf, terminal, source)


def _mark_if_free(gw: Gateway, token_sha256: str, **values: datetime) -> None:
    try:
        with gw.unit() as session:
            row = session.get(PortalSession, token_sha256)
            if row is not None and row.ended_at is None:
                for name, value in values.items():
                    setattr(row, name, value)
    except DatabaseBusy:
        pass


def end(gw: Gateway, token_sha256: str) -> None:
    with gw.unit() as session:
        row = session.get(PortalSession, token_sha256)
        if row is not None and row.ended_at is None:
            row.ended_at = gw.clock.now()


def end_all_for(gw: Gateway, user_id: int, *, keep: str | None = None) -> None:
    """After a password change every other session of the account ends."""
    now = gw.clock.now()
    with gw.unit() as session:
        for row in session.scalars(select(PortalSession).where(PortalSession.user_id == user_id,
                                                                PortalSession.ended_at.is_(None))):
            if row.token_sha256 != keep:
                row.ended_at = now


def terminal_state(gw: Gateway, fingerprint: str) -> int | None:
    """The owner of an active (issued, unrevoked) terminal certificate, or None."""
    with gw.read() as session:
        row = session.scalar(select(TerminalCertificate).where(TerminalCertificate.fingerprint == fingerprint))
        if row is None or row.revoked:
            return None
        return row.user_id


def rotate_idle(now: datetime, last: datetime) -> bool:  # pragma: no cover - helper for callers
    return now - last > IDLE
