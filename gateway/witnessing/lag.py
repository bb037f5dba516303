"""How far each witness is behind the log: what `/metrics` reports as the witness lag.

Two figures per active witness, both read from the database (so a checkpoint written at the
command line counts as much as one written by the service): the log entries the witness has not
cosigned yet (the latest checkpoint's size minus the size it last cosigned), and how long the
oldest checkpoint it has not cosigned has been waiting. A witness that is down shows a lag that
grows; one that is caught up shows 0 and 0. An officer alerts on the seconds: a log tail that no
witness has seen for hours is the tail an auditor will report as unwitnessed.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from gateway.service import Gateway
from gateway.store import models as m
from gateway.store.models_witness import Witness


@dataclass(frozen=True)
class Lag:
    witness: str  # its key name, as `gateway witness list` shows it
    entries: int
    seconds: int


def witness_lags(gw: Gateway) -> list[Lag]:
    now = gw.clock.now()
    out: list[Lag] = []
    with gw.read() as session:
        latest = session.scalar(select(func.max(m.Checkpoint.size))) or 0
        for w in session.scalars(select(Witness).where(Witness.removed_at.is_(None)).order_by(Witness.id)):
            behind = max(latest - w.size, 0)
            oldest = session.scalar(select(func.min(m.Checkpoint.at)).where(m.Checkpoint.size > w.size)) \
                if behind else None
            seconds = max(int((now - oldest).total_seconds()), 0) if oldest is not None else 0
            out.append(Lag(w.name, behind, seconds))
    return out
