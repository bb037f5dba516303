"""Which key-encryption key generation new data keys are wrapped under (the rotation itself is
gateway/kek_rotation.py, which also logs it)."""
from __future__ import annotations

from sqlalchemy import Connection, select

from gateway.crypto.kek import KekUnavailable
from gateway.store.models_kek import KekGeneration


def current_generation(conn: Connection) -> tuple[int, str]:
    """The generation (id, backend) new data keys are wrapped under, share-locked until the
    caller's transaction ends so a rotation cannot retire it in between."""
    for _ in range(5):
        row = conn.execute(select(KekGeneration.id, KekGeneration.backend)
                           .where(KekGeneration.retired_at.is_(None))
                           .order_by(KekGeneration.id.desc()).limit(1)).first()
        if row is None:
            break
        # On PostgreSQL this waits for a rotation that holds the row; it may then find it
        # retired, and reads again (a new statement sees the rotation's new generation).
        locked = conn.execute(select(KekGeneration.retired_at).where(KekGeneration.id == row.id)
                              .with_for_update(read=True)).first()
        if locked is not None and locked.retired_at is None:
            return row.id, row.backend
    raise KekUnavailable(
        "使用中の鍵暗号化鍵がありません。`gateway init` を実行してください。",
        "there is no current key-encryption key; run `gateway init`.",
    )
