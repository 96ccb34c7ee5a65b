"""Each SLA target met, warned and breached in a real case workflow under time skipping: the
case's clocks, its timeline, its search attributes and the emails the team receives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aha import search_attributes as sa
from aha.domain.models import CallReport, CaseView, Review
from aha.service import case_id_for
from tests.conftest import ALWAYS_CALLABLE, SUPERVISORS, Cases, a_plan

TARGETS = """
[sla]
first_attempt_within = "16m"
reached_by_before_deadline = "24h"
warn_at = 0.5
"""
REVIEW_TARGET = """
[sla]
plan_review_within = "8h"
warn_at = 0.5

[specialist_hours]
timezone = "UTC"
"""
DANA = "dana@team.example"


def clock(view: CaseView, target: str) -> Any:
    return next(c for c in reversed(view.sla) if c.target == target)


def staff_emails(cases: Cases, seller_id: str, kind: str) -> list[str]:
    return [str(m["To"]) for m in cases.emails(seller_id) if m["X-Aha-Kind"] == kind]


async def search_attributes(cases: Cases, seller_id: str) -> tuple[str | None, str | None]:
    described = await cases.client.get_workflow_handle(case_id_for(seller_id)).describe()
    found = described.typed_search_attributes
    return found.get(sa.ASSIGNED_TO), found.get(sa.SLA_STATE)


async def wait_until(cases: Cases, seller_id: str, check: Callable[[CaseView], bool]) -> CaseView:
    return await cases.wait_for(seller_id, check, timeout=30)


async def test_first_attempt_met_at_once_when_the_seller_can_be_called(
    cases_with: Callable[[str], Any],
) -> None:
    async with cases_with(ALWAYS_CALLABLE + TARGETS) as cases:
        seller = cases.new_seller()
        await cases.detect(seller)
        view = await cases.wait_for_call(seller, 1)
        view = await wait_until(cases, seller, lambda v: clock(v, "first_attempt").state == "met")
        first = clock(view, "first_attempt")
        assert first.met_at == view.call_attempts[0].placed_at
        assert any(e.kind == "sla_met" for e in view.timeline)
        await cases.advance(seller, timedelta(minutes=20))
        view = await cases.view(seller)
        assert view.sla_state == "ok"
        assert not staff_emails(cases, seller, "sla_warning")
        assert not staff_emails(cases, seller, "sla_breached")
        assert (await search_attributes(cases, seller)) == (None, "ok")


async def test_first_attempt_warns_the_owner_then_tells_supervisors(
    cases_with: Callable[[str], Any],
) -> None:
    async with cases_with(ALWAYS_CALLABLE + TARGETS) as cases:
        seller = cases.new_seller(phone=None)  # no phone: no call can be placed
        await cases.detect(seller)
        await cases.service.claim(seller, "dana", by="specialist:dana", email=DANA)
        await cases.advance(seller, timedelta(minutes=9))
        view = await wait_until(cases, seller, lambda v: v.sla_state == "warning")
        assert clock(view, "first_attempt").state == "warning"
        await cases.wait_for_emails(seller, 2)  # the seller's opening email, and dana's warning
        assert staff_emails(cases, seller, "sla_warning") == [DANA]
        assert (await search_attributes(cases, seller)) == ("dana", "warning")

        await cases.advance(seller, timedelta(minutes=8))
        view = await wait_until(cases, seller, lambda v: v.sla_state == "breached")
        breach = next(e for e in view.timeline if e.kind == "sla_breached")
        assert breach.detail.startswith("first call attempt: target breached")
        await cases.wait_for_emails(seller, 2 + len(SUPERVISORS))
        assert sorted(staff_emails(cases, seller, "sla_breached")) == sorted(SUPERVISORS)
        sent = await wait_until(
            cases, seller, lambda v: any(e.kind == "staff_alert_sent" for e in v.timeline[-3:])
        )
        assert "emailed" in sent.timeline[-1].detail or "emailed" in sent.timeline[-2].detail
        assert (await search_attributes(cases, seller)) == ("dana", "breached")
        # Told once each, whatever else the case does meanwhile.
        await cases.advance(seller, timedelta(hours=1))
        assert staff_emails(cases, seller, "sla_warning") == [DANA]
        assert len(staff_emails(cases, seller, "sla_breached")) == len(SUPERVISORS)


async def test_reach_target_warned_then_met_before_its_breach(
    cases_with: Callable[[str], Any],
) -> None:
    async with cases_with(ALWAYS_CALLABLE + TARGETS) as cases:
        seller = cases.new_seller()
        await cases.detect(seller)
        await cases.wait_for_call(seller, 1)
        await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="busy"))
        await cases.advance(seller, timedelta(hours=25))  # half of the 48 h allowed
        view = await wait_until(cases, seller, lambda v: v.sla_state == "warning")
        assert clock(view, "reached").state == "warning"
        assert (
            "no owner to tell" in next(e for e in view.timeline if e.kind == "sla_warning").detail
        )
        receipt = await cases.service.contact_me_now(seller)
        view = await wait_until(cases, seller, lambda v: clock(v, "reached").state == "met")
        assert view.sla_state == "ok"
        assert receipt.created
        await cases.advance(seller, timedelta(hours=24))
        view = await cases.view(seller)
        assert clock(view, "reached").state == "met" and view.sla_state == "ok"
        assert not staff_emails(cases, seller, "sla_breached")


async def test_reach_target_breached_tells_the_supervisors(
    cases_with: Callable[[str], Any],
) -> None:
    async with cases_with(ALWAYS_CALLABLE + TARGETS) as cases:
        seller = cases.new_seller()
        await cases.detect(seller)
        await cases.wait_for_call(seller, 1)
        await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="busy"))
        await cases.service.claim(seller, "dana", by="specialist:dana", email=DANA)
        await cases.advance(seller, timedelta(hours=49))  # past the 48 h allowed
        view = await wait_until(cases, seller, lambda v: clock(v, "reached").state == "breached")
        assert view.sla_state == "breached"
        breach = next(e for e in view.timeline if e.kind == "sla_breached")
        assert breach.detail.startswith("seller reached: target breached")
        await wait_until(
            cases,
            seller,
            lambda _v: len(staff_emails(cases, seller, "sla_breached")) == len(SUPERVISORS),
        )
        assert sorted(staff_emails(cases, seller, "sla_breached")) == sorted(SUPERVISORS)
        assert staff_emails(cases, seller, "sla_warning") == [DANA]  # warned at 24 h first
        assert (await search_attributes(cases, seller)) == ("dana", "breached")


def working_minutes_after(start: datetime, minutes: int) -> datetime:
    """Walk the calendar a minute at a time through Monday-Friday 09:00-17:00 UTC: a count
    done independently of aha.domain.sla."""
    moment = start
    while minutes:
        if moment.weekday() < 5 and 9 * 60 <= moment.hour * 60 + moment.minute < 17 * 60:
            minutes -= 1
        moment += timedelta(minutes=1)
    return moment


def next_friday_3pm(after: datetime) -> datetime:
    day = after.date() + timedelta(days=(4 - after.weekday()) % 7 or 7)
    return datetime(day.year, day.month, day.day, 15, 0, tzinfo=UTC)


async def test_plan_review_counts_specialist_hours_across_a_weekend(
    cases_with: Callable[[str], Any],
) -> None:
    policy = ALWAYS_CALLABLE.replace('deadline = "72h"', 'deadline = "14d"') + REVIEW_TARGET
    async with cases_with(policy) as cases:
        seller = cases.new_seller()
        await cases.detect(seller)
        await cases.wait_for_call(seller, 1)
        await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
        friday = next_friday_3pm(await cases.now(seller))
        await cases.advance(seller, friday - await cases.now(seller))
        await cases.service.submit_plan(seller, a_plan())
        view = await cases.view(seller)
        review = clock(view, "plan_review")
        submitted = review.started_at
        assert submitted.weekday() == 4  # a Friday afternoon
        assert review.due_at == working_minutes_after(submitted, 8 * 60)
        assert review.due_at.weekday() == 0  # two hours on Friday, six on Monday
        assert review.warn_at == working_minutes_after(submitted, 4 * 60)

        # Saturday and Sunday do not count: still no warning on Sunday evening.
        await cases.advance(seller, review.warn_at - timedelta(minutes=5) - await cases.now(seller))
        assert (await cases.view(seller)).sla_state == "ok"
        await cases.advance(seller, timedelta(minutes=10))
        await wait_until(cases, seller, lambda v: v.sla_state == "warning")
        await cases.advance(seller, review.due_at + timedelta(minutes=1) - await cases.now(seller))
        view = await wait_until(cases, seller, lambda v: v.sla_state == "breached")
        assert clock(view, "plan_review").state == "breached"
        await cases.wait_for_emails(seller, 1 + len(SUPERVISORS))
        assert sorted(staff_emails(cases, seller, "sla_breached")) == sorted(SUPERVISORS)


async def test_plan_review_met_in_time(cases_with: Callable[[str], Any]) -> None:
    policy = ALWAYS_CALLABLE + REVIEW_TARGET
    async with cases_with(policy) as cases:
        seller = cases.new_seller()
        await cases.detect(seller)
        await cases.wait_for_call(seller, 1)
        await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
        await cases.service.submit_plan(seller, a_plan())
        await cases.service.review_plan(seller, Review(decision="accept"))
        view = await wait_until(cases, seller, lambda v: v.closed)
        assert clock(view, "plan_review").state == "met"
        assert view.sla_state == "ok"
        assert not staff_emails(cases, seller, "sla_breached")
