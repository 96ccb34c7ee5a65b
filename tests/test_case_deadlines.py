"""The 72-hour clock: reminders and deactivation exactly at the deadline."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.testing import WorkflowEnvironment

from aha.domain.models import CallReport
from aha.domain.policy import parse_policy
from tests.conftest import ALWAYS_CALLABLE, ONE_CALL_A_DAY, Cases, free_port, running_cases


async def test_never_reached_is_deactivated_at_the_deadline(cases: Cases) -> None:
    seller = cases.new_seller()
    await cases.detect(seller)
    view = await cases.run_to_end(seller)
    assert view.status == "deactivated"
    deadline = view.issues[0].deadline
    deactivated = next(e for e in view.timeline if e.kind == "account_deactivated")
    assert deadline <= deactivated.at < deadline + timedelta(seconds=5)
    assert cases.store.get(seller).account_status == "deactivated"
    kinds = [m["X-Aha-Kind"] for m in cases.emails(seller)]
    assert kinds[0] == "issue_opened" and kinds[-1] == "deactivated"
    assert kinds.count("reminder") == 2

    attempts = view.call_attempts
    # Depending on the wall-clock hour the test runs at, a local day's first call can fall in
    # the last 30 minutes (call_report_timeout), so the deadline closes the case before that
    # call's report is due: it is abandoned, not counted as unanswered.
    last = attempts[-1]
    if last.outcome is None:
        assert deadline - last.placed_at < timedelta(minutes=30)
        assert any(e.kind == "call_abandoned" for e in view.timeline)
        attempts = attempts[:-1]
    assert attempts and all(a.outcome == "no_answer" for a in attempts)
    assert all(a.placed_at and a.placed_at < deadline for a in view.call_attempts)
    per_day = Counter(a.placed_at.astimezone(ZoneInfo("America/New_York")).date() for a in attempts)
    assert max(per_day.values()) <= 4, "at most max_call_attempts_per_day per local day"
    for earlier, later in itertools.pairwise(attempts):
        assert later.placed_at - earlier.outcome_at >= timedelta(hours=3), "no_answer spacing"


async def test_reached_but_unresolved_is_deactivated_and_calls_stop(
    cases_with: Any,
) -> None:
    async with cases_with(ONE_CALL_A_DAY) as cases:
        seller = cases.new_seller()
        await cases.detect(seller)
        await cases.wait_for_call(seller, 1)
        await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
        view = await cases.run_to_end(seller)
        assert view.status == "deactivated"
        assert len(view.call_attempts) == 1, "no proactive call after the seller was reached"
        assert cases.store.get(seller).account_status == "deactivated"


async def test_reminders_go_out_before_the_deadline_once_each(cases: Cases) -> None:
    seller = cases.new_seller()
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    await cases.advance(seller, timedelta(hours=49))
    emails = await cases.wait_for_emails(seller, 2)
    assert [m["X-Aha-Kind"] for m in emails] == ["issue_opened", "reminder"]
    assert "Deadline:" in emails[-1].get_content()
    await cases.advance(seller, timedelta(hours=20))
    emails = await cases.wait_for_emails(seller, 3)
    assert [m["X-Aha-Kind"] for m in emails] == ["issue_opened", "reminder", "reminder"]


async def test_a_mail_outage_does_not_hold_back_the_deadline(
    env: WorkflowEnvironment, tmp_path: Path, mail_outbox: tuple[Path, int]
) -> None:
    policy = parse_policy(
        ALWAYS_CALLABLE.replace('deadline = "72h"', 'deadline = "12s"').replace(
            '["24h", "4h"]', '["6s"]'
        )
    )
    nothing_listens = (mail_outbox[0], free_port())
    async with running_cases(env, tmp_path, nothing_listens, policy) as cases:
        seller = cases.new_seller()
        await cases.detect(seller)  # real time: this case's clock is not skipped
        view = await cases.wait_for(seller, lambda v: v.status == "deactivated", timeout=40)
        deadline = view.issues[0].deadline
        deactivated = next(e for e in view.timeline if e.kind == "account_deactivated")
        assert deadline <= deactivated.at < deadline + timedelta(seconds=3)
        assert cases.store.get(seller).account_status == "deactivated"
        assert cases.emails(seller) == [], "the mail server was down the whole time"
