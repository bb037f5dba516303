"""Witnesses the gateway submits its checkpoints to, and the cosignatures they returned.

Witnesses are configured with `gateway witness add URL --key VKEY` (logged as `witness.add`), not
in gateway.toml: who vouches for the log is part of the log's own story. A removed witness keeps
its row (and its cosignatures stay with the checkpoints they sign); only active rows are submitted to.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base


class Witness(Base):
    __tablename__ = "witnesses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), index=True)  # the key name of its verifier key
    url: Mapped[str] = mapped_column(Text)  # the submission prefix; POST <url>/add-checkpoint
    vkey: Mapped[str] = mapped_column(Text)  # its C2SP verifier key, type 0x04 (cosignature/v1)
    added_at: Mapped[datetime]
    removed_at: Mapped[datetime | None] = mapped_column(default=None)
    # The size the witness last said it cosigned (its 200, or the size its 409 named): the next
    # consistency proof starts there.
    size: Mapped[int] = mapped_column(Integer, default=0)
    last_ok_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row, since the last answer


class Cosignature(Base):
    """One witness's tlog-cosignature/v1 line on one checkpoint, exactly as the witness returned
    it, kept only after it verified under the witness's key."""

    __tablename__ = "cosignatures"
    checkpoint_size: Mapped[int] = mapped_column(ForeignKey("checkpoints.size"), primary_key=True)
    witness_id: Mapped[int] = mapped_column(ForeignKey("witnesses.id"), primary_key=True)
    line: Mapped[str] = mapped_column(Text)  # "— <name> <base64>" without its newline
    cosigned_at: Mapped[datetime]  # the time the witness states (its clock, not ours)
    received_at: Mapped[datetime]
