"""The access log, its head and checkpoints, and signed evidence documents.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

from gateway.store.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_entries",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("actor_user", sa.String(64), nullable=True),
        sa.Column("actor_org", sa.String(64), nullable=True),
        sa.Column("approval_id", sa.String(64), nullable=True),
        sa.Column("transfer_id", sa.String(40), nullable=True),
    )
    for column in ("action", "outcome", "actor_user", "actor_org", "approval_id", "transfer_id"):
        op.create_index(f"ix_log_entries_{column}", "log_entries", [column])
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("checkpoint_size", sa.Integer(), nullable=False),
        sa.Column("checkpoint_hash", sa.String(64), nullable=True),
    )
    # The one row appenders lock; created here so that two first writers cannot both create it.
    op.bulk_insert(
        sa.table("ledger_head", sa.column("id", sa.Integer()), sa.column("seq", sa.Integer()),
                 sa.column("hash", sa.String()), sa.column("checkpoint_size", sa.Integer())),
        [{"id": 1, "seq": 0, "hash": "0" * 64, "checkpoint_size": 0}],
    )
    op.create_table(
        "checkpoints",
        sa.Column("size", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "evidence_documents",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("approval_id", sa.String(64), nullable=True),
        sa.Column("transfer_id", sa.String(40), nullable=True),
        sa.Column("log_seq", sa.Integer(), sa.ForeignKey("log_entries.seq"), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
    )
    for column in ("type", "approval_id", "transfer_id"):
        op.create_index(f"ix_evidence_documents_{column}", "evidence_documents", [column])


def downgrade() -> None:
    op.drop_table("evidence_documents")
    op.drop_table("checkpoints")
    op.drop_table("ledger_head")
    op.drop_table("log_entries")
