"""Courier channel: media and password notices as items, and their custody records (確認書).

Revision ID: 0006_courier
Revises: 0004
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

from gateway.store.models import UTCDateTime

revision = "0006_courier"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "courier_items",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("transfer_id", sa.String(40), sa.ForeignKey("transfers.id"), nullable=False),
        sa.Column("media", sa.String(8), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("registered_user", sa.String(64), nullable=False),
        sa.Column("registered_org", sa.String(64), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.Column("cabinet", sa.String(200), nullable=True),
        sa.Column("label", sa.JSON(), nullable=True),
    )
    op.create_index("ix_courier_items_transfer_id", "courier_items", ["transfer_id"])
    op.create_table(
        "courier_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.String(64), sa.ForeignKey("courier_items.id"), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("from_user", sa.String(64), nullable=True),
        sa.Column("from_org", sa.String(64), nullable=True),
        sa.Column("to_user", sa.String(64), nullable=True),
        sa.Column("to_org", sa.String(64), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("place", sa.String(200), nullable=False),
        sa.Column("content", sa.String(400), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("cabinet", sa.String(200), nullable=True),
        sa.Column("means", sa.String(32), nullable=True),
        sa.Column("run", sa.String(64), nullable=True),
        sa.Column("return_due", UTCDateTime(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("evidence_id", sa.String(64), nullable=False),
        sa.Column("log_seq", sa.Integer(), sa.ForeignKey("log_entries.seq"), nullable=False),
    )
    op.create_index("ix_courier_events_item_id", "courier_events", ["item_id"])


def downgrade() -> None:
    op.drop_table("courier_events")
    op.drop_table("courier_items")
