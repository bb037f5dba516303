"""The download limit fixed for a transfer when it was sent (issue 20: 複写及び複製の禁止)."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base


class DownloadLimit(Base):
    __tablename__ = "download_limits"
    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfers.id"), primary_key=True)
    max_complete: Mapped[int] = mapped_column(Integer)  # complete downloads allowed
    retries: Mapped[int] = mapped_column(Integer)  # broken downloads that may be tried again
