"""Accounts over their life: amended handler lists and deliveries of initial credentials.

Revision ID: 0013_account_lifecycle
Revises: 0001
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

from gateway.store.models import UTCDateTime

revision = "0013_account_lifecycle"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handler_amendments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("approval_id", sa.String(64), sa.ForeignKey("approvals.id"), nullable=False),
        sa.Column("organisation_id", sa.String(64), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("change", sa.String(8), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("decision_ref", sa.Text(), nullable=False),
        sa.Column("decision_sha256", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("evidence_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_handler_amendments_approval_id", "handler_amendments", ["approval_id"])
    op.create_table(
        "credential_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("method", sa.String(24), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
    )
    op.create_index("ix_credential_deliveries_user_id", "credential_deliveries", ["user_id"])


def downgrade() -> None:
    op.drop_table("credential_deliveries")
    op.drop_table("handler_amendments")
