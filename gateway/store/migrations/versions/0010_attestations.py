"""Attestations signed by handlers (SSHSIG), and SSH keys that can be withdrawn.

Revision ID: 0010_attestations
Revises: 0005_sftp
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op

from gateway.store.models import UTCDateTime

revision = "0010_attestations"
down_revision = "0005_sftp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attestations",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("transfer_id", sa.String(40), sa.ForeignKey("transfers.id"), nullable=False),
        sa.Column("approval_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("key_fingerprint", sa.String(80), nullable=False),
        sa.Column("nonce", sa.String(32), nullable=False, unique=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("signed_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("evidence_id", sa.String(64), nullable=False),
        sa.Column("log_seq", sa.Integer(), nullable=False),
    )
    op.create_index("ix_attestations_transfer_id", "attestations", ["transfer_id"])
    op.create_index("ix_attestations_approval_id", "attestations", ["approval_id"])
    # Plain columns (no REFERENCES), so SQLite adds them in place.
    op.add_column("ssh_keys", sa.Column("revoked_at", UTCDateTime(), nullable=True))
    op.add_column("ssh_keys", sa.Column("registration_evidence", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ssh_keys") as batch:
        batch.drop_column("registration_evidence")
        batch.drop_column("revoked_at")
    op.drop_table("attestations")
