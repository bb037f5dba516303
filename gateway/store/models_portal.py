"""The LGWAN-ASP portal's tables: sessions, login throttling and the designated terminals' certificates.

A session row stores only the SHA-256 of the token the browser holds, so a copy of the database
cannot be replayed as a cookie. Throttling rows are keyed by the login *as typed* (not by user id),
so an unknown login locks exactly like a real one and the answers cannot tell them apart.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base


class PortalSession(Base):
    __tablename__ = "portal_sessions"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # web (cookie) | api (bearer token)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The session works only from the terminal (client certificate) it was opened on.
    terminal: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64), default=None)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class LoginThrottle(Base):
    __tablename__ = "portal_login_throttles"
    scope: Mapped[str] = mapped_column(String(8), primary_key=True)  # account | terminal | source
    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # the login as typed, or the address
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime | None] = mapped_column(default=None)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)


class TerminalCertificate(Base):
    """A client certificate issued to one person's designated terminal (専用端末)."""

    __tablename__ = "terminal_certificates"
    serial: Mapped[str] = mapped_column(String(40), primary_key=True)  # hex
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the DER certificate
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    issued_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
