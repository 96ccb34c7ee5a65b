"""Record case histories for the replay tests: `python -m tests.record_histories TAG`.

Run it when a workflow change is meant to be compatible, commit the new files beside the
old ones, and keep the old ones: they are what running cases look like in production.
`--only NAME` (repeatable) records some scenarios; files that exist are never overwritten
unless `--overwrite` is given. Run it on the code whose histories you want: it refuses to
run when `aha` or `workflows` would be imported from another checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

import aha
import workflows
from aha.adapters.sqlite.consent import SqliteCallConsents
from aha.dev import temporal_binary
from aha.domain.appeal_models import AppealReview
from aha.domain.appeals import appeal_id_for
from aha.domain.models import (
    CallbackRequest,
    CallReport,
    CaseView,
    Extension,
    PlanSubmission,
    Resolution,
    Review,
)
from aha.domain.policy import WEEKDAYS, parse_policy
from aha.domain.preferred import PreferredWindows
from aha.policy_file import default_policy_text
from aha.service import CaseService, case_id_for, change_preferred_windows
from tests.conftest import ALWAYS_CALLABLE, Cases, dev_server_args, running_cases
from tests.fault_harness import StoppableMail

HISTORIES = Path(__file__).parent / "histories"
PLAN = PlanSubmission(
    root_cause="A supplier sent goods that did not match the listings",
    corrective_actions=["Removed the listings"],
    preventive_measures=["Buy only from authorised distributors"],
)


async def plan_questioned_then_resolved(cases: Cases, seller: str) -> None:
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    await cases.service.submit_plan(seller, PLAN)
    await cases.service.review_plan(
        seller, Review(decision="request_info", questions=["Which supplier?"])
    )
    await cases.wait_for_call(seller, 2)
    await cases.service.report_call_outcome(seller, CallReport(attempt=2, outcome="answered"))
    await cases.service.review_plan(seller, Review(decision="accept"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")


async def never_reached_deactivated(cases: Cases, seller: str) -> None:
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="busy"))
    await cases.detect(seller, issue_type="review_policy_violation")
    await cases.run_to_end(seller)


async def invalid_number_fixed_contact_me_now(cases: Cases, seller: str) -> None:
    await cases.detect(seller, detected_at=datetime.now(UTC) - timedelta(hours=1))
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="invalid_number"))
    await cases.advance(seller, timedelta(hours=50))
    cases.store.upsert(
        seller,
        email=f"{seller}@sellers.example",
        phone="+13125550100",
        timezone="America/Chicago",
    )
    await cases.service.contact_changed(seller)
    await cases.wait_for_call(seller, 2)
    await cases.service.contact_me_now(seller)
    await cases.wait_for_call(seller, 3)
    await cases.service.report_call_outcome(seller, CallReport(attempt=3, outcome="answered"))
    await cases.service.resolve(seller, Resolution(issue_id="I1", note="fixed together"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")


async def resolved_during_mail_outage(cases: Cases, seller: str) -> None:
    """The case closes while mail is down and hands its owed notices to CaseNotices."""
    mail = cases.mail
    assert isinstance(mail, StoppableMail)
    mail.stop()
    await cases.detect(seller)
    await cases.service.contact_me_now(seller)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    await cases.service.resolve(seller, Resolution(issue_id="I1", note="fixed together"))
    await cases.wait_for(seller, lambda v: v.closed)
    await cases.advance(seller, timedelta(seconds=10))
    view = await cases.wait_for(seller, lambda v: v.notices_courier is not None, timeout=30)
    mail.start()
    assert view.notices_courier is not None
    courier = cases.client.get_workflow_handle(view.notices_courier)
    await courier.result()


# Internal targets on top: the seller must be reached 24 h before the 72 h deadline.
SLA_POLICY = (
    ALWAYS_CALLABLE
    + """
