"""The case board's contract: every test runs against an SQLite file and a real PostgreSQL
database, through the factory the entry points use, and must see the same rows, pages and
numbers."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from aha.adapters.stores import open_case_board, open_programme_store
from aha.config import Settings
from aha.domain.board import (
    CallCursor,
    CaseRow,
    Dashboard,
    PendingCallRow,
    QueueCursor,
    QueueFilter,
)
from aha.domain.policy import CallingCalendar
from aha.ports import CaseBoard

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def _settings(aha_db: str) -> Settings:
    return replace(Settings(), db_path=aha_db)


@pytest.fixture
def board(aha_db: str) -> CaseBoard:
    return open_case_board(_settings(aha_db))


def a_row(seller: str, **fields: Any) -> CaseRow:
    case_id = f"at-risk-case-{seller}"
    values: dict[str, Any] = {
        "case_id": case_id,
        "run_id": f"{case_id}/run-1",
        "version": 1,
        "seller_id": seller,
        "marketplace": "US",
        "status": "awaiting_contact",
        "opened_at": NOW - 2 * HOUR,
        "detected_at": NOW - 3 * HOUR,
        "deadline": NOW + 70 * HOUR,
        "timezone": "America/New_York",
    }
    return CaseRow(**(values | fields))


def a_call(
    attempt: int, initiated: bool = False, scheduled: datetime = NOW - HOUR
) -> PendingCallRow:
    return PendingCallRow(
        attempt=attempt,
        seller_initiated=initiated,
        scheduled_for=scheduled,
        placed_at=scheduled + timedelta(minutes=1),
        guidance=[f"Script for attempt {attempt}", "Ask about the listings"],
    )


def record_all(board: CaseBoard, *rows: CaseRow) -> None:
    for row in rows:
        assert board.record(row), row.run_id


def ids(rows: list[CaseRow]) -> list[str]:
    return [row.case_id for row in rows]


# ---- writes ----------------------------------------------------------------------------------


def test_a_run_is_kept_only_at_a_newer_version_and_read_back_whole(board: CaseBoard) -> None:
    new_york = ZoneInfo("America/New_York")
    first = a_row(
        "acme",
        version=2,
        status="engaged",
        marketplace="DE",
        detected_at=datetime(2026, 11, 27, 6, 30, 0, 123456, tzinfo=new_york),
        deadline=datetime(2026, 11, 30, 9, 0, tzinfo=new_york),
        timezone="Europe/Berlin",
        calling_start="09:00",
        calling_end="18:30",
        calling_calendar=CallingCalendar(
            mon=("09:00-12:00", "13:00-18:30"), sat=("10:00-14:00",), holidays=(date(2026, 12, 25),)
        ),
        calling_stopped="seller asked for email only",
        attempts=3,
        next_call_at=NOW + 2 * HOUR,
        callback_at=datetime(2026, 11, 27, 14, 30, tzinfo=new_york),
        first_attempt_at=NOW - HOUR,
        reached_at=NOW - timedelta(minutes=5),
        assigned_to="ana",
        sla_state="warning",
        sla_first_attempt="met",
        sla_reached="warning",
        sla_plan_review=None,
        issue_types=["ip_complaint", "late_shipment"],
        pending_calls=[a_call(3)],
    )
    assert board.record(first)
    assert board.row(first.case_id) == first

    older = first.model_copy(update={"version": 1, "status": "call_required", "pending_calls": []})
    assert not board.record(older)
    repeated = first.model_copy(update={"status": "call_required"})
    assert not board.record(repeated)
    assert board.row(first.case_id) == first, "a stale or repeated write changes nothing"

    newer = first.model_copy(
        update={"version": 3, "status": "plan_under_review", "assigned_to": None}
    )
    assert board.record(newer)
    assert board.row(first.case_id) == newer
    assert board.row("at-risk-case-nobody") is None


def test_a_time_without_a_zone_is_refused_and_nothing_is_written(board: CaseBoard) -> None:
    naive = a_row("acme", deadline=datetime(2026, 11, 30, 9, 0))
    with pytest.raises(ValueError, match="deadline must be timezone-aware"):
        board.record(naive)
    call = a_call(1).model_copy(update={"placed_at": datetime(2026, 11, 27, 9, 0)})
    with pytest.raises(ValueError, match="placed_at must be timezone-aware"):
        board.record(a_row("acme", pending_calls=[call]))
    assert board.row("at-risk-case-acme") is None


def test_pending_calls_are_replaced_with_each_kept_write(board: CaseBoard) -> None:
    board.record(a_row("acme", version=1, pending_calls=[a_call(1), a_call(2)]))
    board.record(a_row("acme", version=2, pending_calls=[a_call(2)]))
    assert [c.attempt for c in board.row("at-risk-case-acme").pending_calls] == [2]  # type: ignore[union-attr]
    assert not board.record(a_row("acme", version=2, pending_calls=[a_call(1), a_call(3)]))
    assert [(i.call.attempt, i.row.version) for i in board.pending_calls(10)] == [(2, 2)]
    board.record(a_row("acme", version=3, pending_calls=[]))
    assert board.pending_calls(10) == []
    assert board.row("at-risk-case-acme").pending_calls == []  # type: ignore[union-attr]


@pytest.mark.parametrize("order", ["older first", "newer first"])
def test_a_newer_run_of_a_case_replaces_the_older_in_the_queue_and_the_calls(
    board: CaseBoard, order: str
) -> None:
    older = a_row("acme", run_id="run-a", version=5, opened_at=NOW - 5 * DAY,
                  deadline=NOW + HOUR, pending_calls=[a_call(1)])  # fmt: skip
    newer = a_row("acme", run_id="run-b", version=1, opened_at=NOW - HOUR,
                  deadline=NOW + 71 * HOUR, pending_calls=[a_call(1, initiated=True)])  # fmt: skip
    other = a_row("zeta", deadline=NOW + 2 * HOUR)
    record_all(board, *((older, newer) if order == "older first" else (newer, older)), other)

    rows, total = board.queue(QueueFilter(), NOW, 50)
    assert [(r.case_id, r.run_id) for r in rows] == [("at-risk-case-zeta", other.run_id),
                                                     ("at-risk-case-acme", "run-b")]  # fmt: skip
    assert total == 2
    assert [(i.row.run_id, i.call.seller_initiated) for i in board.pending_calls(10)] == [
        ("run-b", True)
    ]
    assert board.row("at-risk-case-acme") == newer

    # A late write of the older run (its last one, still open) is kept, yet stays superseded.
    assert board.record(older.model_copy(update={"version": 6, "status": "engaged"}))
    assert ids(board.queue(QueueFilter(), NOW, 50)[0]) == ["at-risk-case-zeta", "at-risk-case-acme"]
    assert board.queue(QueueFilter(status="engaged"), NOW, 50) == ([], 0)
    assert [i.row.run_id for i in board.pending_calls(10)] == ["run-b"]
    assert board.row("at-risk-case-acme") == newer


# ---- the queue -------------------------------------------------------------------------------


def test_every_filter_selects_open_rows_in_deadline_order_with_their_count(
    board: CaseBoard,
) -> None:
    rows = {
        "r1": a_row("r1", assigned_to="ana", status="engaged", deadline=NOW + 3 * HOUR),
        "r2": a_row("r2", assigned_to="ben", marketplace="DE", deadline=NOW + 10 * HOUR,
                    sla_state="breached"),
        "r3": a_row("r3", status="call_required", deadline=NOW + 30 * HOUR, sla_state="warning"),
        "r4": a_row("r4", deadline=None, sla_state="breached"),
        "r5": a_row("r5", assigned_to="ana", status="plan_under_review", marketplace="DE",
                    deadline=NOW - HOUR),
        "closed": a_row("closed", assigned_to="ana", status="resolved", deadline=NOW + HOUR,
                        sla_state="breached", closed_at=NOW - HOUR, closure_reason="resolved"),
    }  # fmt: skip
    record_all(board, *rows.values())
    expected: list[tuple[QueueFilter, list[str]]] = [
        (QueueFilter(), ["r5", "r1", "r2", "r3", "r4"]),
        (QueueFilter(owner="ana"), ["r5", "r1"]),
        (QueueFilter(owner="nobody"), []),
        (QueueFilter(unassigned=True), ["r3", "r4"]),
        (QueueFilter(status="awaiting_contact"), ["r2", "r4"]),
        (QueueFilter(status="resolved"), []),
        (QueueFilter(marketplace="DE"), ["r5", "r2"]),
        (QueueFilter(at_risk_within=6 * HOUR), ["r5", "r1"]),
        (QueueFilter(at_risk_within=24 * HOUR), ["r5", "r1", "r2"]),
        (QueueFilter(breached=True), ["r2", "r4"]),
        (QueueFilter(owner="ana", marketplace="DE"), ["r5"]),
        (QueueFilter(unassigned=True, breached=True, status="awaiting_contact"), ["r4"]),
        (QueueFilter(at_risk_within=24 * HOUR, breached=True), ["r2"]),
    ]
    for filters, names in expected:
        found, total = board.queue(filters, NOW, 50)
        assert found == [rows[name] for name in names], filters
        assert total == len(names), filters
        page, same_total = board.queue(filters, NOW, 1)
        assert (ids(page), same_total) == (ids(found[:1]), total), "the count ignores the limit"


def _sort_key(row: CaseRow) -> tuple[bool, datetime, str]:
    return (row.deadline is None, row.deadline or NOW, row.case_id)


def _all_pages(board: CaseBoard, filters: QueueFilter, size: int) -> tuple[list[CaseRow], set[int]]:
    seen: list[CaseRow] = []
    totals = set()
    after = None
    while True:
        page, total = board.queue(filters, NOW, size, after)
        totals.add(total)
        assert len(page) <= size
        seen += page
        if len(page) < size:
            return seen, totals
        after = QueueCursor(deadline=page[-1].deadline, case_id=page[-1].case_id)


def test_pages_of_the_queue_are_complete_in_order_with_ties_and_missing_deadlines_last(
    board: CaseBoard,
) -> None:
    rows = []
    for n in range(250):
        # Case ids that sort differently bytewise and in a natural-language collation.
        seller = f"{'AbZ_-'[n % 5]}{n:03d}"
        deadline = None if n % 25 == 0 else NOW + (n % 7) * HOUR
        if n % 50 == 1:  # the same instant, written in another zone
            deadline = (NOW + 3 * HOUR).astimezone(ZoneInfo("Asia/Kolkata"))
        rows.append(a_row(seller, deadline=deadline, marketplace="DE" if n % 3 else "US"))
    record_all(board, *rows)

    seen, totals = _all_pages(board, QueueFilter(), 50)
    assert totals == {250}
    assert ids(seen) == ids(sorted(rows, key=_sort_key))
    assert [row.deadline for row in seen[-10:]] == [None] * 10

    soon = QueueFilter(marketplace="DE", at_risk_within=4 * HOUR)
    want = sorted((r for r in rows if r.marketplace == "DE" and r.deadline
                   and r.deadline <= NOW + 4 * HOUR), key=_sort_key)  # fmt: skip
    seen, totals = _all_pages(board, soon, 7)
    assert ids(seen) == ids(want) and totals == {len(want)}


def test_a_page_of_no_rows_is_refused(board: CaseBoard) -> None:
    board.record(a_row("acme", pending_calls=[a_call(1)]))
    for limit in (0, -1):
        with pytest.raises(ValueError, match="at least 1 row"):
            board.queue(QueueFilter(), NOW, limit)
        with pytest.raises(ValueError, match="at least 1 row"):
            board.pending_calls(limit)


# ---- the call list ---------------------------------------------------------------------------


def test_pending_calls_come_seller_initiated_first_then_oldest_with_each_phone(
    aha_db: str, board: CaseBoard
) -> None:
    store = open_programme_store(_settings(aha_db))
    store.upsert("a", email="a@sellers.example", phone="+12125550123", timezone="UTC")
    store.upsert("c", email="c@sellers.example", phone=None, timezone="UTC")  # no phone on file
    record_all(
        board,
        a_row("a", pending_calls=[a_call(1, scheduled=NOW - 3 * HOUR),
                                  a_call(2, initiated=True, scheduled=NOW - HOUR)]),
        a_row("b", pending_calls=[a_call(1, scheduled=NOW - 3 * HOUR)]),  # not in the directory
        a_row("c", pending_calls=[a_call(4, initiated=True, scheduled=NOW - 2 * HOUR)]),
        a_row("d", status="resolved", closed_at=NOW, pending_calls=[a_call(1, initiated=True)]),
        a_row("e", run_id="old", opened_at=NOW - 9 * DAY, pending_calls=[a_call(1)]),
        a_row("e", run_id="new", pending_calls=[]),
    )  # fmt: skip
    want = [("c", 4, None), ("a", 2, "+12125550123"), ("a", 1, "+12125550123"), ("b", 1, None)]

    everything = board.pending_calls(100)
    assert [(i.row.seller_id, i.call.attempt, i.phone) for i in everything] == want
    for item in everything:
        assert item.row == board.row(item.row.case_id)
        assert item.call in item.row.pending_calls
    for size in (1, 3):
        paged = []
        after = None
        while page := board.pending_calls(size, after):
            paged += page
            last = page[-1]
            after = CallCursor(
                seller_initiated=last.call.seller_initiated,
                scheduled_for=last.call.scheduled_for,
                case_id=last.row.case_id,
                attempt=last.call.attempt,
            )
        assert paged == everything


# ---- the dashboard ---------------------------------------------------------------------------


def _times(
    opened: timedelta, to_attempt: float | None = None, to_reach: float | None = None, **fields: Any
) -> dict[str, Any]:
    """A row's times: opened `opened` ago, detected about an hour before, and the seconds from
    detection to its first attempt and to reaching the seller."""
    opened_at = NOW - opened
    detected = opened_at - HOUR + timedelta(seconds=0.7)
    return {
        "opened_at": opened_at,
        "detected_at": detected,
        "deadline": opened_at + 72 * HOUR,
        "first_attempt_at": detected + timedelta(seconds=to_attempt) if to_attempt else None,
        "reached_at": detected + timedelta(seconds=to_reach) if to_reach else None,
        **fields,
    }


def test_the_dashboard_counts_what_the_board_holds(board: CaseBoard) -> None:
    def closed(seller: str, status: str, reason: str, ago: timedelta, **times: Any) -> CaseRow:
        return a_row(seller, status=status, closure_reason=reason, closed_at=NOW - ago, **times)

    record_all(
        board,
        # Open: an older run of o1's case, still marked open, counts nowhere.
        a_row("o1", run_id="o1-old", **_times(40 * DAY, deadline=NOW + HOUR,
                                              sla_first_attempt="breached")),
        a_row("o1", run_id="o1-new", **_times(DAY, 60, deadline=NOW + 2 * HOUR)),
        a_row("o2", **_times(DAY, 120, deadline=NOW + 12 * HOUR, sla_first_attempt="breached")),
        a_row("o3", status="engaged", **_times(2 * DAY, 300.000001, 1000, deadline=NOW + 48 * HOUR,
                                               sla_plan_review="met")),
        a_row("o4", status="call_required", **_times(HOUR, deadline=None,
                                                     sla_plan_review="breached")),
        # Closed in the last 30 days: c1 reached before its deadline, c4 only after it.
        closed("c1", "resolved", "resolved", DAY, **_times(4 * DAY, 600, 1999.5)),
        closed("c2", "deactivated", "deadline_passed", 3 * DAY,
               **_times(6 * DAY, 900, sla_first_attempt="breached", sla_reached="breached")),
        closed("c3", "deactivated", "immediate_policy", 10 * DAY, **_times(13 * DAY)),
        closed("c4", "deactivated", "deadline_passed", 20 * DAY,
               **_times(22 * DAY, None, 80 * 3600, sla_reached="breached")),
        # Closed (and opened) before the last 30 days: in none of the numbers.
        closed("c5", "resolved", "resolved", 40 * DAY,
               **_times(43 * DAY, 10, 50, sla_plan_review="breached")),
        closed("c6", "deactivated", "not_enrolled", 35 * DAY, **_times(38 * DAY)),
    )  # fmt: skip
    numbers = board.dashboard(NOW)
    assert numbers == Dashboard(
        at=NOW,
        open_by_status={
            "awaiting_contact": 2,
            "engaged": 1,
            "plan_under_review": 0,
            "call_required": 1,
        },
        at_risk_6h=1,
        at_risk_24h=2,
        closed_30d=4,
        reached_before_deadline_30d=1,
        # Nearest rank over [60, 120, 300.000001, 600, 900] and over [1000, 1999.5, 288000],
        # to the microsecond.
        first_attempt_p50_s=300.000001,
        first_attempt_p90_s=900,
        reached_p50_s=1999.5,
        reached_p90_s=80 * 3600,
        deactivations_7d={"deadline_passed": 1},
        deactivations_30d={"deadline_passed": 2, "immediate_policy": 1},
        sla_breaches_30d={"first_attempt": 2, "reached": 2, "plan_review": 1},
    )
    assert numbers.contact_rate_30d == 0.25


def test_an_empty_board_has_zeros_and_no_percentiles(board: CaseBoard) -> None:
    numbers = board.dashboard(NOW)
    assert numbers.open_by_status == dict.fromkeys(
        ("awaiting_contact", "engaged", "plan_under_review", "call_required"), 0
    )
    assert (numbers.first_attempt_p50_s, numbers.reached_p90_s, numbers.contact_rate_30d) == (
        None,
        None,
        None,
    )
    assert numbers.sla_breaches_30d == {"first_attempt": 0, "reached": 0, "plan_review": 0}


# ---- concurrent writers ----------------------------------------------------------------------


def _in_threads(count: int, work: Callable[[int], None]) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            start.wait()
            work(index)
        except BaseException as error:  # every failure is reported, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_concurrent_writes_of_a_run_end_at_its_highest_version(board: CaseBoard) -> None:
    versions = list(range(1, 121))
    random.Random(11).shuffle(versions)
    kept: list[int] = []

    def write(index: int) -> None:
        for version in versions[index::6]:
            row = a_row("acme", version=version, attempts=version,
                        pending_calls=[a_call(version), a_call(version + 1000)])  # fmt: skip
            if board.record(row):
                kept.append(version)

    _in_threads(6, write)
    final = board.row("at-risk-case-acme")
    assert final is not None
    assert (final.version, final.attempts) == (120, 120)
    assert [c.attempt for c in final.pending_calls] == [120, 1120]
    assert 120 in kept
    assert [i.call.attempt for i in board.pending_calls(10)] == [120, 1120]


def test_concurrent_runs_of_a_case_leave_only_the_newest_in_the_queue(board: CaseBoard) -> None:
    cases = [f"c{n:02d}" for n in range(30)]
    together = threading.Barrier(6)

    def write(index: int) -> None:
        # Each thread writes its own run of every case, all six runs of a case at once.
        for seller in cases:
            together.wait()
            opened = NOW - (10 - index) * HOUR
            row = a_row(seller, run_id=f"{seller}/run-{index}", opened_at=opened,
                        pending_calls=[a_call(1)])  # fmt: skip
            assert board.record(row)

    _in_threads(6, write)
    rows, total = board.queue(QueueFilter(), NOW, 100)
    assert ([r.run_id for r in rows], total) == ([f"{c}/run-5" for c in cases], len(cases))
    assert [i.row.run_id for i in board.pending_calls(100)] == [f"{c}/run-5" for c in cases]
