"""Key-encryption key generations, so that a crypto-erase can be made final by rotating the KEK.

Every blob row gets the generation its data key is wrapped under. An installation that already
has blobs had one KEK (keys/kek.key, which `gateway init` moves to keys/kek/00000001.key):
its blobs are generation 1, held by the file backend.

Revision ID: 0009_kek_generations
Revises: 0004
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

from gateway.store.models import UTCDateTime

revision = "0009_kek_generations"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kek_generations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=True),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.Column("destroyed_at", UTCDateTime(), nullable=True),
    )
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        # SQLite adds a column with a REFERENCES clause in place (its default must be NULL);
        # Alembic would copy the table instead, which its other tables' foreign keys forbid.
        op.execute("ALTER TABLE blobs ADD COLUMN kek_generation INTEGER REFERENCES kek_generations (id)")
    else:
        op.add_column("blobs", sa.Column("kek_generation", sa.Integer(), sa.ForeignKey("kek_generations.id"),
                                         nullable=True))
    if conn.execute(sa.text("SELECT 1 FROM blobs LIMIT 1")).first() is not None:
        conn.execute(sa.text("INSERT INTO kek_generations (id, backend) VALUES (1, 'file')"))
        conn.execute(sa.text("UPDATE blobs SET kek_generation = 1"))


def downgrade() -> None:
    with op.batch_alter_table("blobs") as batch:
        batch.drop_column("kek_generation")
    op.drop_table("kek_generations")
