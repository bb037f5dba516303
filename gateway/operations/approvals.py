"""Registering a council approval: its TOML read strictly, stored once, logged."""
from __future__ import annotations

from pathlib import Path

from gateway.core.approvals import Approval
from gateway.ledger.log import Actor
from gateway.operations.attempt import attempt
from gateway.service import Gateway
from gateway.store.registry import register_approval


def add_approval(gw: Gateway, path: Path, *, actor: Actor, channel: str = "cli",
                 shown_as: str | None = None) -> tuple[Approval, bool]:
    """The approval and whether it is new; the same file again changes nothing and logs nothing."""
    with attempt(gw, actor, "approval.add", channel=channel) as a, gw.unit() as session:
        approval, new = register_approval(session, path, actor=actor.user or "", at=gw.clock.now(), shown_as=shown_as)
        if new:
            a.approval = approval.id
            gw.ledger.record(session, a.event(reason=f"registered {path.name}, sha256 {approval.source_sha256}"))
    return approval, new
