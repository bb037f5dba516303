"""Registering accounts: who may act at the gateway, logged like every change."""
from __future__ import annotations

from gateway.ledger.log import Actor
from gateway.operations.accounts import add_user
from gateway.operations.attempt import attempt
from gateway.service import Gateway


def register_user(gw: Gateway, *, login: str, name: str, org: str, role: str, actor: Actor,
                  channel: str = "cli") -> None:
    """An account, logged; its credentials (password, terminal, SSH key) are issued separately."""
    with attempt(gw, actor, "user.add", channel=channel) as a, gw.unit() as session:
        a.subject_org = org
        add_user(session, login=login, name=name, org=org, role=role, at=gw.clock.now())
        gw.ledger.record(session, a.event(reason=f"{login} ({role}) in {org}"))
