"""Alembic environment: runs migrations on the connection handed over by
:func:`cloud.db.engine.migrate` (no alembic.ini, no URL of its own)."""

from __future__ import annotations

from alembic import context

from cloud.db.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
