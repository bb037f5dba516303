"""Sends that wait for a second person (core/second_check.py) and what that person decided."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base


class SecondCheck(Base):
    __tablename__ = "second_checks"
    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfers.id"), primary_key=True)
    reasons: Mapped[list[str]] = mapped_column()
    approvers: Mapped[list[str]] = mapped_column()
    # The package's passphrase, held encrypted at rest (a blob under its own data key) until the
    # check releases the password notice; crypto-erased then, or when the send is rejected.
    held_secret_blob_id: Mapped[str | None] = mapped_column(String(40), default=None)
    password_delivery: Mapped[str] = mapped_column(String(32))  # as the sender chose, for the notice
    requested_at: Mapped[datetime]
    decision: Mapped[str | None] = mapped_column(String(16), default=None)  # approved | rejected
    decided_by: Mapped[str | None] = mapped_column(String(64), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
