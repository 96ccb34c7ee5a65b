"""PostgreSQL for the benchmarks: a server of their own, or an existing one (--postgres-url).

Their own server is the tests' launcher (tests/postgres.py) with PostgreSQL's durability
defaults: fsync, synchronous_commit and full page writes on. Each measurement gets a fresh
database, migrated as `aha db upgrade` migrates one, and dropped afterwards.
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from aha.adapters.postgres.pool import close_pools, where
from aha.adapters.stores import upgrade_schema
from aha.config import Settings
from tests.postgres import running_postgres

STORES = ("sqlite", "postgres")
STORE_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}

# What the report says about the server, so a number always comes with its durability.
SHOWN_SETTINGS = (
    "server_version",
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_level",
    "shared_buffers",
)


class BenchSetupError(RuntimeError):
    """The benchmark cannot get the database it needs; the message says which option and why."""


def parse_stores(text: str) -> list[str]:
    stores = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [store for store in stores if store not in STORES]
    if not stores or unknown:
        raise argparse.ArgumentTypeError(
            f"{text!r}: stores are a comma-separated list of {', '.join(STORES)}"
        )
    return list(dict.fromkeys(stores))


def with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


@dataclass
class PostgresDatabases:
    """Makes and drops the benchmark's databases on one server."""

    admin_url: str  # a database on the server to run CREATE DATABASE from
    started_here: bool

    def settings(self) -> dict[str, str]:
        shown = {}
        with psycopg.connect(self.admin_url, autocommit=True) as db:
            for name in SHOWN_SETTINGS:
                row = db.execute("SELECT current_setting(%s)", (name,)).fetchone()
                assert row is not None
                shown[name] = str(row[0])
        return shown

    def fresh(self) -> str:
        """A new database at this aha's schema: its postgresql:// URL."""
        name = f"aha_bench_{uuid.uuid4().hex[:10]}"
        try:
            with psycopg.connect(self.admin_url, autocommit=True) as db:
                db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.Error as err:
            raise BenchSetupError(
                f"--postgres-url: cannot create a database on {where(self.admin_url)} "
                f"(the role needs CREATEDB): {str(err).strip()}"
            ) from err
        url = with_database(self.admin_url, name)
        upgrade_schema(replace(Settings(), db_path=url))
        return url

    def drop(self, url: str) -> None:
        close_pools()  # the worker's and the service's connections to it
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.admin_url, autocommit=True) as db:
            db.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def size_mb(self, url: str) -> float:
        with psycopg.connect(url, autocommit=True) as db:
            row = db.execute("SELECT pg_database_size(current_database())").fetchone()
        assert row is not None
        return float(row[0]) / 2**20


@contextmanager
def postgres_databases(url: str | None) -> Iterator[PostgresDatabases]:
    """The server named by `url` (--postgres-url), or a durable one started for the run."""
    if url is None:
        with running_postgres(durable=True) as server:
            yield PostgresDatabases(server.url("postgres"), started_here=True)
        return
    if not url.startswith(("postgresql://", "postgres://")):
        raise BenchSetupError(f"--postgres-url: {url!r} is not a postgresql:// URL")
    try:
        psycopg.connect(url, autocommit=True, connect_timeout=10).close()
    except psycopg.Error as err:
        raise BenchSetupError(
            f"--postgres-url: cannot connect to {where(url)}: {str(err).strip()}"
        ) from err
    try:
        yield PostgresDatabases(url, started_here=False)
    finally:
        close_pools()
