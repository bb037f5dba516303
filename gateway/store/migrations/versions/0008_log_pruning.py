"""Ledger: signed statements of what was pruned from the access log after its retention window.

Revision ID: 0008_log_pruning
Revises: 0004
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

from gateway.store.models import UTCDateTime

revision = "0008_log_pruning"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_prunings",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("first_seq", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False, unique=True),
        sa.Column("log_seq", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("log_prunings")
