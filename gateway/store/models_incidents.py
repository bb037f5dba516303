"""Incidents (事故): what happened, to how many records, where and how, who reported it and when;
the city's instruction (甲の指示) and its deadline, the 公表 decision, and the closure."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base


class Incident(Base):
    __tablename__ = "incidents"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    city_id: Mapped[str] = mapped_column(String(64), index=True)  # the city whose data it concerns
    approval_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    transfer_id: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    content: Mapped[str] = mapped_column(Text)  # 内容
    records: Mapped[int] = mapped_column(Integer)  # 件数
    place: Mapped[str] = mapped_column(Text)  # 発生場所
    circumstances: Mapped[str] = mapped_column(Text)  # 発生状況
    occurred_at: Mapped[datetime]
    reported_by: Mapped[str] = mapped_column(String(64))
    reporter_org: Mapped[str] = mapped_column(String(64))
    reported_at: Mapped[datetime]
    # A contractor's incident the city learnt of first: the contractor's own report is due by then.
    contractor_org: Mapped[str | None] = mapped_column(String(64), default=None)
    contractor_report_due: Mapped[datetime | None] = mapped_column(default=None)
    contractor_reported_at: Mapped[datetime | None] = mapped_column(default=None)
    instruction: Mapped[str | None] = mapped_column(Text, default=None)  # 甲の指示
    instruction_due: Mapped[datetime | None] = mapped_column(default=None)
    instruction_done_at: Mapped[datetime | None] = mapped_column(default=None)
    publication: Mapped[str | None] = mapped_column(String(16), default=None)  # publish | withhold
    publication_reason: Mapped[str | None] = mapped_column(Text, default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    closure: Mapped[str | None] = mapped_column(Text, default=None)
