"""`aha dnc add|remove|list` as subprocesses, on SQLite and PostgreSQL: numbers in E.164, a
reason required, bad input one line and exit 1 with nothing changed; and a listed number is
not dialled by a real case."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

from aha.adapters.sqlite.consent import SqliteCallConsents
from tests.conftest import Cases
from tests.test_cli_queue import run, usage_error


def aha(db: str, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    proc = run(db, *args)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def listed(db: str) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = json.loads(aha(db, "dnc", "list", "--json").stdout)
    return entries


def test_an_operator_lists_and_unlists_a_number(aha_db: str) -> None:
    assert aha(aha_db, "dnc", "list").stdout == "the do-not-call list is empty\n"
    added = aha(aha_db, "dnc", "add", "+1 415-555-0123", "--reason", "asked in writing")
    assert added.stdout == "+14155550123 is on the do-not-call list: no proactive call dials it\n"
    [entry] = listed(aha_db)
    assert (entry["number"], entry["reason"], entry["added_by"]) == (
        "+14155550123",
        "asked in writing",
        "dana",  # USER, as for the other operator commands
    )
    # Listing it again keeps one entry with the newer reason.
    aha(aha_db, "dnc", "add", "+14155550123", "--reason", "asked again", "--as", "lee")
    [entry] = listed(aha_db)
    assert entry["reason"] == "asked again"
    assert "+14155550123" in aha(aha_db, "dnc", "list").stdout

    removed = aha(aha_db, "dnc", "remove", "+14155550123")
    assert removed.stdout == "+14155550123 removed from the do-not-call list\n"
    assert listed(aha_db) == []
    again = aha(aha_db, "dnc", "remove", "+14155550123", code=1)
    assert again.stderr == "aha: +14155550123 is not on the do-not-call list: nothing removed\n"


def test_bad_input_is_refused_and_changes_nothing(aha_db: str) -> None:
    national = aha(aha_db, "dnc", "add", "4155550123", "--reason", "asked", code=1)
    assert national.stderr == (
        "aha: number '4155550123' must be in E.164 form, e.g. +14155550123\n"
    )
    invalid = aha(aha_db, "dnc", "add", "+1415", "--reason", "asked", code=1)
    assert invalid.stderr == "aha: number '+1415' is not a valid number\n"
    blank = aha(aha_db, "dnc", "add", "+14155550123", "--reason", "  ", code=1)
    assert blank.stderr == "aha: reason is required: say why the number must not be called\n"
    usage_error(run(aha_db, "dnc", "add", "+14155550123"), "--reason")
    aha(aha_db, "dnc", "remove", "not a number", code=1)
    assert listed(aha_db) == []


async def test_a_number_listed_from_the_command_line_is_not_dialled(
    cases: Cases, tmp_path: Path
) -> None:
    seller = cases.new_seller(phone="+12125550188")
    await asyncio.to_thread(
        aha, cases.db, "dnc", "add", "+12125550188", "--reason", "seller's request by phone"
    )
    assert SqliteCallConsents(cases.db).listed("+12125550188") is not None
    await cases.detect(seller)
    view = await cases.wait_for(
        seller, lambda v: bool(v.call_attempts) and v.call_attempts[0].not_placed is not None
    )
    assert view.call_attempts[0].not_placed == "number on do-not-call list"
