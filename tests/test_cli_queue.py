"""`aha queue`, `aha calls pending`, `aha claim|release|assign` as subprocesses: their output
over a real case board, their refusals of bad input (exit 2, one line, nothing done), and
ownership through a real case."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from aha.adapters.sqlite.programme import SqliteProgrammeStore
from aha.adapters.stores import open_case_board
from aha.config import Settings
from aha.dev import free_port
from aha.domain.board import CaseRow, PendingCallRow
from aha.service import case_id_for
from tests.conftest import Cases

AHA = [sys.executable, "-m", "aha.cli"]
TOKENS = """
[[token]]
role = "specialist"
name = "dana"
email = "dana@aha.example"
token = "dana-token-0123456789"

[[token]]
role = "supervisor"
name = "lee"
token = "lee-token-0123456789ab"

[[token]]
role = "telephony"
name = "phones"
token = "phones-token-0123456789"
"""


def run(db: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("AHA_", "TEMPORAL_"))
    } | {
        "AHA_DB": db,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # nothing listens there
        "USER": "dana",
        **env,
    }
    return subprocess.run(
        [*AHA, *args], env=environment, capture_output=True, text=True, timeout=60
    )


def usage_error(proc: subprocess.CompletedProcess[str], reason: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert reason in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.fixture
def tokens(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.toml"
    path.write_text(TOKENS, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["queue", "--status", "resolved"], "argument --status: invalid choice: 'resolved'"),
        (["queue", "--marketplace", "U1"], "'U1' is not a marketplace code"),
        (["queue", "--at-risk-within", "soon"], "'soon' is not a duration such as 6h"),
        (["queue", "--at-risk-within", "3651d"], "'3651d' is more than 3650d"),
        (["queue", "--page-size", "0"], "'0' is not a positive whole number"),
        (["queue", "--page-size", "501"], "'501' is more than 500"),
        (["queue", "--limit", "-1"], "argument --limit"),
        (["queue", "--mine", "--owner", "lee"], "argument --owner: not with --mine"),
        (["queue", "--unassigned", "--owner", "lee"], "argument --unassigned: not with"),
        (["queue", "--owner", "<lee>"], "'<lee>' is not a name"),
        (["claim"], "the following arguments are required: seller"),
        (["claim", "acme", "--as", ""], "'' is not a name"),
        (["release", "acme", "--as", "a" * 65], "is not a name"),
        (["assign", "acme"], "the following arguments are required: --to"),
        (["assign", "acme", "--to", "ghost", "--as", "lee"], "'ghost' is not a specialist or"),
        (["assign", "acme", "--to", "phones", "--as", "lee"], "known: dana, lee"),
        (["assign", "acme", "--to", "lee", "--as", "dana"], "'dana' is not a supervisor"),
        (["extend", "acme", "--issue", "I1", "--until", "2027-01-16T15:00Z"], "--reason"),
        (
            ["extend", "acme", "--issue", "I1", "--until", "2027-01-16T15:00", "--reason", "r"],
            "needs a time zone offset",
        ),
        (
            ["extend", "acme", "--issue", "I1", "--until", "2027-01-16T15:00Z", "--reason", "r"],
            "'dana' is not a supervisor in",
        ),
    ],
)
def test_bad_input_is_a_usage_error(
    tmp_path: Path, tokens: Path, args: list[str], reason: str
) -> None:
    db = tmp_path / "aha.db"
    usage_error(run(str(db), *args, AHA_API_TOKENS=str(tokens)), reason)
    assert not db.exists(), "nothing was opened, let alone written"


def test_who_acts_must_be_known(tmp_path: Path) -> None:
    db = str(tmp_path / "aha.db")
    nobody = {"USER": ""}
    usage_error(run(db, "claim", "acme", **nobody), "say who you are: --as NAME")
    usage_error(run(db, "queue", "--mine", **nobody), "say who you are")
    usage_error(
        run(db, "release", "acme", USER="<root>"), "argument --as (or AHA_SPECIALIST, USER)"
    )


def test_a_broken_tokens_file_stops_the_command(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text('[[token]]\nrole = "specialist"\nemail = "x"\ntoken = "0123456789abcdefg"\n')
    proc = run(str(tmp_path / "aha.db"), "claim", "acme", AHA_API_TOKENS=str(tokens))
    assert proc.returncode == 1
    assert f"aha: {tokens}: token 1: email 'x' is not an email address" in proc.stderr


# ---- over a real board -------------------------------------------------------------------------


class Board:
    """An SQLite directory and case board, and the rows the cases would have written."""

    def __init__(self, db: Path) -> None:
        self.db = str(db)
        self.store = SqliteProgrammeStore(self.db)
        self.board = open_case_board(replace(Settings(), db_path=self.db))
        self.now = datetime.now(UTC)

    def add(self, left: timedelta, calls: int = 0, **fields: Any) -> CaseRow:
        seller_id = f"q-{uuid.uuid4().hex[:8]}"
        self.store.upsert(
            seller_id,
            email=f"{seller_id}@sellers.example",
            phone="+12125550123",
            timezone="Asia/Tokyo",
            marketplace="US",
            name=seller_id,
        )
        placed = self.now - timedelta(minutes=10)
        fields = {"status": "awaiting_contact"} | fields
        row = CaseRow(
            case_id=case_id_for(seller_id),
            run_id=str(uuid.uuid4()),
            version=1,
            seller_id=seller_id,
            marketplace="US",
            opened_at=self.now - timedelta(hours=1),
            deadline=self.now + left,
            timezone="Asia/Tokyo",
            calling_start="00:00",
            calling_end="24:00",
            attempts=calls,
            issue_types=["ip_complaint"],
            pending_calls=[
                PendingCallRow(
                    attempt=n, seller_initiated=False, scheduled_for=placed, placed_at=placed
                )
                for n in range(1, calls + 1)
            ],
            **fields,
        )
        assert self.board.record(row)
        return row


@pytest.fixture
def temporal(env: WorkflowEnvironment) -> str:
    """A Temporal the commands can reach (the queue itself is read from the board)."""
    return str(env.client.service_client.config.target_host)


def test_the_queue_table_lists_every_case_by_time_left(tmp_path: Path, temporal: str) -> None:
    board = Board(tmp_path / "aha.db")
    in_two_hours = board.now + timedelta(hours=2)
    made = [
        board.add(timedelta(hours=30), assigned_to="dana", next_call_at=in_two_hours),
        board.add(timedelta(hours=2, minutes=30), sla_state="breached", calls=2),
        board.add(
            timedelta(days=2, hours=5),
            status="engaged",
            callback_at=board.now + timedelta(hours=3),
            next_call_at=in_two_hours,
        ),
    ]
    proc = run(board.db, "queue", "--page-size", "1", TEMPORAL_ADDRESS=temporal)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = lines[0].split()
    assert header[:2] == ["SELLER", "STATUS"] and header[-2:] == ["OWNER", "SLA"]
    assert [line.split()[0] for line in lines[1:4]] == [
        made[1].seller_id,
        made[0].seller_id,
        made[2].seller_id,
    ], "by time left, over three pages of one"
    soon, later, last = lines[1], lines[2], lines[3]
    assert re.search(r" 2h (29|30)m .* yes +2 .* breached$", soon), soon
    assert re.search(r" 1d 05h .* in 1h 59m +dana +ok$", later), later  # 30 hours left
    assert re.search(r"engaged +2d 04h ", last), last
    assert re.search(r" callback in 2h (58|59)m +- +ok$", last), last
    assert lines[-1] == "3 of 3 open cases"

    limited = run(board.db, "queue", "--limit", "2", "--json", TEMPORAL_ADDRESS=temporal)
    assert limited.returncode == 0, limited.stderr
    data = json.loads(limited.stdout)
    assert data["total"] == 3
    assert [c["row"]["seller_id"] for c in data["cases"]] == [made[1].seller_id, made[0].seller_id]
    assert data["cases"][0]["callable_now"] is True

    mine = run(board.db, "queue", "--mine", "--as", "dana", TEMPORAL_ADDRESS=temporal)
    assert [line.split()[0] for line in mine.stdout.splitlines()[1:-1]] == [made[0].seller_id]
    breached = run(board.db, "queue", "--breached", TEMPORAL_ADDRESS=temporal)
    assert breached.stdout.splitlines()[-1] == "1 of 1 open cases"
    none = run(board.db, "queue", "--status", "call_required", TEMPORAL_ADDRESS=temporal)
    assert none.stdout == "no open cases match\n"


def test_calls_pending_prints_every_page(tmp_path: Path, temporal: str) -> None:
    board = Board(tmp_path / "aha.db")
    made = [board.add(timedelta(hours=10), calls=1) for _ in range(5)]
    made += [board.add(timedelta(hours=20), calls=2) for _ in range(3)]
    expected = {(row.seller_id, n) for row in made for n in range(1, row.attempts + 1)}
    for size in ("1", "3", "500"):
        proc = run(board.db, "calls", "pending", "--page-size", size, "--json",
                   TEMPORAL_ADDRESS=temporal)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        calls = json.loads(proc.stdout)
        assert len(calls) == 11 and {(c["seller_id"], c["attempt"]) for c in calls} == expected
    text = run(board.db, "calls", "pending", "--page-size", "2", TEMPORAL_ADDRESS=temporal)
    assert text.stdout.count(" phone +12125550123 ") == 11
    usage_error(run(board.db, "calls", "pending", "--page-size", "501"), "is more than 500")


# ---- ownership through a real case -------------------------------------------------------------


async def test_claim_release_and_assign_from_the_command_line(
    cases: Cases, tokens: Path, tmp_path: Path
) -> None:
    seller_id = cases.new_seller()
    env = {
        "TEMPORAL_ADDRESS": str(cases.client.service_client.config.target_host),
        "AHA_TASK_QUEUE": cases.service.task_queue,
        "AHA_API_TOKENS": str(tokens),
    }

    async def aha(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        # In a thread: the worker runs on this event loop and must keep running meanwhile.
        proc = await asyncio.to_thread(run, cases.db, *args, **env)
        assert proc.returncode == code, proc.stderr
        assert "Traceback" not in proc.stderr
        return proc

    async def said(*args: str) -> str:
        return (await aha(*args)).stdout.strip()

    # Opened by the CLI, the case runs on the wall clock, as in production.
    await aha("detect", seller_id, "--issue-type", "ip_complaint", "--severity", "high")

    assert await said("claim", seller_id) == f"case of {seller_id}: yours (dana)"  # $USER
    view = await cases.view(seller_id)
    assert (view.assigned_to, view.assigned_email) == ("dana", "dana@aha.example")
    refused = await aha("claim", seller_id, "--as", "kim", code=1)
    assert refused.stderr.startswith("aha: "), refused.stderr
    assert await said("assign", seller_id, "--to", "lee", "--as", "lee") == (
        f"case of {seller_id}: assigned to lee"
    )
    assert json.loads(await said("release", seller_id, "--as", "lee", "--json")) == {
        "assigned_to": None,
        "changed": True,
    }
    view = await cases.view(seller_id)
    ownership = [
        (e.kind, e.who)
        for e in view.timeline
        if e.kind in ("case_claimed", "case_released", "case_assigned")
    ]
    assert ownership == [
        ("case_claimed", "cli:dana"),
        ("case_assigned", "cli:lee"),
        ("case_released", "cli:lee"),
    ]
