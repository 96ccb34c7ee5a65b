"""Real cases keep their rows on the board, on SQLite and on PostgreSQL: the queue, the call
list and the dashboard follow what each case does, and a closed case leaves the queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from aha.adapters.temporal.gateway import TemporalCases
from aha.board_repair import reconcile
from aha.domain.board import QueueFilter
from aha.domain.models import CallReport, Resolution
from aha.domain.policy import parse_policy
from aha.service import CaseError, case_id_for
from tests.conftest import ALWAYS_CALLABLE, Cases, running_cases

POLICY = ALWAYS_CALLABLE + '\n[sla]\nfirst_attempt_within = "15m"\n'


@pytest.fixture
async def board_cases(
    env: WorkflowEnvironment, tmp_path: Path, mail_outbox: tuple[Path, int], aha_db: str
) -> AsyncIterator[Cases]:
    async with running_cases(env, tmp_path, mail_outbox, parse_policy(POLICY), db=aha_db) as c:
        yield c


async def test_the_queue_follows_a_case_from_opening_to_its_end(board_cases: Cases) -> None:
    cases = board_cases
    seller = cases.new_seller()
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    service = cases.service
    assert cases.reads is not None
    reads = cases.reads

    async def queued() -> list[str]:
        page = await reads.queue(QueueFilter(), page_size=500)
        return [item.row.seller_id for item in page.cases]

    view = await cases.wait_for(seller, lambda v: v.call_attempts[0].placed_at is not None)
    page = await reads.queue(QueueFilter(), page_size=500)
    (item,) = [i for i in page.cases if i.row.seller_id == seller]
    assert item.row.status == "awaiting_contact" and item.row.deadline == view.deadline
    assert item.row.sla_first_attempt == "met" and item.row.sla_state == "ok"

    calls = (await reads.pending_calls(page_size=500)).calls
    (call,) = [c for c in calls if c.seller_id == seller]
    assert (call.attempt, call.phone) == (1, "+12125550123")

    await service.claim(seller, "dana", by="specialist:dana")
    mine = await reads.queue(QueueFilter(owner="dana"), page_size=500)
    assert seller in [i.row.seller_id for i in mine.cases]
    with pytest.raises(CaseError, match="owned by dana"):
        await service.claim(seller, "lee", by="specialist:lee")

    await service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    await service.resolve(seller, Resolution(issue_id="I1", note="fixed together"))
    # The closing row is written before the workflow completes.
    await cases.client.get_workflow_handle(case_id_for(seller)).result()
    assert seller not in await queued()
    assert seller not in [c.seller_id for c in (await reads.pending_calls(page_size=500)).calls]
    numbers = await reads.dashboard()
    assert numbers.closed_30d >= 1 and numbers.reached_before_deadline_30d >= 1


async def test_a_case_in_flight_is_on_the_board_at_once(board_cases: Cases) -> None:
    cases = board_cases
    sellers = [cases.new_seller(phone=None) for _ in range(3)]
    for seller in sellers:
        await cases.detect(seller)
    for seller in sellers:
        await cases.wait_for(seller, lambda v: v.calling_stopped_reason is not None)
    assert cases.reads is not None
    reads = cases.reads
    page = await reads.queue(QueueFilter(unassigned=True), page_size=2)
    assert page.total >= 3 and len(page.cases) == 2 and page.next_page_token
    rest = await reads.queue(
        QueueFilter(unassigned=True), page_size=500, page_token=page.next_page_token
    )
    seen = [i.row.seller_id for i in page.cases + rest.cases]
    assert set(sellers) <= set(seen) and len(seen) == len(set(seen))
    for item in page.cases + rest.cases:
        if item.row.seller_id in sellers:
            assert item.row.calling_stopped == "no emergency phone on file"
            assert not item.callable_now


async def test_reconcile_closes_the_rows_of_runs_that_ended_without_writing_them(
    board_cases: Cases,
) -> None:
    cases = board_cases
    assert cases.reads is not None
    board = cases.reads.board
    ended, running = (cases.new_seller(phone=None) for _ in range(2))
    for seller in (ended, running):
        await cases.detect(seller)
        await cases.wait_for(seller, lambda v: v.calling_stopped_reason is not None)
    resolved = cases.new_seller()
    await cases.detect(resolved)
    # One run is terminated by an operator: it never writes its closing row.
    await cases.client.get_workflow_handle(case_id_for(ended)).terminate("operator")
    # One completes, but its closing row is lost: the board holds an open row at a newer
    # version (as if the last write never landed).
    await cases.wait_for_call(resolved, 1)
    stale = board.row(case_id_for(resolved))
    assert stale is not None
    await cases.service.report_call_outcome(resolved, CallReport(attempt=1, outcome="answered"))
    await cases.service.resolve(resolved, Resolution(issue_id="I1", note="fixed together"))
    await cases.client.get_workflow_handle(case_id_for(resolved)).result()
    assert board.record(stale.model_copy(update={"version": 999}))

    async def queued() -> set[str]:
        page = await cases.reads.queue(QueueFilter(), page_size=500)  # type: ignore[union-attr]
        return {item.row.seller_id for item in page.cases}

    assert {ended, running, resolved} <= await queued()
    gateway = TemporalCases(cases.client)
    dry = await reconcile(board, gateway, dry_run=True)
    assert {ended, resolved} <= {c.split(" ")[0].removeprefix("at-risk-case-") for c in dry.closed}
    assert {ended, running, resolved} <= await queued(), "a dry run changes nothing"
    done = await reconcile(board, gateway)
    assert f"{case_id_for(ended)} (terminated)" in done.closed
    assert f"{case_id_for(resolved)} (completed)" in done.closed
    assert not any(running in c for c in done.closed)
    left = await queued()
    assert running in left and ended not in left and resolved not in left
    closed = board.row(case_id_for(resolved))
    assert closed is not None and closed.status == "resolved" and closed.version == 1000
    again = await reconcile(board, gateway)
    assert not any(s in c for c in again.closed for s in (ended, resolved))
