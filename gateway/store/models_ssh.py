"""SSH keys: the keys contractors' handlers log in (and sign) with, and contractors' pinned host keys."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base


class SshKey(Base):
    """A public key a contractor's handler logs in with; one key belongs to one person."""

    __tablename__ = "ssh_keys"
    fingerprint: Mapped[str] = mapped_column(String(80), primary_key=True)  # SHA256:... as OpenSSH shows it
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    public_key: Mapped[str] = mapped_column(Text)  # "ssh-ed25519 AAAA..." without the comment
    added_at: Mapped[datetime]
    # Set when the key is withdrawn: it no longer logs in or signs. What it signed before stays
    # valid; the signed key registration and revocation evidence say when it was whose.
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    registration_evidence: Mapped[str | None] = mapped_column(String(64), default=None)


class PinnedHost(Base):
    """The contractor's own SFTP server the gateway pushes to, with its host key pinned."""

    __tablename__ = "pinned_hosts"
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(64))
    host_key: Mapped[str] = mapped_column(Text)  # "ssh-ed25519 AAAA..."
    directory: Mapped[str] = mapped_column(String(255))
    pinned_at: Mapped[datetime]
