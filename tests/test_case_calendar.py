"""Proactive calls follow the calling calendar of the seller's marketplace, under time skipping.

A Canadian seller (the directory says CA; the detection says US, and the directory wins) with
no emergency phone is detected; the case's clock is moved on to the next Friday 22:00 in
Toronto, after the weekday window (09:00-21:30) has closed, and the seller adds a phone then.
The next proactive call waits for the weekend window (10:00-18:00) of the next day that has
one; a holiday moves it on a day; across a clock change it opens at the local hour. Only the
phone network is faked: nobody answers, the test reads the planned call.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.conftest import Cases

TORONTO = ZoneInfo("America/Toronto")

CANADA = """
deadline = "240h"
call_report_timeout = "30m"
max_call_attempts_per_day = 4
reminders_before_deadline = ["24h", "4h"]
[calling_hours]
start = "00:00"
end = "24:00"
[calling_calendar.CA]
mon = ["09:00-21:30"]
tue = ["09:00-21:30"]
wed = ["09:00-21:30"]
thu = ["09:00-21:30"]
fri = ["09:00-21:30"]
sat = ["10:00-18:00"]
sun = ["10:00-18:00"]
"""


def next_friday_night(after: datetime) -> datetime:
    """The first Friday 22:00 Toronto time at least an hour after `after`."""
    day = (after + timedelta(hours=1)).astimezone(TORONTO).date()
    while True:
        night = datetime.combine(day, time(22, 0), tzinfo=TORONTO)
        if day.weekday() == 4 and night >= after + timedelta(hours=1):
            return night
        day += timedelta(days=1)


def local(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=TORONTO)


async def _phone_added_on_friday_night(cases: Cases, friday_night: datetime) -> str:
    """A case with no phone, its clock moved to `friday_night` (or any moment), then a phone."""
    seller = cases.new_seller(timezone="America/Toronto", phone=None, marketplace="CA")
    await cases.detect(seller, marketplace="US")
    view = await cases.wait_for(seller, lambda v: v.calling_stopped_reason is not None)
    assert view.call_attempts == [] and view.policy is not None
    assert view.policy.calendar_for("CA") is not None  # the calendar is recorded at open
    await cases.advance(seller, friday_night - await cases.now(seller))
    assert (await cases.now(seller)).astimezone(TORONTO) >= friday_night

    cases.store.upsert(
        seller,
        email=f"{seller}@sellers.example",
        phone="+14165550100",
        timezone="America/Toronto",
        marketplace="CA",
    )
    assert await cases.service.contact_changed(seller)
    return seller


async def test_friday_night_waits_for_saturday_morning(cases_with: Any) -> None:
    friday_night = next_friday_night(datetime.now(UTC))
    async with cases_with(CANADA) as cases:
        seller = await _phone_added_on_friday_night(cases, friday_night)
        view = await cases.wait_for(seller, lambda v: v.next_call_at is not None)
        assert view.call_attempts == []
        saturday = friday_night.date() + timedelta(days=1)
        assert view.next_call_at == local(saturday, 10)

        # "Contact me now" is the seller's own request: no calendar holds it back.
        receipt = await cases.service.contact_me_now(seller)
        view = await cases.wait_for_call(seller, receipt.attempt)
        assert view.call_attempts[0].seller_initiated


async def test_a_holiday_is_skipped(cases_with: Any) -> None:
    friday_night = next_friday_night(datetime.now(UTC))
    saturday = friday_night.date() + timedelta(days=1)
    policy = CANADA + f'holidays = ["{saturday.isoformat()}"]\n'
    async with cases_with(policy) as cases:
        seller = await _phone_added_on_friday_night(cases, friday_night)
        view = await cases.wait_for(seller, lambda v: v.next_call_at is not None)
        assert view.call_attempts == []
        assert view.next_call_at == local(saturday + timedelta(days=1), 10)


def next_dst_sunday(after: datetime) -> date:
    """The next Sunday on which Toronto's clocks change (spring or autumn)."""
    day = after.astimezone(TORONTO).date() + timedelta(days=1)
    while True:
        before = datetime.combine(day, time(0, 0), tzinfo=TORONTO).utcoffset()
        after_change = datetime.combine(day, time(12, 0), tzinfo=TORONTO).utcoffset()
        if before != after_change:
            return day
        day += timedelta(days=1)


async def test_the_window_after_a_dst_change_opens_at_local_time(cases_with: Any) -> None:
    # Long enough a deadline to reach the next clock change, wherever in the year this runs.
    sunday = next_dst_sunday(datetime.now(UTC))
    saturday_evening = local(sunday - timedelta(days=1), 19)  # the Saturday window has closed
    async with cases_with(CANADA.replace('"240h"', '"6000h"')) as cases:
        seller = await _phone_added_on_friday_night(cases, saturday_evening)
        view = await cases.wait_for(seller, lambda v: v.next_call_at is not None)
        assert view.call_attempts == []
        # Sunday 10:00 on the wall clock, which is an hour off Saturday's offset in UTC.
        assert view.next_call_at == local(sunday, 10)
        assert local(sunday, 10).utcoffset() != saturday_evening.utcoffset()
