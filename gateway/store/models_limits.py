"""The download limit fixed for a transfer when it was sent (issue 20: 複写及び複製の禁止), and
the downloads counted against it."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base


class DownloadLimit(Base):
    __tablename__ = "download_limits"
    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfers.id"), primary_key=True)
    max_complete: Mapped[int] = mapped_column(Integer)  # complete downloads allowed
    retries: Mapped[int] = mapped_column(Integer)  # broken downloads that may be tried again
    # Downloads begun (complete, broken, in flight, or cut off unseen) and those known broken:
    # begun - broken is what holds a complete download's place. Kept here, not counted from the
    # log, so that taking one is a single conditional UPDATE (downloads.begin).
    started: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    broken: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
