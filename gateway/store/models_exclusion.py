"""The city's separately held exclusion lists, as keyed digests (operations/exclusion_lists.py).

In the database, not in a node's home: every node of one gateway screens a send by the same list,
and a list imported again replaces it for all of them at once (a DV evacuee added on one node and
not seen by another would be sent to the contractor)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base


class ExclusionList(Base):
    __tablename__ = "exclusion_lists"
    population: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_field: Mapped[str] = mapped_column(String(32))  # addressee_code | resident_number
    # Which list key made the digests (keyed_lists.key_id): a node holding another key would match
    # no one, so it refuses to screen instead.
    key_id: Mapped[str] = mapped_column(String(32))
    digests: Mapped[list[str]] = mapped_column()  # HMAC-SHA256 of each normalised number, sorted
    entries: Mapped[int]
    set_sha256: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime]
