"""Named operators: operating-system users mapped to gateway accounts.

Revision ID: 0011_operators
Revises: 0004
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op

from gateway.store.models import UTCDateTime

revision = "0011_operators"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("os_user", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
    )
    op.create_index("ix_operators_user_id", "operators", ["user_id"])


def downgrade() -> None:
    op.drop_table("operators")
