"""Alembic's environment: `aha db upgrade` hands it a connection that already holds the
upgrade lock, inside the transaction every migration runs in."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from aha.adapters.postgres.schema import VERSION_TABLE

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("apply aha's migrations with `aha db upgrade`, not the alembic command")
# A version table of aha's own: a database another Alembic app also uses is never mistaken
# for an aha schema at some unknown (later) revision.
context.configure(connection=connection, target_metadata=None, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
