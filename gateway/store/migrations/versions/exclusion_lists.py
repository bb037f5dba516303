"""Exclusion lists in the database instead of each node's home (issue 24's gap: with two nodes,
a list imported through one was not the list the other screened by).

Lists imported before stay where they were and are not read any more: a send that needs one is
refused until the list is imported again (the numbers were never kept, so they cannot be moved).

Revision ID: exclusion_lists
Revises: download_limit_counts
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

from gateway.store.models import UTCDateTime

revision = "exclusion_lists"
down_revision = "download_limit_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exclusion_lists",
        sa.Column("population", sa.String(64), primary_key=True),
        sa.Column("key_field", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("digests", sa.JSON(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("set_sha256", sa.String(64), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("exclusion_lists")
