"""Ledger: the organisation an administrative entry concerns, so each city's officer reads it.

Revision ID: 0012_log_subject_org
Revises: 0002
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_log_subject_org"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("log_entries") as batch:
        batch.add_column(sa.Column("subject_org", sa.String(64), nullable=True))
    op.create_index("ix_log_entries_subject_org", "log_entries", ["subject_org"])


def downgrade() -> None:
    op.drop_index("ix_log_entries_subject_org", "log_entries")
    with op.batch_alter_table("log_entries") as batch:
        batch.drop_column("subject_org")
