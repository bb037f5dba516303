"""Which staff account owns a hot folder: registered once, as a logged configuration change."""
from __future__ import annotations

import hashlib
from pathlib import Path

from gateway.errors import Invalid, NotFound
from gateway.ledger.log import Actor
from gateway.operations.accounts import account
from gateway.operations.attempt import attempt
from gateway.service import Gateway
from gateway.store import models as m


def _key(root: Path) -> str:
    # Paths are longer than a setting key may be; the log entry of the registration names it.
    return f"hotfolder:{hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:48]}"


def register(gw: Gateway, root: Path, owner: str, actor: Actor) -> None:
    with attempt(gw, actor, "hotfolder.register", channel="cli") as a:
        if not root.is_dir() or root.is_symlink():
            raise Invalid(f"{root} はフォルダーではありません。", f"{root} is not a directory.")
        with gw.unit() as session:
            user = account(session, owner)
            if user.role != "staff":
                raise Invalid("ホットフォルダーの所有者は職員アカウントです。", "a hot folder is owned by a staff account.")
            row = session.get(m.Setting, _key(root))
            if row is None:
                session.add(m.Setting(key=_key(root), value=owner))
            else:
                row.value = owner
            gw.ledger.record(session, a.event(reason=f"{root.resolve()} owned by {owner}"))


def owner_of(gw: Gateway, root: Path) -> str:
    with gw.read() as session:
        row = session.get(m.Setting, _key(root))
    if row is None:
        raise NotFound(
            f"{root} はホットフォルダーとして登録されていません。`gateway hotfolder register` で所有者を登録してください。",
            f"{root} is not a registered hot folder; register its owner with `gateway hotfolder register`.",
        )
    return row.value