[sla]
first_attempt_within = "15m"
reached_by_before_deadline = "24h"
plan_review_within = "8h"
warn_at = 0.5
"""
)


async def owned_with_sla_alerts(cases: Cases, seller: str) -> None:
    """Claimed, warned, reassigned and breached on the reach target, then resolved."""
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    await cases.service.claim(seller, "dana", by="specialist:dana", email="dana@team.example")
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="no_answer"))
    await cases.advance(seller, timedelta(hours=25))
    await cases.wait_for(seller, lambda v: v.sla_state == "warning")
    await cases.service.assign(seller, "lee", by="supervisor:sam")
    await cases.advance(seller, timedelta(hours=24))
    await cases.wait_for(seller, lambda v: v.sla_state == "breached")
    receipt = await cases.service.contact_me_now(seller)
    await cases.wait_for_call(seller, receipt.attempt)
    await cases.service.report_call_outcome(
        seller, CallReport(attempt=receipt.attempt, outcome="answered")
    )
    await cases.service.release(seller, "lee", by="specialist:lee")
    await cases.service.submit_plan(seller, PLAN)
    await cases.service.review_plan(seller, Review(decision="accept"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")


# A short case whose first-attempt target warns and breaches while mail is down.
ALERTS_POLICY = (
    ALWAYS_CALLABLE.replace('deadline = "72h"', 'deadline = "10m"').replace(
        'reminders_before_deadline = ["24h", "4h"]', "reminders_before_deadline = []"
    )
    + """
[sla]
first_attempt_within = "2m"
warn_at = 0.5
"""
)


async def alerts_in_flight_at_close(cases: Cases, seller: str) -> None:
    """Two staff alerts still retrying through a mail outage when the deadline closes the
    case: both are cancelled, in the order they were raised."""
    mail = cases.mail
    assert isinstance(mail, StoppableMail)
    await cases.detect(seller)
    await cases.wait_for(seller, lambda v: v.calling_stopped_reason is not None)
    await cases.service.claim(seller, "dana", by="specialist:dana", email="dana@team.example")
    mail.stop()
    await cases.advance(seller, timedelta(minutes=3))
    await cases.wait_for(seller, lambda v: v.sla_state == "breached")
    await cases.advance(seller, timedelta(minutes=8))
    await cases.wait_for(seller, lambda v: v.closed)
    view = await cases.wait_for(seller, lambda v: v.notices_courier is not None, timeout=30)
    mail.start()
    assert view.notices_courier is not None
    await cases.client.get_workflow_handle(view.notices_courier).result()


# ---- calling hours, under the shipped policy --------------------------------------------

# The shipped default: proactive calls only from 08:00 to 21:00 seller-local time.
DEFAULT_POLICY = default_policy_text()
_DEFAULT = parse_policy(DEFAULT_POLICY)
HOURS = _DEFAULT.calling_hours
RETRY_NO_ANSWER = _DEFAULT.call_retry_after.no_answer
# The same with a deadline long enough for a case to live until its zone's next DST change,
# which may be up to eight months away.
LONG_DEADLINE_POLICY = DEFAULT_POLICY.replace('\ndeadline = "72h"\n', '\ndeadline = "250d"\n')
assert LONG_DEADLINE_POLICY != DEFAULT_POLICY, "the default policy no longer says 72h"
# Local times the recorder moves a case to when no zone of a region fits the wall clock:
# late in the window (so a retry 3 h on falls after it), and two hours after it.
LATE_IN_HOURS = time((HOURS.end_minutes - 120) // 60, (HOURS.end_minutes - 120) % 60)
AFTER_HOURS = time(((HOURS.end_minutes + 120) % 1440) // 60, (HOURS.end_minutes + 120) % 60)
# A zone fits only if it stays inside (or outside) hours this long after the detection.
MARGIN = timedelta(minutes=20)


@dataclass(frozen=True)
class Region:
    zones: tuple[str, ...]  # by preference; the first when none fits the wall clock
    marketplace: str
    phone: str


CANADA = Region(
    (
        "America/Toronto",
        "America/Vancouver",
        "America/Halifax",
        "America/Winnipeg",
        "America/Edmonton",
        "America/St_Johns",
        "America/Regina",
    ),
    "CA",
    "+14165550123",
)
EUROPE = Region(
    (
        "Europe/Berlin",
        "Europe/Paris",
        "Europe/London",
        "Europe/Lisbon",
        "Europe/Helsinki",
        "Europe/Athens",
    ),
    "EU",
    "+4930901820",
)


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


def shown(moment: datetime, zone: str) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}Z ({local(moment, zone):%a %H:%M %Z, UTC%z})"


def in_hours(moment: datetime, zone: str) -> bool:
    """Worked out here, not with aha.domain.calling, so that the recorder checks the workflow."""
    clock = local(moment, zone)
    return HOURS.start_minutes <= clock.hour * 60 + clock.minute < HOURS.end_minutes


def at_local(day: date, clock: time, zone: str) -> datetime:
    return datetime.combine(day, clock, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def next_local(after: datetime, clock: time, zone: str) -> datetime:
    """The first moment after `after` when the seller's clock shows `clock`."""
    day = local(after, zone).date()
    moment = at_local(day, clock, zone)
    return moment if moment > after else at_local(day + timedelta(days=1), clock, zone)


