"""Which staff account owns a hot folder: registered once, as a logged configuration change."""
from __future__ import annotations

import hashlib
from pathlib import Path

from gateway.errors import GatewayError
from gateway.ledger.log import Actor, Event
from gateway.operations.accounts import account
from gateway.service import Gateway
from gateway.store import models as m


def _key(root: Path) -> str:
    # Paths are longer than a setting key may be; the log entry of the registration names it.
    return f"hotfolder:{hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:48]}"


def register(gw: Gateway, root: Path, owner: str, actor: Actor) -> None:
    if not root.is_dir() or root.is_symlink():
        raise GatewayError(f"{root} はフォルダーではありません。", f"{root} is not a directory.")
    with gw.unit() as session:
        user = account(session, owner)
        if user.role != "staff":
            raise GatewayError("ホットフォルダーの所有者は職員アカウントです。", "a hot folder is owned by a staff account.")
        row = session.get(m.Setting, _key(root))
        if row is None:
            session.add(m.Setting(key=_key(root), value=owner))
        else:
            row.value = owner
        gw.ledger.record(session, Event(action="hotfolder.register", channel="cli", actor=actor,
                                        reason=f"{root.resolve()} owned by {owner}"))


def owner_of(gw: Gateway, root: Path) -> str:
    with gw.unit() as session:
        row = session.get(m.Setting, _key(root))
    if row is None:
        raise GatewayError(
            f"{root} はホットフォルダーとして登録されていません。`gateway hotfolder register` で所有者を登録してください。",
            f"{root} is not a registered hot folder; register its owner with `gateway hotfolder register`.",
        )
    return row.value
