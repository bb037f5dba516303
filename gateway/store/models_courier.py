"""The courier channel's tables: media and password notices as items, and their custody records.

An item is registered when it comes into being (a media image written, a password notice first
handed over); every change of hands is one `courier_events` row, written in the transaction of
its log entry and signed `custody` evidence. Who holds an item is never stored as such: it is
replayed from the events (gateway/core/custody.py), the same way the auditor replays the bundle.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base


class CourierItem(Base):
    __tablename__ = "courier_items"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # media serial or notice id
    kind: Mapped[str] = mapped_column(String(16))  # media | notice
    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfers.id"), index=True)
    media: Mapped[str | None] = mapped_column(String(8), default=None)  # cdr | dvd | hdd
    quantity: Mapped[int] = mapped_column(Integer)  # pieces: discs of a split set; 1 for a notice
    registered_user: Mapped[str] = mapped_column(String(64))  # login of the first holder
    registered_org: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    registered_at: Mapped[datetime]
    cabinet: Mapped[str | None] = mapped_column(String(200), default=None)
    label: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # what the media label says


class CourierEvent(Base):
    """One 確認書 entry: item, from, to, date and time, place, content, quantity, cabinet."""

    __tablename__ = "courier_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("courier_items.id"), index=True)
    event: Mapped[str] = mapped_column(String(16))  # handover | return | lost
    from_user: Mapped[str | None] = mapped_column(String(64), default=None)
    from_org: Mapped[str | None] = mapped_column(String(64), default=None)
    to_user: Mapped[str | None] = mapped_column(String(64), default=None)
    to_org: Mapped[str | None] = mapped_column(String(64), default=None)
    at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(String(400))
    quantity: Mapped[int] = mapped_column(Integer)
    cabinet: Mapped[str | None] = mapped_column(String(200), default=None)
    means: Mapped[str | None] = mapped_column(String(32), default=None)
    run: Mapped[str | None] = mapped_column(String(64), default=None)
    return_due: Mapped[datetime | None] = mapped_column(default=None)
    details: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # receipt, incident report
    evidence_id: Mapped[str] = mapped_column(String(64))
    log_seq: Mapped[int] = mapped_column(ForeignKey("log_entries.seq"))