def expected_slot(not_before: datetime, zone: str) -> datetime:
    """The first moment at or after `not_before` inside calling hours (no daily cap hit)."""
    if in_hours(not_before, zone):
        return not_before
    return next_local(not_before, HOURS.start_time, zone)


def next_offset_change(after: datetime, zone: str) -> datetime:
    """The first whole UTC hour after `after` at which the zone's UTC offset has changed."""
    moment = after.replace(minute=0, second=0, microsecond=0)
    offset = local(moment, zone).utcoffset()
    for _ in range(24 * 400):
        moment += timedelta(hours=1)
        if local(moment, zone).utcoffset() != offset:
            return moment
    raise ValueError(f"{zone} has no DST change within 400 days")


def pick_zone(region: Region, inside: bool, now: datetime) -> str | None:
    """A zone of `region` whose local time is inside (or outside) calling hours now."""
    fits = [
        zone
        for zone in region.zones
        if in_hours(now, zone) == inside and in_hours(now + MARGIN, zone) == inside
    ]
    if inside:
        # Prefer a zone where the retry after an unanswered call falls after hours.
        fits.sort(key=lambda zone: in_hours(now + RETRY_NO_ANSWER, zone))
    return fits[0] if fits else None


def close_to(moment: datetime | None, target: datetime) -> bool:
    """A timer due at `target` fired, and its workflow task ran, a moment later."""
    return moment is not None and target <= moment < target + timedelta(seconds=5)


async def advance_to(cases: Cases, seller: str, moment: datetime) -> None:
    """Fast-forward the case's clock to just past `moment`, so a timer due then has fired."""
    gap = moment - await cases.now(seller)
    if gap > timedelta(0):
        await cases.advance(seller, gap + timedelta(seconds=1))


async def open_case(cases: Cases, region: Region, inside: bool) -> tuple[str, str]:
    """A case whose first call is decided inside (or outside) the seller's calling hours.

    Usually some zone of the region fits the wall clock: the detection itself then falls
    inside (or outside) hours. When none fits, the seller has no phone at first; the case
    is fast-forwarded to LATE_IN_HOURS (or AFTER_HOURS) local time and the seller adds a
    phone then, so the first call is decided at that moment instead.
    """
    now = datetime.now(UTC)
    zone = pick_zone(region, inside, now)
    if zone is not None:
        seller = cases.new_seller(zone, region.phone, region.marketplace)
        await cases.detect(seller, marketplace=region.marketplace)
        print(f"  {seller} in {zone}, detected {shown(now, zone)}")
        return seller, zone
    zone = region.zones[0]
    seller = cases.new_seller(zone, None, region.marketplace)
    await cases.detect(seller, marketplace=region.marketplace)
    await cases.wait_for(seller, lambda v: v.calling_stopped_reason is not None)
    print(f"  {seller} in {zone}, detected without a phone {shown(now, zone)}")
    target = next_local(await cases.now(seller), LATE_IN_HOURS if inside else AFTER_HOURS, zone)
    await advance_to(cases, seller, target)
    cases.store.upsert(
        seller,
        email=f"{seller}@sellers.example",
        phone=region.phone,
        timezone=zone,
        marketplace=region.marketplace,
    )
    assert await cases.service.contact_changed(seller)
    print(f"  phone added {shown(await cases.now(seller), zone)}")
    return seller, zone


async def next_call_decided(cases: Cases, seller: str) -> CaseView:
    return await cases.wait_for(
        seller, lambda v: v.next_call_at is not None or any(not a.outcome for a in v.call_attempts)
    )


