"""Alembic's environment and the schema's revisions, applied by `aha db upgrade`."""
