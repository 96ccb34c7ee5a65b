"""The delivery ledger on a real SQLite file and a real PostgreSQL database (every test runs
against both): one claimant per step, across threads and processes; a dead claimant's step is
free again after its hold; a sealed run refuses fenced steps."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from aha.adapters.stores import AppStore, open_programme_store
from aha.config import Settings
from aha.ports import DeliveryLedger

HOLD = timedelta(seconds=60)


def _store(aha_db: str) -> AppStore:
    return open_programme_store(replace(Settings(), db_path=aha_db))


def _rows(aha_db: str, sql: str) -> list[tuple[Any, ...]]:
    """What the database itself holds, read past the store."""
    if aha_db.startswith("postgresql://"):
        with psycopg.connect(aha_db) as pg:
            return pg.execute(sql).fetchall()  # type: ignore[arg-type]
    db = sqlite3.connect(aha_db)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


@pytest.fixture
def deliveries(aha_db: str) -> DeliveryLedger:
    return _store(aha_db).deliveries


def test_a_claimed_step_is_busy_for_everyone_else_until_marked(
    deliveries: DeliveryLedger,
) -> None:
    with deliveries.claim("case/run/email/a", "email", HOLD) as first:
        assert first.outcome == "claimed"
        with deliveries.claim("case/run/email/a", "email", HOLD) as second:
            assert second.outcome == "busy"
        first.mark_sent()
    with deliveries.claim("case/run/email/a", "email", HOLD) as later:
        assert later.outcome == "already_sent"


def test_a_claim_left_unmarked_is_released_for_the_retry(deliveries: DeliveryLedger) -> None:
    with pytest.raises(ConnectionRefusedError), deliveries.claim("k", "email", HOLD) as claim:
        assert claim.outcome == "claimed"
        raise ConnectionRefusedError("mail server down")
    with deliveries.claim("k", "email", HOLD) as retry:
        assert retry.outcome == "claimed"


def test_the_claim_of_a_dead_sender_is_taken_again_once_its_hold_passed(
    aha_db: str, deliveries: Any
) -> None:
    # A process that dies inside the block never releases: simulate by leaving the row.
    with deliveries.claim("k", "call", timedelta(milliseconds=200)) as claim:
        assert claim.outcome == "claimed"
        claim.release = lambda: None  # type: ignore[method-assign]
    with deliveries.claim("k", "call", HOLD) as too_soon:
        assert too_soon.outcome == "busy"
    time.sleep(0.25)
    with deliveries.claim("k", "call", HOLD) as retry:
        assert retry.outcome == "claimed"
        retry.mark_sent()
    assert _rows(aha_db, "SELECT state, claims FROM deliveries WHERE key = 'k'") == [("sent", 2)]


def test_a_holder_whose_claim_expired_cannot_release_or_mark_the_new_one(
    deliveries: Any,
) -> None:
    with deliveries.claim("k", "email", timedelta(milliseconds=100)) as slow:
        time.sleep(0.15)
        with deliveries.claim("k", "email", HOLD) as fresh:
            assert fresh.outcome == "claimed" and fresh.token == slow.token + 1
            slow.release()  # the slow holder gives up: the fresh claim must stand
            with deliveries.claim("k", "email", HOLD) as third:
                assert third.outcome == "busy"
            fresh.mark_sent()
    with deliveries.claim("k", "email", HOLD) as later:
        assert later.outcome == "already_sent"


def test_a_retry_of_a_fenced_step_still_sending_is_busy_not_sealed(
    deliveries: DeliveryLedger,
) -> None:
    with deliveries.claim("run/email/reminder", "email", HOLD, fence="run") as sending:
        deliveries.seal("run")
        with deliveries.claim("run/email/reminder", "email", HOLD, fence="run") as retry:
            assert retry.outcome == "busy", "the attempt still sending decides, not its retry"
        sending.mark_sent()


def test_a_sealed_run_refuses_fenced_steps_only(deliveries: DeliveryLedger) -> None:
    deliveries.seal("case/run-1")
    deliveries.seal("case/run-1")  # sealing twice changes nothing
    assert deliveries.is_sealed("case/run-1")
    assert not deliveries.is_sealed("case/run-2")
    with deliveries.claim("case/run-1/call/3", "call", HOLD, fence="case/run-1") as call:
        assert call.outcome == "sealed"
    with deliveries.claim("case/run-1/email/resolved", "email", HOLD) as notice:
        assert notice.outcome == "claimed"
    with deliveries.claim("case/run-2/call/1", "call", HOLD, fence="case/run-2") as other:
        assert other.outcome == "claimed"


def test_a_step_sent_before_the_seal_still_reads_as_sent(deliveries: DeliveryLedger) -> None:
    with deliveries.claim("case/run/email/reminder", "email", HOLD, fence="case/run") as c:
        c.mark_sent()
    deliveries.seal("case/run")
    with deliveries.claim("case/run/email/reminder", "email", HOLD, fence="case/run") as again:
        assert again.outcome == "already_sent"


def test_keys_recorded_by_the_older_ledger_count_as_sent(aha_db: str) -> None:
    store = _store(aha_db)
    store.record_sent("case/run/email/issue-opened/I1", "email")
    with store.deliveries.claim("case/run/email/issue-opened/I1", "email", HOLD) as claim:
        assert claim.outcome == "already_sent"


def _claim_in_thread(deliveries: DeliveryLedger, start: threading.Barrier, won: list[str]) -> None:
    start.wait()
    with deliveries.claim("race", "email", HOLD) as claim:
        if claim.outcome == "claimed":
            time.sleep(0.05)  # the send
            claim.mark_sent()
        won.append(claim.outcome)


def test_of_many_threads_racing_for_one_step_exactly_one_sends(
    deliveries: DeliveryLedger,
) -> None:
    start = threading.Barrier(8)
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=_claim_in_thread, args=(deliveries, start, outcomes))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("claimed") == 1
    assert set(outcomes) <= {"claimed", "busy", "already_sent"}


def _claim_in_process(path: str, key: str, start: Any, results: multiprocessing.Queue[str]) -> None:
    deliveries = _store(path).deliveries
    start.wait()  # all four import and connect first, then race
    with deliveries.claim(key, "email", HOLD) as claim:
        if claim.outcome == "claimed":
            claim.mark_sent()
        results.put(claim.outcome)


def test_of_several_worker_processes_exactly_one_claims_each_step(aha_db: str) -> None:
    path = aha_db
    _store(path)
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[str] = context.Queue()
    for key in ("a", "b", "c"):
        start = context.Barrier(4)
        processes = [
            context.Process(target=_claim_in_process, args=(path, key, start, results))
            for _ in range(4)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=30)
    outcomes = [results.get(timeout=5) for _ in range(12)]
    assert outcomes.count("claimed") == 3
    assert _rows(path, "SELECT count(*) FROM deliveries WHERE state = 'sent'") == [(3,)]