async def outside_hours(cases: Cases, region: Region) -> str:
    """Detected after hours: the first call waits for 08:00 local, then is answered."""
    seller, zone = await open_case(cases, region, inside=False)
    view = await next_call_decided(cases, seller)
    decided = await cases.now(seller)
    assert not view.call_attempts, f"a call was placed after hours: {view.call_attempts}"
    slot = view.next_call_at
    assert slot is not None and slot > decided
    assert slot == next_local(decided, HOURS.start_time, zone), shown(slot, zone)
    print(f"  first call scheduled for {shown(slot, zone)}")
    await advance_to(cases, seller, slot)
    view = await cases.wait_for_call(seller, 1)
    first = view.call_attempts[0]
    assert not first.seller_initiated and close_to(first.scheduled_for, slot), first
    assert first.placed_at is not None and in_hours(first.placed_at, zone)
    print(f"  call 1 placed {shown(first.placed_at, zone)}, answered")
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    await cases.service.resolve(seller, Resolution(issue_id="I1", note="fixed together"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")
    return seller


async def inside_hours(cases: Cases, region: Region) -> str:
    """Detected in hours: the first call goes at once; the retry 3 h after it keeps to hours."""
    seller, zone = await open_case(cases, region, inside=True)
    view = await cases.wait_for_call(seller, 1)
    first = view.call_attempts[0]
    assert first.placed_at is not None and not first.seller_initiated
    assert in_hours(first.scheduled_for, zone)
    assert first.placed_at - first.scheduled_for < timedelta(seconds=5), first
    print(f"  call 1 placed at once {shown(first.placed_at, zone)}, no answer")
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="no_answer"))
    view = await cases.wait_for(seller, lambda v: v.next_call_at is not None)
    outcome_at = view.call_attempts[0].outcome_at
    assert outcome_at is not None
    slot = expected_slot(outcome_at + RETRY_NO_ANSWER, zone)
    assert view.next_call_at == slot, (view.next_call_at, slot)
    after_hours = "after hours, so" if slot != outcome_at + RETRY_NO_ANSWER else "in hours,"
    print(f"  retry 3 h on falls {after_hours} call 2 is scheduled for {shown(slot, zone)}")
    await advance_to(cases, seller, slot)
    view = await cases.wait_for_call(seller, 2)
    second = view.call_attempts[1]
    assert close_to(second.scheduled_for, slot), second
    assert second.placed_at is not None
    print(f"  call 2 placed {shown(second.placed_at, zone)}, answered")
    await cases.service.report_call_outcome(seller, CallReport(attempt=2, outcome="answered"))
    await cases.service.resolve(seller, Resolution(issue_id="I1", note="fixed together"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")
    return seller


async def calls_across_dst(cases: Cases, zone: str, region: Region) -> str:
    """Calls on both sides of the zone's next DST change, the last slot computed across it.

    The seller is reached at once and sends a plan. The case is fast-forwarded to the
    evening before the change, when the specialist asks for more information: a call goes
    out at once, unanswered, and the retry falls after hours, so the next call is set for
    08:00 local on the day of the change, at the new UTC offset.
    """
    seller = cases.new_seller(zone, region.phone, region.marketplace)
    detected = datetime.now(UTC)
    await cases.detect(seller, marketplace=region.marketplace)
    print(f"  {seller} in {zone}, detected {shown(detected, zone)}")
    view = await next_call_decided(cases, seller)
    if not view.call_attempts:
        assert view.next_call_at is not None
        print(f"  call 1 scheduled for {shown(view.next_call_at, zone)}")
        await advance_to(cases, seller, view.next_call_at)
    view = await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    await cases.service.submit_plan(seller, PLAN)

    change = next_offset_change(await cases.now(seller), zone)
    change_day = local(change, zone).date()
    assert change + timedelta(days=1) < detected + parse_policy(LONG_DEADLINE_POLICY).deadline
    evening = at_local(change_day - timedelta(days=1), LATE_IN_HOURS, zone)
    assert evening > await cases.now(seller) + timedelta(hours=1), "too close to the change"
    print(f"  offset changes at {shown(change, zone)}; fast-forward to {shown(evening, zone)}")
    await advance_to(cases, seller, evening)
    await cases.service.review_plan(
        seller, Review(decision="request_info", questions=["Which supplier?"])
    )
    view = await cases.wait_for_call(seller, 2)
    second = view.call_attempts[1]
    assert second.placed_at is not None and not second.seller_initiated
    await cases.service.report_call_outcome(seller, CallReport(attempt=2, outcome="no_answer"))
    view = await cases.wait_for(seller, lambda v: v.next_call_at is not None)
    outcome_at = view.call_attempts[1].outcome_at
    assert outcome_at is not None
    slot = at_local(change_day, HOURS.start_time, zone)
    assert expected_slot(outcome_at + RETRY_NO_ANSWER, zone) == slot
    assert view.next_call_at == slot, (view.next_call_at, slot)
    before, after = local(second.placed_at, zone).utcoffset(), local(slot, zone).utcoffset()
    assert before is not None and after is not None and before != after
    print(f"  call 2 placed {shown(second.placed_at, zone)}, no answer")
    print(f"  call 3 scheduled for {shown(slot, zone)}, across the change")
    await advance_to(cases, seller, slot)
    view = await cases.wait_for_call(seller, 3)
    third = view.call_attempts[2]
    assert close_to(third.scheduled_for, slot) and third.placed_at is not None, third
    print(f"  call 3 placed {shown(third.placed_at, zone)}, answered")
    await cases.service.report_call_outcome(seller, CallReport(attempt=3, outcome="answered"))
    await cases.service.review_plan(seller, Review(decision="accept"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")
    return seller


# ---- calling calendars ------------------------------------------------------------------

TORONTO = "America/Toronto"
FRIDAY_NIGHT = time(22, 0)


def next_friday_night(after: datetime) -> datetime:
    """The first Friday 22:00 Toronto time at least an hour after `after`."""
    day = local(after, TORONTO).date()
    while day.weekday() != 4 or at_local(day, FRIDAY_NIGHT, TORONTO) < after + timedelta(hours=1):
        day += timedelta(days=1)
    return at_local(day, FRIDAY_NIGHT, TORONTO)


# Canada's calendar, with the Sunday after the coming Friday night as a holiday: a case
# detected now is called on the Saturday, and its retry a day later skips to the Monday.
CALENDAR_FRIDAY = next_friday_night(datetime.now(UTC))
CALENDAR_HOLIDAY = local(CALENDAR_FRIDAY, TORONTO).date() + timedelta(days=2)
CALENDAR_POLICY = (
    DEFAULT_POLICY.replace('\ndeadline = "72h"\n', '\ndeadline = "240h"\n')
    + f"""
[calling_calendar.CA]
mon = ["09:00-21:30"]
tue = ["09:00-21:30"]
wed = ["09:00-21:30"]
thu = ["09:00-21:30"]
fri = ["09:00-21:30"]
sat = ["10:00-18:00"]
sun = ["10:00-18:00"]
holidays = ["{CALENDAR_HOLIDAY.isoformat()}"]
"""
)


async def calendar_weekend_holiday_canada(cases: Cases) -> str:
    """A Canadian seller (the detection says US; the directory's CA wins) adds a phone on
    Friday night: call 1 waits for Saturday 10:00; a voicemail's retry a day on falls on the
    Sunday holiday, so call 2 goes on Monday at 09:00."""
    seller = cases.new_seller(TORONTO, None, "CA")
    await cases.detect(seller, marketplace="US")
    await cases.wait_for(seller, lambda v: v.calling_stopped_reason is not None)
    await advance_to(cases, seller, CALENDAR_FRIDAY)
    cases.store.upsert(
        seller,
        email=f"{seller}@sellers.example",
        phone=CANADA.phone,
        timezone=TORONTO,
        marketplace="CA",
    )
    assert await cases.service.contact_changed(seller)
    print(f"  {seller} in {TORONTO}, phone added {shown(await cases.now(seller), TORONTO)}")
    view = await next_call_decided(cases, seller)
    friday = local(CALENDAR_FRIDAY, TORONTO).date()
    saturday_10 = at_local(friday + timedelta(days=1), time(10, 0), TORONTO)
    assert not view.call_attempts and view.next_call_at == saturday_10, view.next_call_at
    print(f"  call 1 scheduled for {shown(saturday_10, TORONTO)}")
    await advance_to(cases, seller, saturday_10)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="voicemail"))
    view = await cases.wait_for(seller, lambda v: v.next_call_at is not None)
    monday_9 = at_local(friday + timedelta(days=3), time(9, 0), TORONTO)
    assert view.next_call_at == monday_9, view.next_call_at
    print(f"  voicemail; Sunday is a holiday, call 2 scheduled for {shown(monday_9, TORONTO)}")
    await advance_to(cases, seller, monday_9)
    view = await cases.wait_for_call(seller, 2)
    assert close_to(view.call_attempts[1].scheduled_for, monday_9), view.call_attempts[1]
    await cases.service.report_call_outcome(seller, CallReport(attempt=2, outcome="answered"))
    await cases.service.resolve(seller, Resolution(issue_id="I1", note="fixed together"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")
    return seller


# ---- the deadline edition ---------------------------------------------------------------

EXTENDING_POLICY = 'max_extension = "72h"\n' + ALWAYS_CALLABLE
CONTACT_POLICY = (
    'deadline_applies_to = "contact"\nresolution_window = "14d"\nengagement_timeout = "72h"\n'
    + ALWAYS_CALLABLE
)


async def deadline_extended(cases: Cases, seller: str) -> None:
    """Reached, then a supervisor extends the deadline by a day: the old deadline passes with
    the case open, the new deadline's reminder goes out, and the issue is resolved."""
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    view = await cases.view(seller)
    until = view.issues[0].deadline + timedelta(hours=24)
    await cases.service.extend(
        seller,
        Extension(issue_id="I1", until=until, reason="seller at a trade fair", extended_by="lee"),
    )
    await cases.advance(seller, timedelta(hours=73))
    await cases.wait_for(seller, lambda v: v.status == "engaged")
    await cases.service.resolve(seller, Resolution(issue_id="I1", note="fixed after the fair"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")


async def contact_mode_reached(cases: Cases, seller: str) -> None:
    """The "contact" mode: an answered call lifts the deadline; a plan submitted at 60 hours
    pauses the engagement clock past the 72-hour mark; accepting it resolves the case."""
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    await cases.wait_for(seller, lambda v: v.deadline_lifted_at is not None)
    await cases.advance(seller, timedelta(hours=60))
    await cases.service.submit_plan(seller, PLAN)
    await cases.advance(seller, timedelta(hours=20))
    await cases.service.review_plan(seller, Review(decision="accept"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")


async def preferred_window_call(cases: Cases) -> str:
    """A seller in UTC with a preferred window 30 hours ahead moves it to 36 hours ahead while
    the case waits (contact_changed); the first call goes out in the new window, is answered,
    and the issue is resolved."""

    async def service() -> CaseService:
        return cases.service

    def window(moment: datetime) -> tuple[PreferredWindows, datetime]:
        start = moment.replace(minute=0, second=0, microsecond=0)
        end = "24:00" if start.hour == 23 else f"{start.hour + 1:02d}:00"
        day = WEEKDAYS[start.weekday()]
        return PreferredWindows.model_validate({day: [f"{start:%H}:00-{end}"]}), start

    seller = cases.new_seller(timezone="UTC")
    first, opens = window(datetime.now(UTC) + timedelta(hours=30))
    cases.store.set_preferred_windows(seller, first)
    await cases.detect(seller)
    await cases.wait_for(seller, lambda v: v.next_call_at == opens)
    moved, opens = window(datetime.now(UTC) + timedelta(hours=36))
    await change_preferred_windows(cases.store, seller, moved, service=service, changed_by="seller")
    await cases.wait_for(seller, lambda v: v.next_call_at == opens)
    await advance_to(cases, seller, opens + timedelta(minutes=1))
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    await cases.service.resolve(seller, Resolution(issue_id="I1", note="fixed on the call"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")
    return seller


# ---- the consent edition ----------------------------------------------------------------


async def consent_withdrawn_mid_case(cases: Cases, seller: str) -> None:
    """A first call unanswered; the seller withdraws consent, so the next proactive call is
    not placed (the case notes to use email); contact me now rings despite it, is answered,
    and the issue is resolved."""
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="no_answer"))
    SqliteCallConsents(cases.db).set_consent(seller, False, changed_by=seller)
    await cases.advance(seller, timedelta(hours=3, minutes=1))
    await cases.wait_for(
        seller, lambda v: len(v.call_attempts) > 1 and v.call_attempts[1].not_placed is not None
    )
    receipt = await cases.service.contact_me_now(seller)
    await cases.wait_for(
        seller, lambda v: v.call_attempts[receipt.attempt - 1].consent_regranted is not None
    )
    await cases.service.report_call_outcome(
        seller, CallReport(attempt=receipt.attempt, outcome="answered")
    )
    await cases.service.resolve(seller, Resolution(issue_id="I1", note="listings fixed"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")


# ---- the callback edition ----------------------------------------------------------------


async def callback_scheduled_replaced_placed(cases: Cases, seller: str) -> None:
    """The first call goes unanswered; the seller asks for a callback in 2 hours, then moves it
    to 4 hours: the case places it then (seller-initiated), it is answered, and resolved."""
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="no_answer"))
    now = await cases.now(seller)
    await cases.service.schedule_callback(seller, CallbackRequest(at=now + timedelta(hours=2)))
    await cases.service.schedule_callback(seller, CallbackRequest(at=now + timedelta(hours=4)))
    await cases.advance(seller, timedelta(hours=4, minutes=1))
    await cases.wait_for_call(seller, 2)
    await cases.service.report_call_outcome(seller, CallReport(attempt=2, outcome="answered"))
    await cases.service.resolve(seller, Resolution(issue_id="I1", note="fixed on the callback"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")


# ---- the scenarios and the command ------------------------------------------------------


# ---- appeals after deactivation (AppealWorkflow, linked to the deactivated case run) ---------

APPEAL_POLICY = 'appeal_window = "17d"\n' + ALWAYS_CALLABLE


async def _appeal(cases: Cases, seller: str, root_cause: str) -> None:
    # The appeal's clock runs in real time until the scenario fast-forwards it.
    with cases.env.with_time_skipping_disabled():  # type: ignore[attr-defined]
        await cases.service.appeal(seller, PLAN.model_copy(update={"root_cause": root_cause}))


async def appeal_rejected_then_accepted(cases: Cases, seller: str) -> None:
    """Deactivated at once (fraud); appealed, rejected with a reason, appealed again and
    accepted: the account is reactivated and the appeal ends."""
    await cases.detect(seller, issue_type="fraud")
    await cases.run_to_end(seller)
    await _appeal(cases, seller, "A stolen login placed the listings")
    await cases.service.review_appeal(
        seller, AppealReview(decision="reject", reason="Show the login audit", reviewer="sp")
    )
    await _appeal(cases, seller, "Login audit attached: a stolen login placed the listings")
    await cases.service.review_appeal(seller, AppealReview(decision="accept", reviewer="sp"))


async def appeal_window_passed(cases: Cases, seller: str) -> None:
    """A case whose policy names no window (the policy in force's, read by the appeal, is
    the default 17 days); rejected, and the window passes with no second appeal."""
    await cases.detect(seller, issue_type="fraud")
    view = await cases.run_to_end(seller)
    await _appeal(cases, seller, "A stolen login placed the listings")
    await cases.service.review_appeal(
        seller, AppealReview(decision="reject", reason="No evidence", reviewer="sp")
    )
    assert view.run_id is not None
    appeal = cases.client.get_workflow_handle(appeal_id_for(view.case_id, view.run_id))
    await cases.env.fast_forward(appeal)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Scenario:
    record: Callable[[Cases], Awaitable[str]]  # plays one case and returns its seller
    policy: str = ALWAYS_CALLABLE
    # Keep only the AppealWorkflow's history: the case run it appeals is any other case's.
    appeal_only: bool = False


def with_new_seller(play: Callable[[Cases, str], Awaitable[None]]) -> Scenario:
    async def record(cases: Cases) -> str:
        seller = cases.new_seller()
        await play(cases, seller)
        return seller

    return Scenario(record)


def with_new_seller_without_phone(
    play: Callable[[Cases, str], Awaitable[None]],
) -> Callable[[Cases], Awaitable[str]]:
    async def record(cases: Cases) -> str:
        seller = cases.new_seller(phone=None)
        await play(cases, seller)
        return seller

    return record


SCENARIOS: dict[str, Scenario] = {
    "plan_questioned_then_resolved": with_new_seller(plan_questioned_then_resolved),
    "never_reached_deactivated": with_new_seller(never_reached_deactivated),
    "invalid_number_fixed_contact_me_now": with_new_seller(invalid_number_fixed_contact_me_now),
    "resolved_during_mail_outage": with_new_seller(resolved_during_mail_outage),
    "alerts_in_flight_at_close": Scenario(
        with_new_seller_without_phone(alerts_in_flight_at_close), ALERTS_POLICY
    ),
    "owned_with_sla_alerts": Scenario(with_new_seller(owned_with_sla_alerts).record, SLA_POLICY),
    "outside_hours_canada": Scenario(partial(outside_hours, region=CANADA), DEFAULT_POLICY),
    "inside_hours_canada": Scenario(partial(inside_hours, region=CANADA), DEFAULT_POLICY),
    "outside_hours_europe": Scenario(partial(outside_hours, region=EUROPE), DEFAULT_POLICY),
    "inside_hours_europe": Scenario(partial(inside_hours, region=EUROPE), DEFAULT_POLICY),
    "calls_across_dst_canada": Scenario(
        partial(calls_across_dst, zone="America/Toronto", region=CANADA), LONG_DEADLINE_POLICY
    ),
    "calls_across_dst_europe": Scenario(
        partial(calls_across_dst, zone="Europe/Berlin", region=EUROPE), LONG_DEADLINE_POLICY
    ),
    "calendar_weekend_holiday_canada": Scenario(calendar_weekend_holiday_canada, CALENDAR_POLICY),
    "deadline_extended": Scenario(with_new_seller(deadline_extended).record, EXTENDING_POLICY),
    "contact_mode_reached": Scenario(with_new_seller(contact_mode_reached).record, CONTACT_POLICY),
    "preferred_window_call": Scenario(preferred_window_call, ALWAYS_CALLABLE),
    "consent_withdrawn_mid_case": with_new_seller(consent_withdrawn_mid_case),
    "callback_scheduled_replaced_placed": Scenario(
        with_new_seller(callback_scheduled_replaced_placed).record, ALWAYS_CALLABLE
    ),
    "appeal_rejected_then_accepted": Scenario(
        with_new_seller_without_phone(appeal_rejected_then_accepted),
        APPEAL_POLICY,
        appeal_only=True,
    ),
    "appeal_window_passed": Scenario(
        with_new_seller(appeal_window_passed).record, appeal_only=True
    ),
}


def check_checkout() -> None:
    """Histories must come from this checkout's code, not from wherever `aha` is installed."""
    root = Path(__file__).resolve().parents[1]
    for module in (aha, workflows):
        where = Path(module.__file__ or "").resolve()
        if root not in where.parents:
            raise SystemExit(
                f"{module.__name__} is imported from {where}, not from {root}: "
                f"run with PYTHONPATH={root}"
            )


async def main(tag: str, names: list[str], overwrite: bool = False) -> None:
    check_checkout()
    existing = [
        path
        for name in names
        for suffix in ("", "-notices", "-appeal")
        for path in (HISTORIES / f"{tag}-{name}{suffix}.json",)
        if path.exists()
    ]
    if existing and not overwrite:
        raise SystemExit(
            "refusing to overwrite committed histories (choose scenarios with --only, "
            "or pass --overwrite): " + ", ".join(p.name for p in existing)
        )
    env = await WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=temporal_binary(),
        dev_server_extra_args=dev_server_args(),
        data_converter=pydantic_data_converter,
    )
    async with env:
        with tempfile.TemporaryDirectory() as tmp, StoppableMail() as catcher:
            mail = (Path(tmp), catcher.port)
            # One worker per policy: a case takes the policy of the worker that opens it.
            for policy in dict.fromkeys(SCENARIOS[name].policy for name in names):
                async with running_cases(env, Path(tmp), mail, parse_policy(policy)) as cases:
                    cases.mail = catcher
                    for name in names:
                        if SCENARIOS[name].policy == policy:
                            print(f"{tag}-{name}")
                            seller = await SCENARIOS[name].record(cases)
                            appeal_only = SCENARIOS[name].appeal_only
                            await save(cases, seller, f"{tag}-{name}", appeal_only)


async def save(cases: Cases, seller: str, name: str, appeal_only: bool = False) -> None:
    """Write the case's history once it has ended, so the history holds its result."""
    handle = cases.client.get_workflow_handle(case_id_for(seller))
    await asyncio.wait_for(handle.result(), timeout=60)
    if not appeal_only:
        write(name, await handle.fetch_history())
    view = await cases.view(seller)
    if view.notices_courier and not appeal_only:
        courier = cases.client.get_workflow_handle(view.notices_courier)
        await asyncio.wait_for(courier.result(), timeout=60)
        write(f"{name}-notices", await courier.fetch_history())
    if view.appeal is not None:
        appeal = cases.client.get_workflow_handle(view.appeal.appeal_id)
        await asyncio.wait_for(appeal.result(), timeout=60)
        write(f"{name}-appeal", await appeal.fetch_history())


def write(name: str, history: WorkflowHistory) -> None:
    path = HISTORIES / f"{name}.json"
    path.write_text(json.dumps(json.loads(history.to_json()), indent=1))
    print(f"wrote {path} ({len(history.events)} events)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.record_histories",
        description="Record case histories into tests/histories/ for the replay tests.",
    )
    parser.add_argument("tag", nargs="?", default="v1", help="file name prefix, such as v4")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(SCENARIOS),
        metavar="NAME",
        help="record this scenario (repeatable); all of them by default",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace history files that exist")
    parser.add_argument("--list", action="store_true", help="print the scenario names")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    if args.list:
        print("\n".join(SCENARIOS))
    else:
        asyncio.run(main(args.tag, args.only or list(SCENARIOS), args.overwrite))
