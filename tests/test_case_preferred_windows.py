"""Preferred contact windows in a real case workflow under time skipping: a proactive call waits
for the seller's window, except near the deadline; a change reaches the open case.

The calendar here calls at any hour, so only the preferred windows hold a call back. Windows
are chosen from the time the test runs, on a weekday that is neither today nor tomorrow's
first hours, in UTC (the seller's zone).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aha.domain.models import CallReport
from aha.domain.policy import WEEKDAYS
from aha.domain.preferred import PreferredWindows
from aha.service import change_preferred_windows
from tests.conftest import ALWAYS_CALLABLE, Cases

H = timedelta(hours=1)
MOMENT = timedelta(seconds=30)


def window_at(moment: datetime) -> tuple[PreferredWindows, datetime]:
    """A one-hour window on `moment`'s weekday (UTC), starting at its whole hour."""
    start = moment.replace(minute=0, second=0, microsecond=0)
    end = "24:00" if start.hour == 23 else f"{start.hour + 1:02d}:00"
    day = WEEKDAYS[start.weekday()]
    return PreferredWindows.model_validate({day: [f"{start:%H}:00-{end}"]}), start


async def test_a_call_waits_for_the_preferred_window(cases: Cases) -> None:
    seller = cases.new_seller(timezone="UTC")
    windows, opens = window_at(datetime.now(UTC) + 30 * H)
    cases.store.set_preferred_windows(seller, windows)
    await cases.detect(seller)
    view = await cases.wait_for(seller, lambda v: v.next_call_at is not None)
    assert view.next_call_at == opens
    assert view.call_attempts == []
    assert view.preferred_windows == windows

    await cases.advance(seller, opens - await cases.now(seller) - H / 2)
    assert (await cases.view(seller)).call_attempts == []
    await cases.advance(seller, H)
    view = await cases.wait_for_call(seller, 1)
    # The timer fires at the window's start; skipped time lands a moment after it.
    assert opens <= view.call_attempts[0].scheduled_for < opens + MOMENT


async def test_near_the_deadline_the_call_does_not_wait(cases: Cases) -> None:
    seller = cases.new_seller(timezone="UTC")
    # A window after the point 24 hours before the 72-hour deadline.
    windows, _ = window_at(datetime.now(UTC) + 60 * H)
    cases.store.set_preferred_windows(seller, windows)
    await cases.detect(seller)
    view = await cases.wait_for(seller, lambda v: v.next_call_at is not None)
    assert view.deadline is not None
    at_risk = view.deadline - 24 * H
    assert view.next_call_at == at_risk
    await cases.advance(seller, at_risk - await cases.now(seller) + H / 2)
    view = await cases.wait_for_call(seller, 1)
    assert at_risk <= view.call_attempts[0].scheduled_for < at_risk + MOMENT


async def test_windows_the_calendar_never_meets_are_ignored(
    cases_with: Callable[[str], Any],
) -> None:
    daytime = ALWAYS_CALLABLE.replace('"00:00"', '"08:00"').replace('"24:00"', '"21:00"')
    async with cases_with(daytime) as cases:
        seller = cases.new_seller(timezone="UTC")
        night = PreferredWindows.model_validate({day: ["22:00-23:00"] for day in WEEKDAYS})
        cases.store.set_preferred_windows(seller, night)
        await cases.detect(seller)
        view = await cases.wait_for(
            seller, lambda v: v.next_call_at is not None or bool(v.call_attempts)
        )
        # The calendar alone decides, as of the moment the case planned its first call.
        opened = view.opened_at
        assert opened is not None
        if 8 <= opened.hour < 21:
            await cases.wait_for_call(seller, 1)
        else:
            assert view.next_call_at is not None and view.next_call_at.hour == 8


async def test_a_change_reaches_the_open_case(cases: Cases) -> None:
    seller = cases.new_seller(timezone="UTC")
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="no_answer"))
    view = await cases.wait_for(seller, lambda v: v.next_call_at is not None)
    retry = view.next_call_at
    assert retry is not None

    windows, opens = window_at(retry + 20 * H)
    update = await change_preferred_windows(
        cases.store,
        seller,
        windows,
        service=lambda: _service(cases),
        changed_by="seller",
    )
    assert update.case_notified and update.warnings == []
    view = await cases.wait_for(seller, lambda v: v.next_call_at == opens)
    entry = view.timeline[-1]
    assert entry.kind == "preferred_windows_updated" and entry.who == "seller"
    assert view.preferred_windows == windows

    cleared = await change_preferred_windows(
        cases.store, seller, None, service=lambda: _service(cases), changed_by="seller"
    )
    assert cleared.contact.preferred_windows is None
    view = await cases.wait_for(seller, lambda v: v.next_call_at == retry)
    assert view.timeline[-1].detail == "preferred contact windows are now none"


async def _service(cases: Cases) -> Any:
    return cases.service
