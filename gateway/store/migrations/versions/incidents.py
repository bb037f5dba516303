"""Incidents and their instructions, 公表 decisions and closures (issue 20).

Revision ID: incidents
Revises: download_limits
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

from gateway.store.models import UTCDateTime

revision = "incidents"
down_revision = "download_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("city_id", sa.String(64), nullable=False),
        sa.Column("approval_id", sa.String(64), nullable=True),
        sa.Column("transfer_id", sa.String(40), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("place", sa.Text(), nullable=False),
        sa.Column("circumstances", sa.Text(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("reported_by", sa.String(64), nullable=False),
        sa.Column("reporter_org", sa.String(64), nullable=False),
        sa.Column("reported_at", UTCDateTime(), nullable=False),
        sa.Column("contractor_org", sa.String(64), nullable=True),
        sa.Column("contractor_report_due", UTCDateTime(), nullable=True),
        sa.Column("contractor_reported_at", UTCDateTime(), nullable=True),
        sa.Column("instruction", sa.Text(), nullable=True),
        sa.Column("instruction_due", UTCDateTime(), nullable=True),
        sa.Column("instruction_done_at", UTCDateTime(), nullable=True),
        sa.Column("publication", sa.String(16), nullable=True),
        sa.Column("publication_reason", sa.Text(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closure", sa.Text(), nullable=True),
    )
    op.create_index("ix_incidents_city_id", "incidents", ["city_id"])
    op.create_index("ix_incidents_approval_id", "incidents", ["approval_id"])
    op.create_index("ix_incidents_transfer_id", "incidents", ["transfer_id"])


def downgrade() -> None:
    op.drop_table("incidents")
