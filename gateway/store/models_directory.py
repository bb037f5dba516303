"""Directory accounts: gateway accounts whose password and role live in the city's directory.

A directory account is known to the gateway by its login and organisation, like every account,
so that terminals, SSH keys, operators and the log name it as they name a local one; this row
says only that its password is checked by a bind, and its role read from its groups, at each login.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base


class DirectoryAccount(Base):
    __tablename__ = "directory_accounts"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    added_at: Mapped[datetime]
