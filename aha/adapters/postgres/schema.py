"""The database's schema: Alembic revisions in `migrations/versions`, applied by
`aha db upgrade`, and checked by every process before it uses the database."""

from __future__ import annotations

import functools
from pathlib import Path

import psycopg
import sqlalchemy
import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg.rows import DictRow
from sqlalchemy.pool import NullPool

from aha.adapters.postgres.pool import connect_once

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: every `aha db upgrade` on one database waits for the one before it.
UPGRADE_LOCK = 0x61_68_61_64_62  # "ahadb"
VERSION_TABLE = "aha_schema_version"

log = structlog.get_logger(__name__)


class SchemaNotReady(RuntimeError):
    """The database's schema is not the one this aha needs; the message says what to run."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "aha ships at least one migration"
    return head


def _revision(db: psycopg.Connection[DictRow]) -> str | None:
    table = db.execute("SELECT to_regclass(%s) AS name", (VERSION_TABLE,)).fetchone()
    if table is None or table["name"] is None:
        return None
    row = db.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
    return str(row["version_num"]) if row else None


def current_revision(url: str) -> str | None:
    """The revision the database is at; None when no migration was ever applied."""
    with connect_once(url) as db:
        return _revision(db)


_checked: set[str] = set()


def check_schema(url: str) -> None:
    """SchemaNotReady when the database is behind this aha's head revision (checked once per
    process: a running process never sees its schema change under it). A revision this aha
    does not know is a later release's, and accepted with a warning."""
    if url in _checked:
        return
    head = head_revision()
    current = current_revision(url)
    if current != head:
        if current is not None and current not in {s.revision for s in _scripts().walk_revisions()}:
            # A release's migrations only add, so the release before still runs on them: in a
            # rolling deploy an old replica that restarts after `aha db upgrade` must come back.
            log.warning(
                "the database schema is newer than this aha knows; running on it, as "
                "migrations stay compatible with the release before",
                schema=current,
                needs=head,
            )
            _checked.add(url)
            return
        raise SchemaNotReady(
            f"AHA_DB: the database schema is at {current or 'none'}, this aha needs {head}: "
            "run `aha db upgrade`"
        )
    _checked.add(url)


def _context(connection: sqlalchemy.Connection) -> MigrationContext:
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})


def upgrade(url: str) -> tuple[str | None, str]:
    """Apply every migration not yet applied, under an advisory lock so two upgrades at once
    run one after the other (the second finds nothing to do). Returns (before, after)."""
    connect_once(url).close()  # an unreachable database fails here, with a clear message
    engine = sqlalchemy.create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(url), poolclass=NullPool
    )
    try:
        # One transaction: the lock, the check of where the schema is, every migration.
        with engine.begin() as connection:
            connection.execute(
                sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK}
            )
            before = _context(connection).get_current_revision()
            config = _config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            after = _context(connection).get_current_revision()
    finally:
        engine.dispose()
    assert after is not None
    return before, after
