"""The installation's first operator, made by `gateway init` (gateway.operations.operators has the rest).

It lives below the operations so that `gateway init` (gateway.installation) can make it in the same
transaction as the rest of the installation, and record it in the same `system.init` entry.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store import models as m
from gateway.store.models_operators import Operator

ADMIN_LOGIN = "admin"
ADMIN_ORG = "gateway"


def bootstrap(session: Session, user: str, at: datetime) -> bool:
    """At `gateway init`: the first operator, mapped to the administrator account (made here),
    unless the installation has operators already. Returns whether it was made."""
    if session.scalar(select(Operator.os_user).limit(1)) is not None:
        return False
    if session.get(m.Organisation, ADMIN_ORG) is None:
        session.add(m.Organisation(id=ADMIN_ORG, name="ゲートウェイ管理 / gateway administration", kind="gateway"))
    admin = session.scalar(select(m.User).where(m.User.login == ADMIN_LOGIN))
    if admin is None:
        admin = m.User(login=ADMIN_LOGIN, display_name="ゲートウェイ管理者 / gateway administrator",
                       organisation_id=ADMIN_ORG, role="admin", created_at=at)
        session.add(admin)
        session.flush()
    session.add(Operator(os_user=user, user_id=admin.id, added_at=at, added_by="gateway init"))
    return True
