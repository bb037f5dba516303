"""Downloads counted where the limit is checked (issue 20): two downloads begun at the same instant
(two SFTP sessions, two nodes on one database) took one count from the log each and both passed.
The count now lives beside the limit and is taken in one conditional UPDATE.

Revision ID: download_limit_counts
Revises: download_limits
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "download_limit_counts"
down_revision = "download_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("download_limits") as batch:
        batch.add_column(sa.Column("started", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("broken", sa.Integer(), nullable=False, server_default="0"))
    # Transfers sent before: what their log says so far (every download that ended either way).
    op.execute(
        "UPDATE download_limits SET "
        "started = (SELECT count(*) FROM log_entries l WHERE l.transfer_id = download_limits.transfer_id "
        "AND l.action = 'transfer.download' AND l.outcome IN ('ok', 'failed')), "
        "broken = (SELECT count(*) FROM log_entries l WHERE l.transfer_id = download_limits.transfer_id "
        "AND l.action = 'transfer.download' AND l.outcome = 'failed')")


def downgrade() -> None:
    with op.batch_alter_table("download_limits") as batch:
        batch.drop_column("broken")
        batch.drop_column("started")
