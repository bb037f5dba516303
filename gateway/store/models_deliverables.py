"""Deliverables: files a contractor returns to the city under a transfer, whatever the channel."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base


class Deliverable(Base):
    """A file a contractor returns to the city under a transfer (proofs, result lists)."""

    __tablename__ = "deliverables"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfers.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    blob_id: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]
