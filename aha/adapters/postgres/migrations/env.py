"""Alembic's environment: `aha db upgrade` hands it a connection that already holds the
upgrade lock, inside the transaction every migration runs in."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("apply aha's migrations with `aha db upgrade`, not the alembic command")
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
