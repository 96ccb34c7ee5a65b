"""Calling calendars per marketplace: the policy's tables and the seller-local calling days.

Expected instants are worked out by hand: Toronto is UTC-5 in winter (EST) and UTC-4 in
summer (EDT); in 2026 its clocks go forward on Sunday 8 March at 02:00 and back on Sunday
1 November at 02:00. 6 March 2026 is a Friday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from aha.domain import calling
from aha.domain.board import case_row, queue_item
from aha.domain.calendar import calling_days, is_callable, next_call_slot, summary, windows_on
from aha.domain.case import Case, Edition
from aha.domain.models import CaseStart, DetectionEvent, SellerProfile
from aha.domain.policy import CallingCalendar, CallingHours, Policy, PolicyError, parse_policy
from aha.domain.sla import add_working_time

TORONTO = "America/Toronto"

CANADA = """
[calling_hours]
start = "08:00"
end = "21:00"
[calling_calendar.CA]
mon = ["09:00-21:30"]
tue = ["09:00-21:30"]
wed = ["09:00-21:30"]
thu = ["09:00-21:30"]
fri = ["09:00-21:30"]
sat = ["10:00-18:00"]
sun = ["10:00-18:00"]
"""
SATURDAY_OFF = CANADA + 'holidays = ["2026-03-07"]\n'
WEEKDAYS_ONLY = """
[calling_calendar.CA]
mon = ["09:00-21:30"]
tue = ["09:00-21:30"]
wed = ["09:00-21:30"]
thu = ["09:00-21:30"]
fri = ["09:00-21:30"]
"""


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# --- which windows a day has --------------------------------------------------------------


def test_friday_night_waits_for_saturday_morning() -> None:
    friday_10pm = utc(2026, 3, 7, 3)  # Fri 6 March 22:00 EST
    slot = next_call_slot(friday_10pm, TORONTO, calling_days(parse_policy(CANADA), "CA"), 4)
    assert slot == utc(2026, 3, 7, 15)  # Sat 10:00 EST


def test_a_holiday_has_no_calls_and_the_next_day_is_across_the_dst_change() -> None:
    days = calling_days(parse_policy(SATURDAY_OFF), "CA")
    assert windows_on(date(2026, 3, 7), TORONTO, days) == []
    slot = next_call_slot(utc(2026, 3, 7, 3), TORONTO, days, 4)
    assert slot == utc(2026, 3, 8, 14)  # Sun 8 March 10:00 EDT, the first day of summer time
    assert not is_callable(utc(2026, 3, 7, 17), TORONTO, days)  # Sat 12:00 EST, the holiday


def test_a_day_left_out_has_no_calls() -> None:
    days = calling_days(parse_policy(WEEKDAYS_ONLY), "CA")
    slot = next_call_slot(utc(2026, 3, 7, 3), TORONTO, days, 4)
    assert slot == utc(2026, 3, 9, 13)  # Mon 9 March 09:00 EDT


def test_windows_stay_local_across_the_spring_change() -> None:
    days = calling_days(parse_policy(CANADA), "CA")
    assert windows_on(date(2026, 3, 7), TORONTO, days) == [
        (utc(2026, 3, 7, 15), utc(2026, 3, 7, 23))
    ]
    assert windows_on(date(2026, 3, 8), TORONTO, days) == [
        (utc(2026, 3, 8, 14), utc(2026, 3, 8, 22))
    ]
    assert is_callable(utc(2026, 3, 8, 21, 59), TORONTO, days)
    assert not is_callable(utc(2026, 3, 8, 22), TORONTO, days)  # Sun 18:00 EDT


def test_windows_stay_local_across_the_autumn_change() -> None:
    days = calling_days(parse_policy(CANADA), "CA")
    saturday_10pm = utc(2026, 11, 1, 2)  # Sat 31 October 22:00 EDT
    assert next_call_slot(saturday_10pm, TORONTO, days, 4) == utc(2026, 11, 1, 15)  # 10:00 EST


def test_a_weekday_evening_calls_until_half_past_nine() -> None:
    days = calling_days(parse_policy(CANADA), "CA")
    assert is_callable(utc(2026, 3, 6, 2, 29), TORONTO, days)  # Thu 5 March 21:29 EST
    assert not is_callable(utc(2026, 3, 6, 2, 30), TORONTO, days)  # 21:30 EST


def test_several_windows_in_a_day_skip_the_gap_between_them() -> None:
    policy = parse_policy('[calling_calendar.CA]\nmon = ["09:00-12:00", "14:00-18:00"]\n')
    days = calling_days(policy, "CA")
    monday_1230 = utc(2026, 3, 9, 16, 30)  # Mon 12:30 EDT
    assert not is_callable(monday_1230, TORONTO, days)
    assert next_call_slot(monday_1230, TORONTO, days, 4) == utc(2026, 3, 9, 18)  # 14:00 EDT


def test_the_daily_cap_still_holds_under_a_calendar() -> None:
    days = calling_days(parse_policy(CANADA), "CA")
    saturday_call = utc(2026, 3, 7, 15)  # Sat 10:00 EST
    slot = next_call_slot(saturday_call, TORONTO, days, 1, [saturday_call])
    assert slot == utc(2026, 3, 8, 14)  # Sun 10:00 EDT


def test_a_marketplace_without_a_calendar_calls_in_calling_hours_every_day() -> None:
    days = calling_days(parse_policy(CANADA), "US")
    assert next_call_slot(utc(2026, 3, 7, 3), TORONTO, days, 4) == utc(2026, 3, 7, 13)  # 08:00


def test_marketplace_codes_match_in_any_case() -> None:
    days = calling_days(
        parse_policy(CANADA.replace("calling_calendar.CA", "calling_calendar.ca")), "Ca"
    )
    assert next_call_slot(utc(2026, 3, 7, 3), TORONTO, days, 4) == utc(2026, 3, 7, 15)


def test_the_first_attempt_clock_counts_calendar_time() -> None:
    # 2h of calling time from Friday 21:00 EST: 30 minutes on Friday, 90 on Saturday from 10:00.
    days = calling_days(parse_policy(CANADA), "CA")
    due = add_working_time(utc(2026, 3, 7, 2), timedelta(hours=2), TORONTO, days)
    assert due == utc(2026, 3, 7, 16, 30)  # Sat 11:30 EST


# --- the policy's tables ------------------------------------------------------------------


def test_a_policy_with_a_calendar_keeps_its_calling_hours() -> None:
    policy = parse_policy(SATURDAY_OFF)
    assert (policy.calling_hours.start, policy.calling_hours.end) == ("08:00", "21:00")
    calendar = policy.calendar_for("CA")
    assert calendar is not None
    assert calendar.fri == ("09:00-21:30",) and calendar.sat == ("10:00-18:00",)
    assert calendar.holidays == (date(2026, 3, 7),)


def test_toml_dates_are_holidays_too() -> None:
    policy = parse_policy(CANADA + "holidays = [2026-12-25, 2026-12-26]\n")
    calendar = policy.calendar_for("CA")
    assert calendar is not None and calendar.holidays == (date(2026, 12, 25), date(2026, 12, 26))


def test_a_calendar_round_trips_through_the_json_the_case_records() -> None:
    policy = parse_policy(SATURDAY_OFF)
    assert Policy.model_validate_json(policy.model_dump_json()) == policy


def test_policies_without_calendars_are_unchanged() -> None:
    assert Policy().calling_calendar == {}
    assert parse_policy("").calendar_for("CA") is None


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[calling_calendar.CA]\nmon = ["9-17"]',
            "calling_calendar.CA.mon: '9-17' is not a window",
        ),
        (
            '[calling_calendar.CA]\nmon = ["18:00-09:00"]',
            "calling_calendar.CA.mon: window '18:00-09:00' must start before it ends",
        ),
        (
            '[calling_calendar.CA]\nmon = ["09:00-25:00"]',
            "calling_calendar.CA.mon: '25:00' is not a time of day",
        ),
        (
            '[calling_calendar.CA]\nsat = ["09:00-13:00", "12:00-18:00"]',
            "calling_calendar.CA: sat: calling windows overlap",
        ),
        (
            '[calling_calendar.CA]\nmon = ["09:00-17:00"]\nholidays = ["2026-13-01"]',
            "calling_calendar.CA.holidays: '2026-13-01' is not a date 'YYYY-MM-DD'",
        ),
        (
            '[calling_calendar.CA]\nmon = ["09:00-17:00"]\nholidays = ["25 December"]',
            "calling_calendar.CA.holidays: '25 December' is not a date 'YYYY-MM-DD'",
        ),
        (
            '[calling_calendar.CA]\nmonday = ["09:00-17:00"]',
            "calling_calendar.CA.monday: unknown key",
        ),
        (
            "[calling_calendar.CA]\nholidays = []",
            "calling_calendar.CA: at least one weekday needs calling windows",
        ),
        (
            '[calling_calendar.C4]\nmon = ["09:00-17:00"]',
            "calling_calendar: 'C4' is not a marketplace code of 2 to 8 letters",
        ),
        (
            '[calling_calendar.CA]\nmon = ["09:00"]\n[calling_calendar.ca]\nmon = ["09:00"]',
            "calling_calendar: 'ca': marketplace CA has two calendars",
        ),
        ('[calling_calendar.CA]\nmon = "09:00-17:00"', "calling_calendar.CA.mon:"),
    ],
)
def test_invalid_calendars_name_the_key_and_the_reason(table: str, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(table)
    assert message in str(err.value)


def test_calendar_model_windows_on_a_holiday_are_empty() -> None:
    calendar = CallingCalendar(mon=("09:00-17:00",), holidays=(date(2026, 3, 9),))
    assert calendar.windows_on(date(2026, 3, 9)) == []
    assert calendar.windows_on(date(2026, 3, 16)) == [(540, 1020)]


# --- the case: which edition, which marketplace ---------------------------------------------

FRIDAY_9PM = utc(2026, 3, 7, 2)  # Fri 6 March 21:00 EST
FRIDAY_10PM = utc(2026, 3, 7, 3)  # Fri 6 March 22:00 EST
CANADA_WITH_SLA = CANADA + '[sla]\nfirst_attempt_within = "2h"\n'


def case_at(
    now: datetime,
    edition: Edition,
    directory_says: str = "CA",
    detection_says: str = "US",
    policy: str = CANADA,
) -> Case:
    case = Case(CaseStart(seller_id="S1", marketplace=detection_says), "C", "R")
    case.edition = edition
    case.begin(parse_policy(policy), seller(directory_says), now)
    case.detect(
        DetectionEvent(
            event_id="E1",
            seller_id="S1",
            marketplace=detection_says,
            issue_type="listing_policy_violation",
            severity="high",
            detected_at=now,
        ),
        now,
    )
    return case


def seller(marketplace: str) -> SellerProfile:
    return SellerProfile(
        seller_id="S1",
        marketplace=marketplace,
        timezone=TORONTO,
        has_phone=True,
        phone_version=1,
        account_status="active",
    )


def test_the_calendar_edition_calls_in_the_directory_marketplace_calendar() -> None:
    case = case_at(FRIDAY_10PM, Edition.CALENDARS)
    assert case.plan_calls(FRIDAY_10PM) == []
    assert case.view.next_call_at == utc(2026, 3, 7, 15)  # Sat 10:00 EST


def test_a_detection_naming_a_calendar_marketplace_does_not_win_over_the_directory() -> None:
    case = case_at(FRIDAY_10PM, Edition.CALENDARS, directory_says="US", detection_says="CA")
    case.plan_calls(FRIDAY_10PM)
    assert case.view.next_call_at == utc(2026, 3, 7, 13)  # calling hours: Sat 08:00 EST


def test_older_editions_keep_calling_hours() -> None:
    case = case_at(FRIDAY_10PM, Edition.CONSOLE)
    case.plan_calls(FRIDAY_10PM)
    assert case.view.next_call_at == utc(2026, 3, 7, 13)  # Sat 08:00 EST


def test_a_marketplace_change_mid_case_keeps_the_calendar_of_the_opening() -> None:
    case = case_at(FRIDAY_10PM, Edition.CALENDARS)
    case.profile_refreshed(seller("US"), "seller", FRIDAY_10PM)
    case.plan_calls(FRIDAY_10PM)
    assert case.view.next_call_at == utc(2026, 3, 7, 15)  # still Sat 10:00 EST


def test_the_first_attempt_clock_follows_the_calendar_in_the_calendar_edition() -> None:
    # 2h of calling time: 30 minutes on Friday until 21:30, then Saturday from 10:00.
    case = case_at(FRIDAY_9PM, Edition.CALENDARS, policy=CANADA_WITH_SLA)
    assert [c.due_at for c in case.view.sla] == [utc(2026, 3, 7, 16, 30)]  # Sat 11:30 EST
    # The console edition counts calling hours (08:00-21:00): Saturday 08:00 to 10:00.
    case = case_at(FRIDAY_9PM, Edition.CONSOLE, policy=CANADA_WITH_SLA)
    assert [c.due_at for c in case.view.sla] == [utc(2026, 3, 7, 15)]  # Sat 10:00 EST


@pytest.mark.parametrize("zone", [TORONTO, "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata"])
@pytest.mark.parametrize(
    ("start", "end"), [("08:00", "21:00"), ("00:00", "24:00"), ("02:30", "03:30")]
)
def test_without_a_calendar_the_calendar_edition_picks_the_slots_calling_hours_did(
    zone: str, start: str, end: str
) -> None:
    # Every half hour across both 2026 DST changes, with and without the daily cap reached.
    hours = CallingHours(start=start, end=end)
    days = calling_days(Policy(calling_hours=hours), "CA")
    for first in (utc(2026, 3, 6), utc(2026, 3, 27), utc(2026, 10, 23)):
        for step in range(0, 4 * 24 * 2):
            moment = first + timedelta(minutes=30 * step)
            assert is_callable(moment, zone, days) == calling.is_callable(moment, zone, hours)
            for cap, earlier in ((4, []), (1, [moment])):
                assert next_call_slot(moment, zone, days, cap, earlier) == calling.next_call_slot(
                    moment, zone, hours, cap, earlier
                ), (moment, zone, start, end, cap)


# --- what the console shows of the calendar -------------------------------------------------


def test_the_board_row_carries_the_calendar_and_the_queue_reads_callable_from_it() -> None:
    case = case_at(FRIDAY_10PM, Edition.CALENDARS)
    row = case_row(case.view, version=1)
    assert row.calling_calendar == parse_policy(CANADA).calendar_for("CA")
    saturday_9am, saturday_10am = utc(2026, 3, 7, 14), utc(2026, 3, 7, 15)
    # Calling hours (08:00-21:00) would say yes at 09:00; the weekend window opens at 10:00.
    assert not queue_item(row, saturday_9am).callable_now
    assert queue_item(row, saturday_10am).callable_now
    assert row.calling_summary == "Mon-Fri 09:00-21:30; Sat-Sun 10:00-18:00"


def test_older_editions_and_marketplaces_without_a_calendar_show_calling_hours() -> None:
    for case in (
        case_at(FRIDAY_10PM, Edition.CONSOLE),
        case_at(FRIDAY_10PM, Edition.CALENDARS, directory_says="US"),
    ):
        row = case_row(case.view, version=1)
        assert row.calling_calendar is None
        assert queue_item(row, utc(2026, 3, 7, 14)).callable_now  # Sat 09:00 EST
        assert row.calling_summary == "08:00 to 21:00 every day"


def test_the_summary_joins_days_in_a_row_and_counts_holidays() -> None:
    calendar = CallingCalendar(
        mon=("09:00-12:00", "13:00-17:00"),
        tue=("09:00-12:00", "13:00-17:00"),
        thu=("09:00-12:00", "13:00-17:00"),
        sat=("10:00-14:00",),
        holidays=(date(2026, 12, 25), date(2026, 12, 26)),
    )
    assert summary(calendar) == (
        "Mon-Tue 09:00-12:00, 13:00-17:00; Thu 09:00-12:00, 13:00-17:00; Sat 10:00-14:00; "
        "no calls on 2 holidays"
    )
