"""Named operators: the operating-system users allowed to run `gateway` commands, each mapped to
the gateway account they act as (`gateway operator add OSUSER --login L`)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base


class Operator(Base):
    __tablename__ = "operators"
    os_user: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    added_at: Mapped[datetime]
    added_by: Mapped[str] = mapped_column(String(64))
