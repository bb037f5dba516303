"""Sends held for a second person's check (issue 20).

Revision ID: second_checks
Revises: 0004
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

from gateway.store.models import UTCDateTime

revision = "second_checks"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "second_checks",
        sa.Column("transfer_id", sa.String(40), sa.ForeignKey("transfers.id"), primary_key=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("approvers", sa.JSON(), nullable=False),
        sa.Column("held_secret_blob_id", sa.String(40), nullable=True),
        sa.Column("password_delivery", sa.String(32), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("second_checks")
