"""What the gateway logged while a scenario's person acted: how the simulation learns why an
attempt was refused (the finding kinds), as a security officer would, from the log."""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from gateway.service import Gateway
from gateway.store import models as m


def last_seq(gw: Gateway) -> int:
    with gw.read() as session:
        return int(session.scalar(select(func.max(m.LogEntry.seq))) or 0)


def entries_since(gw: Gateway, seq: int, outcomes: tuple[str, ...]) -> list[dict[str, Any]]:
    """The bodies of the entries after `seq` with one of `outcomes`, oldest first."""
    with gw.read() as session:
        bodies = session.scalars(select(m.LogEntry.body).where(
            m.LogEntry.seq > seq, m.LogEntry.outcome.in_(outcomes)).order_by(m.LogEntry.seq))
        return [json.loads(body) for body in bodies]
