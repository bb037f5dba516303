"""The ledger's pruning statements: what was removed from the access log, signed (audit/FORMAT.md).

A statement outlives the entries it describes and the log entry that recorded it (a later prune
may remove that entry too), so it has a table of its own with no foreign key into the log.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base


class LogPruning(Base):
    __tablename__ = "log_prunings"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # log-pruning-<20 hex>
    first_seq: Mapped[int] = mapped_column(Integer)  # first entry removed
    last_seq: Mapped[int] = mapped_column(Integer, unique=True)  # last entry removed: the cut
    log_seq: Mapped[int] = mapped_column(Integer)  # the `log.prune` entry that recorded it
    body: Mapped[str] = mapped_column(Text)  # canonical JSON including the signature
    at: Mapped[datetime]
