"""The one place entry points get their stores: SQLite for an `AHA_DB` path (the default),
PostgreSQL for a `postgresql://` URL. PostgreSQL's modules load only when it is used."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from aha.config import Settings
from aha.domain.programme import ImportReport
from aha.ports import (
    CallConsents,
    CaseBoard,
    DeliveryLedger,
    ProgrammeStore,
    SignedOutSessions,
)

if TYPE_CHECKING:
    from aha.adapters.postgres.pool import Pool


class AppStore(ProgrammeStore, Protocol):
    """The programme store as the worker and the CLI use it: with its delivery ledger in the
    same database, and a CSV loader for readings."""

    @property
    def deliveries(self) -> DeliveryLedger: ...

    def import_readings(self, path: Path, today: date | None = None) -> ImportReport: ...


def open_programme_store(settings: Settings) -> AppStore:
    """The store `AHA_DB` names; for PostgreSQL, SchemaNotReady (or DatabaseUnavailable)
    when the database is not at this aha's schema, before anything uses it."""
    if settings.uses_postgres:
        from aha.adapters.postgres.programme import PostgresProgrammeStore

        return PostgresProgrammeStore(_postgres_pool(settings))
    from aha.adapters.sqlite.programme import SqliteProgrammeStore

    return SqliteProgrammeStore(settings.db_path)


def check_database(settings: Settings) -> None:
    """For PostgreSQL, SchemaNotReady or DatabaseUnavailable unless the database is ready
    for this aha (an SQLite file is made ready when a store opens it)."""
    if settings.uses_postgres:
        from aha.adapters.postgres.schema import check_schema

        check_schema(settings.db_path)


def open_signed_out(settings: Settings) -> SignedOutSessions:
    if settings.uses_postgres:
        from aha.adapters.postgres.sessions import PostgresSignedOut

        return PostgresSignedOut(_postgres_pool(settings))
    from aha.adapters.sqlite.sessions import SqliteSignedOut

    return SqliteSignedOut(settings.db_path)


def open_call_consents(settings: Settings) -> CallConsents:
    """Consent to calls and the do-not-call list, beside the directory."""
    if settings.uses_postgres:
        from aha.adapters.postgres.consent import PostgresCallConsents

        return PostgresCallConsents(_postgres_pool(settings))
    from aha.adapters.sqlite.consent import SqliteCallConsents

    return SqliteCallConsents(settings.db_path)


def open_case_board(settings: Settings) -> CaseBoard:
    """The case board in the database `AHA_DB` names, beside the other stores (for
    PostgreSQL on the same pool)."""
    if settings.uses_postgres:
        from aha.adapters.postgres.board import PostgresCaseBoard

        return PostgresCaseBoard(_postgres_pool(settings))
    from aha.adapters.sqlite.board import SqliteCaseBoard

    return SqliteCaseBoard(settings.db_path)


def _postgres_pool(settings: Settings) -> Pool:
    from aha.adapters.postgres.pool import shared_pool
    from aha.adapters.postgres.schema import check_schema

    check_schema(settings.db_path)
    return shared_pool(settings.db_path, settings.db_pool_size)


def upgrade_schema(settings: Settings) -> str:
    """`aha db upgrade`: what was done, in a line."""
    if not settings.uses_postgres:
        from aha.adapters.sqlite.schema import prepare

        prepare(settings.db_path)
        return f"SQLite file {settings.db_path} is ready (its schema is made when it opens)"
    from aha.adapters.postgres.pool import where
    from aha.adapters.postgres.schema import upgrade

    before, after = upgrade(settings.db_path)
    if before == after:
        return f"PostgreSQL {where(settings.db_path)} is already at revision {after}"
    return f"PostgreSQL {where(settings.db_path)} upgraded from {before or 'none'} to {after}"


def schema_revisions(settings: Settings) -> tuple[str | None, str | None]:
    """`aha db current`: (current, head) revisions; (None, None) for SQLite, which has none."""
    if not settings.uses_postgres:
        return None, None
    from aha.adapters.postgres.schema import current_revision, head_revision

    return current_revision(settings.db_path), head_revision()
