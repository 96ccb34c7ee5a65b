"""A real PostgreSQL server for the tests, started from the machine's binaries.

`initdb` and `pg_ctl` refuse to run as root, so as root they run as the `postgres` user
(`runuser`); the data directory lives in a fresh directory under /tmp that user owns. Each
pytest process (each xdist worker too) starts its own server on a free port, and each test
gets its own database, copied from a template migrated once per server. The benchmarks
(bench/enrollment_bench.py, bench/case_bench.py) start theirs with `durable=True`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from aha.adapters.postgres.pool import close_pools
from aha.adapters.postgres.schema import upgrade
from aha.dev import free_port

TEMPLATE = "aha_template"


class PostgresMissing(RuntimeError):
    pass


def binaries() -> Path:
    """The directory holding initdb, pg_ctl and postgres (the newest installed version)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(found.stdout.strip())
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for candidate in reversed(candidates):
        if (
            candidate
            and (Path(candidate) / "initdb").exists()
            and (Path(candidate) / "pg_ctl").exists()
        ):
            return Path(candidate)
    raise PostgresMissing(
        "no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin or on "
        "PATH: run `make test` (scripts/install-postgres installs Debian's postgresql as root)"
    )


class PostgresServer:
    """One throwaway server: trust authentication, loopback only; no durability unless
    `durable` (then PostgreSQL's own defaults: fsync, synchronous_commit, full page writes)."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        self.bin = binaries()
        self.root = Path(tempfile.mkdtemp(prefix="aha-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self.counter = 0

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stdout}{done.stderr}")

    def start(self) -> None:
        if self.as_root:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=300"
        )
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.root / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip
        # A natural-language collation by default, as most production databases have: the
        # schema must not depend on byte order being the database's own.
        self.admin(
            f"CREATE DATABASE {TEMPLATE} TEMPLATE template0"
            " LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        )
        upgrade(self.url(TEMPLATE))

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as db:
            db.execute(sql)

    def empty_database(self) -> str:
        """A new database with no schema at all: its URL."""
        name = f"empty_{uuid.uuid4().hex[:12]}"
        self.admin(f"CREATE DATABASE {name}")
        return self.url(name)

    def migrated_database(self) -> str:
        """A new database at the head revision (a copy of the template): its URL."""
        name = f"aha_{uuid.uuid4().hex[:12]}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url(name)


@contextmanager
def running_postgres(durable: bool = False) -> Iterator[PostgresServer]:
    server = PostgresServer(durable)
    server.start()
    try:
        yield server
    finally:
        close_pools()
        server.stop()
