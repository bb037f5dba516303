"""Download limits fixed per transfer at sending (issue 20).

Revision ID: download_limits
Revises: second_checks
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "download_limits"
down_revision = "second_checks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "download_limits",
        sa.Column("transfer_id", sa.String(40), sa.ForeignKey("transfers.id"), primary_key=True),
        sa.Column("max_complete", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("download_limits")
