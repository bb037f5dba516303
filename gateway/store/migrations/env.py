"""Alembic environment: migrations run on the connection `gateway.store.db.migrate` hands over."""
from __future__ import annotations

from alembic import context

from gateway.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
