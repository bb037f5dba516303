"""Retention: when the gateway's copy was erased, the contractor's deletion records, and the key
that makes a retried send idempotent.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

from gateway.store.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transfers") as batch:
        batch.add_column(sa.Column("erased_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("source_key", sa.String(128), nullable=True))
        batch.create_unique_constraint("uq_transfers_source_key", ["source_key"])
    op.create_table(
        "contractor_deletions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("transfer_id", sa.String(40), sa.ForeignKey("transfers.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=True),
        sa.Column("certificate", sa.JSON(), nullable=True),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_contractor_deletions_transfer_id", "contractor_deletions", ["transfer_id"])


def downgrade() -> None:
    op.drop_table("contractor_deletions")
    with op.batch_alter_table("transfers") as batch:
        batch.drop_constraint("uq_transfers_source_key", type_="unique")
        batch.drop_column("source_key")
        batch.drop_column("erased_at")
