"""The VPN (SFTP) channel: SSH keys, pinned host keys for push, deliverables.

Revision ID: 0005_sftp
Revises: 0004
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

from gateway.store.models import UTCDateTime

revision = "0005_sftp"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ssh_keys",
        sa.Column("fingerprint", sa.String(80), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_ssh_keys_user_id", "ssh_keys", ["user_id"])
    op.create_table(
        "pinned_hosts",
        sa.Column("organisation_id", sa.String(64), sa.ForeignKey("organisations.id"), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("host_key", sa.Text(), nullable=False),
        sa.Column("directory", sa.String(255), nullable=False),
        sa.Column("pinned_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "deliverables",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("transfer_id", sa.String(40), sa.ForeignKey("transfers.id"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("blob_id", sa.String(40), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_deliverables_transfer_id", "deliverables", ["transfer_id"])


def downgrade() -> None:
    op.drop_table("deliverables")
    op.drop_table("pinned_hosts")
    op.drop_table("ssh_keys")
