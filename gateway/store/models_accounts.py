"""Accounts over their life: amended handler lists and the delivery of initial credentials."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base


class HandlerAmendment(Base):
    """One change to an approval's list of designated handlers (a handler leaving or joining:
    退職・異動), under the city's recorded decision. The approval's text stays as the council
    approved it; its handler list is that text with these changes applied, in order."""

    __tablename__ = "handler_amendments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    approval_id: Mapped[str] = mapped_column(ForeignKey("approvals.id"), index=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    login: Mapped[str] = mapped_column(String(64))
    change: Mapped[str] = mapped_column(String(8))  # add | remove
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # responsible | handler
    decision_ref: Mapped[str] = mapped_column(Text)  # where the city's decision is filed
    decision_sha256: Mapped[str | None] = mapped_column(String(64), default=None)  # of its scan
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    by: Mapped[str] = mapped_column(String(64))
    evidence_id: Mapped[str] = mapped_column(String(64))


class CredentialDelivery(Base):
    """How a person's initial credentials reached them: the page address and ID, and the
    password by hand or by 簡易書留, as the city's rules require; recorded by who sent them."""

    __tablename__ = "credential_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    method: Mapped[str] = mapped_column(String(24))  # by-hand | registered-mail
    reference: Mapped[str] = mapped_column(Text)  # the mail's tracking number, or who handed it over
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(64))
