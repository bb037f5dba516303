"""Key-encryption key generations: which exist, which is current, which are destroyed.

A blob's wrapped data key names its generation (`blobs.kek_generation`); the key material is in
the backend the generation names (a file under keys/kek/, or a PKCS#11 token), never here. The
current generation is the newest one not retired; a rotation retires the others in the
transaction that re-wraps their live keys, and destroys their material after it commits.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base


class KekGeneration(Base):
    __tablename__ = "kek_generations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    backend: Mapped[str] = mapped_column(String(16))  # "file" | "pkcs11"
    created_at: Mapped[datetime | None]  # None: the key that existed before generations were recorded
    retired_at: Mapped[datetime | None] = mapped_column(default=None)
    destroyed_at: Mapped[datetime | None] = mapped_column(default=None)
