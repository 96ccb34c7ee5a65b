"""Preferred contact windows: their form, and the rule that picks the next proactive call.

Expected instants are worked out by hand: Toronto is UTC-5 in winter (EST) and UTC-4 in
summer (EDT); in 2026 its clocks go forward on Sunday 8 March at 02:00. 6 March 2026 is a
Friday, 9 March a Monday.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from aha.domain.calendar import calling_days
from aha.domain.case import Case, Edition
from aha.domain.models import CaseStart, DetectionEvent, SellerProfile
from aha.domain.policy import Policy, PolicyError, parse_policy
from aha.domain.preferred import (
    PreferredWindows,
    combined,
    meets_calendar,
    next_call_slot,
    parse_assignments,
    prefer_until,
)
from aha.domain.vocabulary import TimelineKind

TORONTO = "America/Toronto"
CANADA = """
[calling_calendar.CA]
mon = ["09:00-21:30"]
tue = ["09:00-21:30"]
wed = ["09:00-21:30"]
thu = ["09:00-21:30"]
fri = ["09:00-21:30"]
sat = ["10:00-18:00"]
sun = ["10:00-18:00"]
holidays = ["2026-03-10"]
"""
DAYS = calling_days(parse_policy(CANADA), "CA")
ALWAYS = '[calling_hours]\nstart = "00:00"\nend = "24:00"\n'


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def slot(
    not_before: datetime,
    windows: PreferredWindows | None,
    until: datetime | None = None,
    earlier: tuple[datetime, ...] = (),
    per_day: int = 4,
) -> datetime:
    return next_call_slot(not_before, TORONTO, DAYS, windows, until, per_day, earlier)


# --- the form ---------------------------------------------------------------------------


def test_windows_take_the_calendars_form() -> None:
    windows = PreferredWindows.model_validate({"mon": ["09:00-12:00"], "sat": [" 14:00-16:00 "]})
    assert windows.mon == ("09:00-12:00",)
    assert windows.sat == ("14:00-16:00",)
    assert windows.summary() == "mon 09:00-12:00; sat 14:00-16:00"
    assert PreferredWindows().summary() == "none"
    assert PreferredWindows().empty


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"mon": ["09:00"]}, "is not a window 'HH:MM-HH:MM'"),
        ({"mon": ["12:00-09:00"]}, "must start before it ends"),
        ({"mon": ["09:00-25:00"]}, "is not a time of day"),
        ({"mon": ["09:00-12:00", "11:00-13:00"]}, "mon\n.*preferred windows overlap"),
        ({"mon": [f"{h:02d}:00-{h:02d}:30" for h in range(7)]}, "at most 6 windows a day"),
        ({"monday": ["09:00-12:00"]}, "Extra inputs are not permitted"),
    ],
)
def test_bad_windows_say_which_and_why(data: dict[str, list[str]], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        PreferredWindows.model_validate(data)


def test_assignments_name_a_day_each() -> None:
    windows = parse_assignments(
        ["mon=09:00-12:00", "MON=14:00-16:00", "sat=10:00-11:00,15:00-16:00"]
    )
    assert windows.mon == ("09:00-12:00", "14:00-16:00")
    assert windows.sat == ("10:00-11:00", "15:00-16:00")
    with pytest.raises(ValueError, match="'funday=09:00-12:00' is not DAY=HH:MM-HH:MM"):
        parse_assignments(["funday=09:00-12:00"])
    with pytest.raises(ValueError, match="is not DAY=HH:MM-HH:MM"):
        parse_assignments(["09:00-12:00"])


# --- calendar ∩ preferred ---------------------------------------------------------------


def test_the_calendar_cuts_the_preferred_windows() -> None:
    windows = PreferredWindows(mon=("07:00-10:00", "21:00-23:00"), sat=("08:00-11:00",))
    both = combined(DAYS, windows)
    assert both(datetime(2026, 3, 9).date()) == [(9 * 60, 10 * 60), (21 * 60, 21 * 60 + 30)]
    assert both(datetime(2026, 3, 7).date()) == [(10 * 60, 11 * 60)]
    assert both(datetime(2026, 3, 8).date()) == []  # a Sunday: no preference that day


def test_a_call_waits_for_the_preferred_window() -> None:
    friday_noon = utc(2026, 3, 6, 17)  # Fri 6 March 12:00 EST, inside the calendar
    windows = PreferredWindows(mon=("14:00-16:00",))
    # Mon 9 March is after the DST change: 14:00 EDT is 18:00 UTC.
    assert slot(friday_noon, windows) == utc(2026, 3, 9, 18)
    assert slot(friday_noon, None) == friday_noon
    assert slot(friday_noon, PreferredWindows()) == friday_noon


def test_inside_the_window_a_call_goes_at_once() -> None:
    monday_3pm = utc(2026, 3, 9, 19)  # Mon 15:00 EDT
    assert slot(monday_3pm, PreferredWindows(mon=("14:00-16:00",))) == monday_3pm


def test_windows_across_the_dst_change_stay_local() -> None:
    windows = PreferredWindows(sat=("10:00-11:00",), sun=("10:00-11:00",))
    saturday_noon = utc(2026, 3, 7, 17)  # Sat 12:00 EST, after Saturday's window
    assert slot(saturday_noon, windows) == utc(2026, 3, 8, 14)  # Sun 10:00 EDT, UTC-4


def test_the_daily_cap_moves_the_call_to_the_next_preferred_day() -> None:
    windows = PreferredWindows(fri=("09:00-12:00",), mon=("09:00-12:00",))
    friday_10am = utc(2026, 3, 6, 15)
    placed = (utc(2026, 3, 6, 14, 5),)  # Fri 09:05 EST
    assert slot(friday_10am, windows, earlier=placed, per_day=1) == utc(2026, 3, 9, 13)


def test_a_holiday_skips_a_preferred_day() -> None:
    windows = PreferredWindows(tue=("09:00-12:00",), wed=("09:00-12:00",))
    monday = utc(2026, 3, 9, 16)
    assert slot(monday, windows) == utc(2026, 3, 11, 13)  # Tue 10 March is a holiday


def test_windows_that_never_meet_the_calendar_are_ignored() -> None:
    night = PreferredWindows(mon=("22:00-23:00",), sat=("06:00-08:00",))
    friday_noon = utc(2026, 3, 6, 17)
    assert not meets_calendar(DAYS, night, datetime(2026, 3, 6).date())
    assert slot(friday_noon, night) == friday_noon


# --- short of the deadline ----------------------------------------------------------------


def test_near_the_deadline_the_calendar_alone() -> None:
    friday_noon = utc(2026, 3, 6, 17)
    windows = PreferredWindows(mon=("14:00-16:00",))
    deadline = utc(2026, 3, 8, 17)  # Sun 13:00 EDT, before Monday's window
    until = prefer_until(deadline, timedelta(hours=24))
    assert until == utc(2026, 3, 7, 17)
    # From Sat 12:00 EST on the calendar alone decides: Saturday's window is open then.
    assert slot(friday_noon, windows, until) == utc(2026, 3, 7, 17)
    # Already inside the last 24 hours: the calendar's next slot, no wait at all.
    assert slot(utc(2026, 3, 7, 18), windows, until) == utc(2026, 3, 7, 18)


def test_a_preferred_window_before_the_cut_off_still_wins() -> None:
    friday_noon = utc(2026, 3, 6, 17)
    windows = PreferredWindows(sat=("11:00-12:00",))
    until = utc(2026, 3, 8, 16)
    assert slot(friday_noon, windows, until) == utc(2026, 3, 7, 16)  # Sat 11:00 EST


def test_the_cut_off_outside_the_calendar_waits_for_the_calendar() -> None:
    friday_noon = utc(2026, 3, 6, 17)
    windows = PreferredWindows(mon=("14:00-16:00",))
    until = utc(2026, 3, 7, 4)  # Fri 23:00 EST: no calendar hours until Sat 10:00
    assert slot(friday_noon, windows, until) == utc(2026, 3, 7, 15)


def test_no_deadline_means_no_cut_off() -> None:
    assert prefer_until(None, timedelta(hours=24)) is None


# --- in the case --------------------------------------------------------------------------


def _case(edition: Edition, windows: PreferredWindows | None, opened: datetime) -> Case:
    case = Case(CaseStart(seller_id="S1", marketplace="CA"), "case-S1", "run-1")
    case.edition = edition
    profile = SellerProfile(
        seller_id="S1",
        marketplace="CA",
        timezone=TORONTO,
        has_phone=True,
        phone_version=1,
        account_status="active",
        preferred_windows=windows,
    )
    case.begin(Policy.model_validate(parse_policy(CANADA).model_dump()), profile, opened)
    case.detect(
        DetectionEvent(
            event_id="e1",
            seller_id="S1",
            marketplace="CA",
            issue_type="listing_policy",
            severity="high",
            detected_at=opened,
        ),
        opened,
    )
    return case


def test_the_preferred_edition_waits_and_older_ones_do_not() -> None:
    friday_noon = utc(2026, 3, 6, 17)
    windows = PreferredWindows(sat=("11:00-12:00",))
    waiting = _case(Edition.PREFERRED_WINDOWS, windows, friday_noon)
    assert waiting.plan_calls(friday_noon) == []
    assert waiting.view.next_call_at == utc(2026, 3, 7, 16)
    assert waiting.view.preferred_windows == windows
    older = _case(Edition.DEADLINES, windows, friday_noon)
    assert len(older.plan_calls(friday_noon)) == 1
    assert older.view.preferred_windows is None


def test_the_case_stops_waiting_24_hours_before_the_deadline() -> None:
    friday_noon = utc(2026, 3, 6, 17)
    # A Wednesday window: the 72-hour deadline is Mon 13:00 EDT, so from Sun 13:00 EDT on
    # the calendar alone (Sunday's window is open then).
    case = _case(Edition.PREFERRED_WINDOWS, PreferredWindows(wed=("09:00-10:00",)), friday_noon)
    assert case.plan_calls(friday_noon) == []
    assert case.deadline() == utc(2026, 3, 9, 17)
    assert case.view.next_call_at == utc(2026, 3, 8, 17)


def test_changed_windows_are_recorded_and_followed() -> None:
    friday_noon = utc(2026, 3, 6, 17)
    case = _case(Edition.PREFERRED_WINDOWS, None, friday_noon)
    assert case.profile is not None
    windows = PreferredWindows(sat=("11:00-12:00",))
    case.profile_refreshed(
        case.profile.model_copy(update={"preferred_windows": windows}), "seller", friday_noon
    )
    entry = case.view.timeline[-1]
    assert entry.kind == TimelineKind.PREFERRED_WINDOWS_UPDATED
    assert entry.detail == "preferred contact windows are now sat 11:00-12:00"
    assert entry.who == "seller"
    assert case.plan_calls(friday_noon) == []
    assert case.view.next_call_at == utc(2026, 3, 7, 16)


def test_a_window_in_the_spring_forward_gap_waits_for_a_day_that_has_it() -> None:
    always = calling_days(parse_policy(ALWAYS), "US")
    windows = PreferredWindows(sun=("02:00-03:00",))
    saturday_noon = utc(2026, 3, 7, 17)
    # Sun 8 March 02:00-03:00 does not exist in Toronto; Sun 15 March 02:00 EDT is 06:00 UTC.
    found = next_call_slot(saturday_noon, TORONTO, always, windows, None, 4)
    assert found == utc(2026, 3, 15, 6)


def test_the_policy_key_is_a_duration_and_never_negative() -> None:
    assert Policy().preferred_windows_until == timedelta(hours=24)
    assert parse_policy('preferred_windows_until = "6h"').preferred_windows_until == timedelta(
        hours=6
    )
    with pytest.raises(PolicyError, match="preferred_windows_until"):
        parse_policy('preferred_windows_until = "soon"')
