"""C2SP checkpoints over an RFC 6962 tree, and the witnesses that cosign them (issue 17).

- `ledger_head.tree`: the tree's frontier, kept with each entry. An existing log's frontier is
  computed here from its entries.
- `checkpoints` now hold C2SP signed notes with the frontier at their size. The old rows were
  JSON checkpoints (bundle format 1) chained by hash; a migration cannot sign (it holds no key),
  and the first C2SP checkpoint the ledger writes commits to every entry they covered, so they are
  removed and `checkpoint_size` starts again from 0. Bundles exported before keep them.
- `ledger_head.checkpoint_hash` (the format-1 chain) is gone.
- `witnesses`, `cosignatures`: see models_witness.

A log already pruned under format-1 statements cannot be upgraded: those statements carry no
frontier, and the entries they removed are gone, so no later checkpoint's root could be recomputed
by a verifier. The migration then stops and says so, changing nothing.

Revision ID: 0010_witnessed_checkpoints
Revises: 0008_log_pruning
Create Date: 2026-12-07
"""
import hashlib
from collections.abc import Iterable

import sqlalchemy as sa
from alembic import op

from gateway.errors import Unavailable
from gateway.store.models import UTCDateTime

revision = "0010_witnessed_checkpoints"
down_revision = "0008_log_pruning"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT 1 FROM log_prunings LIMIT 1")).first() is not None:
        raise Unavailable(
            "このログは旧形式（format 1）の刈り込み文書で刈り込まれており、C2SP チェックポイントに移行できません"
            "（刈り込み文書に Merkle フロンティアがなく、以後のチェックポイントを検証者が再計算できません）。"
            "何も変更していません。これまでに書き出したバンドルを保管し、新しいインストールで運用を始めてください。",
            "this log was pruned under format-1 statements, which carry no Merkle frontier: no verifier could"
            " recompute its later checkpoints. Nothing was changed. Keep the bundles exported so far and start a"
            " new installation.")
    frontier = _frontier(leaf for (leaf,) in conn.execute(sa.text("SELECT hash FROM log_entries ORDER BY seq")))
    op.add_column("ledger_head", sa.Column("tree", sa.Text(), nullable=False, server_default=""))
    op.add_column("checkpoints", sa.Column("frontier", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("ledger_head") as batch:
        batch.drop_column("checkpoint_hash")
    conn.execute(sa.text("DELETE FROM checkpoints"))
    conn.execute(sa.text("UPDATE ledger_head SET tree = :tree, checkpoint_size = 0"), {"tree": frontier})

    op.create_table(
        "witnesses",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("vkey", sa.Text(), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("removed_at", UTCDateTime(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("last_ok_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
    )
    op.create_index("ix_witnesses_name", "witnesses", ["name"])
    op.create_table(
        "cosignatures",
        sa.Column("checkpoint_size", sa.Integer(), sa.ForeignKey("checkpoints.size"), primary_key=True),
        sa.Column("witness_id", sa.Integer(), sa.ForeignKey("witnesses.id"), primary_key=True),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("cosigned_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )


def _frontier(leaves_hex: Iterable[str]) -> str:
    """The RFC 6962 tree's frontier over the entries' leaf hashes, as ledger_head.tree stores it
    (hex, largest subtree first). Written out here rather than imported from gateway.ledger: a
    migration is a snapshot of its time (and the store must not depend on the ledger above it);
    tests/store/test_witness_migration.py checks it against the auditor's tree."""
    sizes: list[int] = []
    hashes: list[bytes] = []
    for leaf in leaves_hex:
        sizes.append(1)
        hashes.append(bytes.fromhex(leaf))
        while len(sizes) >= 2 and sizes[-1] == sizes[-2]:
            right = hashes.pop()
            sizes.pop()
            hashes[-1] = hashlib.sha256(b"\x01" + hashes[-1] + right).digest()
            sizes[-1] *= 2
    return "".join(h.hex() for h in hashes)


def downgrade() -> None:
    op.drop_table("cosignatures")
    op.drop_table("witnesses")
    conn = op.get_bind()
    conn.execute(sa.text("DELETE FROM checkpoints"))
    with op.batch_alter_table("checkpoints") as batch:
        batch.drop_column("frontier")
    with op.batch_alter_table("ledger_head") as batch:
        batch.drop_column("tree")
        batch.add_column(sa.Column("checkpoint_hash", sa.String(64), nullable=True))
    conn.execute(sa.text("UPDATE ledger_head SET checkpoint_size = 0"))
