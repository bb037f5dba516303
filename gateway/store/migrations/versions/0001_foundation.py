"""Foundation: organisations, users, approvals, handler lists, transfer profiles, transfers.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

from gateway.store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("certifications", sa.JSON(), nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("login", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("organisation_id", sa.String(64), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("case_number", sa.String(200), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("city_id", sa.String(64), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("period_start", UTCDateTime(), nullable=False),
        sa.Column("period_end", UTCDateTime(), nullable=False),
        sa.Column("max_records", sa.Integer(), nullable=False),
        sa.Column("source_toml", sa.Text(), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.Column("registered_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "approval_recipients",
        sa.Column("approval_id", sa.String(64), sa.ForeignKey("approvals.id"), primary_key=True),
        sa.Column("organisation_id", sa.String(64), sa.ForeignKey("organisations.id"), primary_key=True),
        sa.Column("via_organisation_id", sa.String(64), sa.ForeignKey("organisations.id"), nullable=True),
    )
    op.create_table(
        "handler_designations",
        sa.Column("approval_id", sa.String(64), sa.ForeignKey("approvals.id"), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
    )
    op.create_table(
        "transfer_profiles",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("source_toml", sa.Text(), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
    )
    op.create_table(
        "transfers",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("approval_id", sa.String(64), sa.ForeignKey("approvals.id"), nullable=False),
        sa.Column("profile_id", sa.String(64), sa.ForeignKey("transfer_profiles.id"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("sender_user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("sender_organisation_id", sa.String(64), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("recipient_organisation_id", sa.String(64), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("parent_transfer_id", sa.String(40), sa.ForeignKey("transfers.id"), nullable=True),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("plaintext_sha256", sa.String(64), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("package_blob_id", sa.String(40), nullable=False),
        sa.Column("package_sha256", sa.String(64), nullable=False),
        sa.Column("passphrase_verifier", sa.String(200), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.Column("receipt_due", UTCDateTime(), nullable=False),
        sa.Column("gateway_erase_due", UTCDateTime(), nullable=False),
        sa.Column("contractor_deletion_due", UTCDateTime(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    for table in ("settings", "transfers", "transfer_profiles", "handler_designations",
                  "approval_recipients", "approvals", "users", "organisations"):
        op.drop_table(table)
