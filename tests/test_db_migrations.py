"""`aha db upgrade` and `aha db current` against a real PostgreSQL, and the start-up check:
every process that uses the database refuses to start on a schema it was not built for."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from aha.adapters.postgres.schema import UPGRADE_LOCK, head_revision
from aha.config import Settings
from aha.dev import free_port
from tests.postgres import PostgresServer

ROOT = Path(__file__).resolve().parent.parent
TABLES = {
    "sellers", "sent_notifications", "deliveries", "sealed_runs", "ahr_readings",
    "enrollments", "signed_out_sessions", "case_board", "case_board_calls", "aha_schema_version",
    "call_consent", "do_not_call",
}  # fmt: skip


def aha(url: str, *args: str, **env: str) -> subprocess.Popen[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("AHA_", "TEMPORAL_"))
    }
    environment |= {
        "PYTHONPATH": str(ROOT),
        "AHA_DB": url,
        # Nothing listens here: a command that got past the database would say so instead.
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "aha.cli", *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    process = aha(url, *args, **env)
    out, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as db:
        rows = db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


@pytest.fixture
def empty_db(postgres: PostgresServer) -> str:
    return postgres.empty_database()


def test_upgrade_makes_the_schema_and_a_second_run_changes_nothing(empty_db: str) -> None:
    head = head_revision()
    before = run(empty_db, "db", "current")
    assert before.returncode == 0 and before.stdout == f"current: none\nhead: {head}\n"

    first = run(empty_db, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert f"upgraded from none to {head}" in first.stdout
    assert tables(empty_db) == TABLES
    added = run(empty_db, "seller", "upsert", "acme", "--email", "ops@acme.example",
                "--timezone", "UTC", "--json")  # fmt: skip
    assert added.returncode == 0, added.stderr

    second = run(empty_db, "db", "upgrade")
    assert second.returncode == 0, second.stderr
    assert f"already at revision {head}" in second.stdout
    after = run(empty_db, "db", "current", "--json")
    assert after.returncode == 0 and '"current": "' + head + '"' in after.stdout
    shown = run(empty_db, "seller", "show", "acme")
    assert shown.returncode == 0 and "email: ops@acme.example" in shown.stdout


@pytest.mark.parametrize(
    "command",
    [
        ("seller", "show", "acme"),
        ("seller", "upsert", "acme", "--email", "ops@acme.example", "--timezone", "UTC"),
        ("seller", "ahr", "acme", "--date", "2026-11-01", "--score", "300"),
        ("status", "acme"),
        ("worker",),
        ("api", "--port", "0"),
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_every_process_refuses_a_database_without_the_schema(
    empty_db: str, command: tuple[str, ...]
) -> None:
    done = run(empty_db, *command, AHA_SESSION_SECRET="shared-by-the-replicas")
    assert done.returncode == 1
    assert (
        f"AHA_DB: the database schema is at none, this aha needs {head_revision()}: "
        "run `aha db upgrade`"
    ) in done.stderr
    assert tables(empty_db) == set(), "a refused start changes nothing"


def test_a_schema_newer_than_this_aha_is_used_with_a_warning(postgres_url: str) -> None:
    # What an old replica meets when it restarts after the next release's `aha db upgrade`:
    # migrations only add, so it must come back up rather than stop the rollout.
    with psycopg.connect(postgres_url) as db:
        db.execute("UPDATE aha_schema_version SET version_num = 'f00d'")
    run(postgres_url, "seller", "upsert", "acme", "--email", "ops@acme.example",
        "--timezone", "America/New_York")  # fmt: skip
    done = run(postgres_url, "seller", "show", "acme")
    assert done.returncode == 0, done.stderr
    assert "ops@acme.example" in done.stdout
    assert "the database schema is newer than this aha knows" in done.stderr
    current = run(postgres_url, "db", "current")
    assert current.stdout == f"current: f00d\nhead: {head_revision()}\n"


def test_another_alembic_app_s_database_is_no_aha_schema(empty_db: str) -> None:
    with psycopg.connect(empty_db) as db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        db.execute("INSERT INTO alembic_version VALUES ('3f2a9c')")
    done = run(empty_db, "seller", "show", "acme")
    assert done.returncode == 1
    assert "the database schema is at none, this aha needs" in done.stderr
    upgraded = run(empty_db, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    with psycopg.connect(empty_db) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [("3f2a9c",)]


def test_two_upgrades_at_once_take_turns_and_both_succeed(empty_db: str) -> None:
    # Hold the upgrade lock, so both upgrades surely start before either may go on.
    with psycopg.connect(empty_db, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (UPGRADE_LOCK,))
        upgrades = [aha(empty_db, "db", "upgrade") for _ in range(2)]
        time.sleep(2)
        assert [process.poll() for process in upgrades] == [None, None], "both wait for the lock"
        holder.execute("SELECT pg_advisory_unlock(%s)", (UPGRADE_LOCK,))
        outputs = [process.communicate(timeout=60) for process in upgrades]
    assert [process.returncode for process in upgrades] == [0, 0], outputs
    said = sorted(out for out, _ in outputs)
    head = head_revision()
    assert f"already at revision {head}" in said[0] and f"from none to {head}" in said[1]
    with psycopg.connect(empty_db) as db:
        assert db.execute("SELECT version_num FROM aha_schema_version").fetchall() == [(head,)]
    assert tables(empty_db) == TABLES


def test_an_unreachable_database_is_named_without_its_password() -> None:
    url = f"postgresql://aha:s3cret-pw@127.0.0.1:{free_port()}/aha"
    done = run(url, "db", "upgrade")
    assert done.returncode == 1
    assert f"AHA_DB: cannot connect to PostgreSQL at 127.0.0.1:{url.split(':')[3]}" in done.stderr
    assert "s3cret-pw" not in done.stderr


def test_settings_never_show_the_database_password_or_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AHA_DB", "postgresql://aha:s3cret-pw@db.internal:5432/aha")
    monkeypatch.setenv("AHA_SESSION_SECRET", "session-s3cret")
    monkeypatch.setenv("AHA_CODEC_AUTH_TOKEN", "codec-s3cret")
    shown = repr(Settings())
    for secret in ("s3cret-pw", "session-s3cret", "codec-s3cret"):
        assert secret not in shown


# ---- AHA_SESSION_SECRET ----------------------------------------------------------------------


def test_the_api_on_postgresql_refuses_to_start_without_a_session_secret(
    postgres_url: str,
) -> None:
    done = run(postgres_url, "api", "--port", str(free_port()))
    assert done.returncode == 1
    assert "AHA_SESSION_SECRET is required when AHA_DB is PostgreSQL" in done.stderr
    assert "replicas" in done.stderr

    from api.app import create_app

    settings = replace(Settings(), db_path=postgres_url, session_secret=None)
    with pytest.raises(ValueError, match="AHA_SESSION_SECRET is required"):
        create_app(settings)
    create_app(replace(settings, session_secret="shared-by-the-replicas"))  # and with it, starts
