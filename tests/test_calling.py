"""Calling hours, the daily cap and retry spacing, as pure functions of their arguments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from aha.domain.calling import calling_window, is_callable, local_day, next_call_slot, retry_delay
from aha.domain.policy import CallingHours, Policy, parse_policy

DEFAULT_HOURS = CallingHours()  # 08:00-21:00 local
ALWAYS = CallingHours(start="00:00", end="24:00")
NEW_YORK = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- calling_window -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "start", "end"),
    [
        # New York: EST (-5) the day before spring forward, EDT (-4) on the change day.
        (NEW_YORK, date(2026, 3, 7), utc(2026, 3, 7, 13), utc(2026, 3, 8, 2)),
        (NEW_YORK, date(2026, 3, 8), utc(2026, 3, 8, 12), utc(2026, 3, 9, 1)),
        # ... and back from EDT to EST on 1 November.
        (NEW_YORK, date(2026, 10, 31), utc(2026, 10, 31, 12), utc(2026, 11, 1, 1)),
        (NEW_YORK, date(2026, 11, 1), utc(2026, 11, 1, 13), utc(2026, 11, 2, 2)),
        # London: GMT until 29 March, BST until 25 October.
        ("Europe/London", date(2026, 3, 28), utc(2026, 3, 28, 8), utc(2026, 3, 28, 21)),
        ("Europe/London", date(2026, 3, 29), utc(2026, 3, 29, 7), utc(2026, 3, 29, 20)),
        ("Europe/London", date(2026, 10, 24), utc(2026, 10, 24, 7), utc(2026, 10, 24, 20)),
        ("Europe/London", date(2026, 10, 25), utc(2026, 10, 25, 8), utc(2026, 10, 25, 21)),
        # Kolkata: +05:30 all year, so the window starts on the half hour in UTC.
        ("Asia/Kolkata", date(2026, 1, 15), utc(2026, 1, 15, 2, 30), utc(2026, 1, 15, 15, 30)),
        ("Asia/Kolkata", date(2026, 7, 15), utc(2026, 7, 15, 2, 30), utc(2026, 7, 15, 15, 30)),
        # St John's: half-hour offset AND DST, -03:30 (NST) then -02:30 (NDT).
        ("America/St_Johns", date(2026, 3, 7), utc(2026, 3, 7, 11, 30), utc(2026, 3, 8, 0, 30)),
        ("America/St_Johns", date(2026, 3, 8), utc(2026, 3, 8, 10, 30), utc(2026, 3, 8, 23, 30)),
        # Sydney (southern hemisphere) leaves DST on 5 April: the local morning is the
        # previous UTC day.
        ("Australia/Sydney", date(2026, 4, 4), utc(2026, 4, 3, 21), utc(2026, 4, 4, 10)),
        ("Australia/Sydney", date(2026, 4, 5), utc(2026, 4, 4, 22), utc(2026, 4, 5, 11)),
    ],
)
def test_calling_window_is_0800_to_2100_local_in_utc(
    zone: str, day: date, start: datetime, end: datetime
) -> None:
    window = calling_window(day, zone, DEFAULT_HOURS)

    assert window == (start, end)
    assert all(moment.tzinfo is UTC for moment in window)


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        (NEW_YORK, date(2026, 3, 8)),
        (NEW_YORK, date(2026, 11, 1)),
        ("Europe/London", date(2026, 3, 29)),
        ("Europe/London", date(2026, 10, 25)),
        ("America/St_Johns", date(2026, 3, 8)),
        ("America/St_Johns", date(2026, 11, 1)),
        ("Asia/Kolkata", date(2026, 3, 8)),
    ],
)
def test_calling_window_stays_on_local_wall_clock_on_dst_change_days(zone: str, day: date) -> None:
    start, end = calling_window(day, zone, DEFAULT_HOURS)
    local_start = start.astimezone(ZoneInfo(zone))
    local_end = end.astimezone(ZoneInfo(zone))

    assert (local_start.date(), local_start.hour, local_start.minute) == (day, 8, 0)
    assert (local_end.date(), local_end.hour, local_end.minute) == (day, 21, 0)
    # The change happens in the small hours, outside the window, so it is still 13 real hours.
    assert end - start == timedelta(hours=13)


def test_calling_window_shifts_by_one_hour_in_utc_across_the_dst_change() -> None:
    before_start, before_end = calling_window(date(2026, 3, 7), NEW_YORK, DEFAULT_HOURS)
    after_start, after_end = calling_window(date(2026, 3, 8), NEW_YORK, DEFAULT_HOURS)

    assert after_start - before_start == timedelta(hours=23)
    assert after_end - before_end == timedelta(hours=23)


def test_calling_window_uses_configured_hours_with_minutes() -> None:
    # Canadian weekday telemarketing hours, 09:00-21:30, in Toronto during EDT (-4).
    hours = CallingHours(start="09:00", end="21:30")

    assert calling_window(date(2026, 6, 10), "America/Toronto", hours) == (
        utc(2026, 6, 10, 13),
        utc(2026, 6, 11, 1, 30),
    )


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        (date(2026, 6, 10), utc(2026, 6, 10, 4), utc(2026, 6, 11, 4)),
        # 23 hours long on the spring-forward day, 25 on the fall-back day.
        (date(2026, 3, 8), utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)),
        (date(2026, 11, 1), utc(2026, 11, 1, 4), utc(2026, 11, 2, 5)),
    ],
)
def test_always_open_window_runs_from_local_midnight_to_next_local_midnight(
    day: date, start: datetime, end: datetime
) -> None:
    assert calling_window(day, NEW_YORK, ALWAYS) == (start, end)


# --- is_callable --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "callable_"),
    [
        # Spring-forward day: window is 12:00Z-01:00Z (08:00-21:00 EDT).
        (utc(2026, 3, 8, 11, 59), False),
        (utc(2026, 3, 8, 12, 0), True),
        (utc(2026, 3, 9, 0, 59), True),
        (utc(2026, 3, 9, 1, 0), False),  # 21:00 exactly: the end is exclusive
        # The same UTC clock time one day earlier is still 07:30 EST, before the window.
        (utc(2026, 3, 7, 12, 30), False),
        (utc(2026, 3, 8, 12, 30), True),
        # Fall-back day: window is 13:00Z-02:00Z (08:00-21:00 EST).
        (utc(2026, 11, 1, 12, 30), False),
        (utc(2026, 11, 1, 13, 0), True),
        (utc(2026, 11, 2, 1, 30), True),  # 20:30 EST on 1 November
        (utc(2026, 11, 2, 2, 0), False),
        # Middle of the night.
        (utc(2026, 6, 10, 7, 0), False),  # 03:00 EDT
    ],
)
def test_is_callable_in_new_york_around_dst_changes(moment: datetime, callable_: bool) -> None:
    assert is_callable(moment, NEW_YORK, DEFAULT_HOURS) is callable_


@pytest.mark.parametrize(
    ("zone", "moment", "callable_"),
    [
        ("Asia/Kolkata", utc(2026, 1, 15, 2, 29), False),  # 07:59 IST
        ("Asia/Kolkata", utc(2026, 1, 15, 2, 30), True),  # 08:00 IST
        ("Asia/Kolkata", utc(2026, 1, 15, 15, 29), True),  # 20:59 IST
        ("Asia/Kolkata", utc(2026, 1, 15, 15, 30), False),  # 21:00 IST
        ("America/St_Johns", utc(2026, 3, 8, 10, 30), True),  # 08:00 NDT
        ("America/St_Johns", utc(2026, 3, 8, 23, 30), False),  # 21:00 NDT
        ("Europe/London", utc(2026, 7, 1, 7, 0), True),  # 08:00 BST
        ("Europe/London", utc(2026, 7, 1, 20, 0), False),  # 21:00 BST
        ("Europe/London", utc(2026, 1, 15, 20, 30), True),  # 20:30 GMT
    ],
)
def test_is_callable_in_other_zones(zone: str, moment: datetime, callable_: bool) -> None:
    assert is_callable(moment, zone, DEFAULT_HOURS) is callable_


def test_is_callable_accepts_a_moment_given_in_another_timezone() -> None:
    # 14:00 in Paris (CEST) is 08:00 EDT in New York.
    paris_afternoon = datetime(2026, 6, 10, 14, 0, tzinfo=ZoneInfo("Europe/Paris"))

    assert is_callable(paris_afternoon, NEW_YORK, DEFAULT_HOURS)
    assert not is_callable(paris_afternoon - timedelta(minutes=1), NEW_YORK, DEFAULT_HOURS)


@pytest.mark.parametrize(
    "moment",
    [
        utc(2026, 6, 10, 4, 0),  # local midnight
        utc(2026, 6, 10, 3, 59, 59),  # one second before local midnight
        utc(2026, 3, 8, 7, 0),  # 03:00 EDT, just after the skipped hour
        utc(2026, 11, 1, 5, 30),  # 01:30 EST, the second pass through the repeated hour
        utc(2026, 11, 1, 6, 30),  # 01:30 EDT, the first pass
    ],
)
def test_always_open_hours_make_every_moment_callable(moment: datetime) -> None:
    assert is_callable(moment, NEW_YORK, ALWAYS)
    assert next_call_slot(moment, NEW_YORK, ALWAYS, max_per_day=4) == moment


# --- local_day ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "zone", "day"),
    [
        (utc(2026, 6, 11, 2, 0), NEW_YORK, date(2026, 6, 10)),
        (utc(2026, 6, 10, 23, 30), "Australia/Sydney", date(2026, 6, 11)),
        (utc(2026, 6, 10, 18, 29), "Asia/Kolkata", date(2026, 6, 10)),
        (utc(2026, 6, 10, 18, 30), "Asia/Kolkata", date(2026, 6, 11)),
    ],
)
def test_local_day_is_the_sellers_calendar_day(moment: datetime, zone: str, day: date) -> None:
    assert local_day(moment, zone) == day


# --- next_call_slot: calling hours --------------------------------------------------------


@pytest.mark.parametrize(
    "not_before",
    [
        utc(2026, 6, 10, 15, 0),  # 11:00 EDT
        utc(2026, 6, 10, 12, 0),  # 08:00 EDT, the first callable minute
        utc(2026, 6, 11, 0, 59),  # 20:59 EDT, the last callable minute
    ],
)
def test_next_call_slot_inside_the_window_is_unchanged(not_before: datetime) -> None:
    assert next_call_slot(not_before, NEW_YORK, DEFAULT_HOURS, max_per_day=4) == not_before


@pytest.mark.parametrize(
    ("zone", "not_before", "slot"),
    [
        # 22:30 EDT on 9 June: already 10 June in UTC, but the next local morning is 10 June.
        (NEW_YORK, utc(2026, 6, 10, 2, 30), utc(2026, 6, 10, 12)),
        # 21:00 EDT exactly: the window has closed.
        (NEW_YORK, utc(2026, 6, 11, 1, 0), utc(2026, 6, 11, 12)),
        # 05:00 EDT: the same local day's window, later that morning.
        (NEW_YORK, utc(2026, 6, 10, 9, 0), utc(2026, 6, 10, 12)),
        # 22:30 EST on 7 March: the next morning is EDT, so 08:00 local is 12:00Z not 13:00Z.
        (NEW_YORK, utc(2026, 3, 8, 3, 30), utc(2026, 3, 8, 12)),
        # 23:00 EDT on 31 October: the next morning is EST, so 08:00 local is 13:00Z.
        (NEW_YORK, utc(2026, 11, 1, 3, 0), utc(2026, 11, 1, 13)),
        # 01:30 on the fall-back night (both passes) waits for 08:00 EST.
        (NEW_YORK, utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 13)),
        (NEW_YORK, utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 13)),
        # 21:30 IST rolls to 08:00 IST next day.
        ("Asia/Kolkata", utc(2026, 1, 15, 16, 0), utc(2026, 1, 16, 2, 30)),
        # 22:00 NST on 7 March rolls to 08:00 NDT on 8 March.
        ("America/St_Johns", utc(2026, 3, 8, 1, 30), utc(2026, 3, 8, 10, 30)),
        # 23:00 BST on 24 October rolls to 08:00 GMT on 25 October.
        ("Europe/London", utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 8)),
    ],
)
def test_next_call_slot_outside_the_window_moves_to_the_next_local_morning(
    zone: str, not_before: datetime, slot: datetime
) -> None:
    result = next_call_slot(not_before, zone, DEFAULT_HOURS, max_per_day=4)

    assert result == slot
    assert is_callable(result, zone, DEFAULT_HOURS)


# --- next_call_slot: the daily cap --------------------------------------------------------


def test_next_call_slot_below_the_cap_keeps_the_requested_moment() -> None:
    attempts = [utc(2026, 6, 10, 12), utc(2026, 6, 10, 15), utc(2026, 6, 10, 18)]

    slot = next_call_slot(utc(2026, 6, 10, 21), NEW_YORK, DEFAULT_HOURS, 4, attempts)

    assert slot == utc(2026, 6, 10, 21)


def test_next_call_slot_at_the_cap_waits_for_the_next_local_morning() -> None:
    attempts = [utc(2026, 6, 10, 12), utc(2026, 6, 10, 15), utc(2026, 6, 10, 18)]

    slot = next_call_slot(utc(2026, 6, 10, 21), NEW_YORK, DEFAULT_HOURS, 3, attempts)

    assert slot == utc(2026, 6, 11, 12)


def test_cap_counts_an_evening_attempt_on_the_sellers_local_day_not_the_utc_day() -> None:
    # 00:30Z on 11 June is 20:30 EDT on 10 June: it used up 10 June, not 11 June.
    attempts = [utc(2026, 6, 11, 0, 30)]

    slot = next_call_slot(utc(2026, 6, 11, 13), NEW_YORK, DEFAULT_HOURS, 1, attempts)

    assert slot == utc(2026, 6, 11, 13)


def test_cap_blocks_the_rest_of_the_local_day_even_past_utc_midnight() -> None:
    # 12:00Z and 00:30Z (next UTC day) are both 10 June in New York.
    attempts = [utc(2026, 6, 10, 12), utc(2026, 6, 11, 0, 30)]

    slot = next_call_slot(utc(2026, 6, 11, 0, 45), NEW_YORK, DEFAULT_HOURS, 2, attempts)

    assert slot == utc(2026, 6, 11, 12)


def test_cap_counts_a_utc_late_evening_attempt_on_the_next_local_day_east_of_utc() -> None:
    # 23:30Z on 9 June is 09:30 AEST on 10 June in Sydney.
    attempts = [utc(2026, 6, 9, 23, 30)]

    slot = next_call_slot(utc(2026, 6, 10, 1), "Australia/Sydney", DEFAULT_HOURS, 1, attempts)

    # 08:00 AEST on 11 June.
    assert slot == utc(2026, 6, 10, 22)


def test_cap_ignores_attempts_on_earlier_local_days() -> None:
    attempts = [utc(2026, 6, 9, 12), utc(2026, 6, 9, 15)]

    slot = next_call_slot(utc(2026, 6, 10, 14), NEW_YORK, DEFAULT_HOURS, 2, attempts)

    assert slot == utc(2026, 6, 10, 14)


def test_cap_skips_several_full_days() -> None:
    attempts = [utc(2026, 6, 10, 13), utc(2026, 6, 11, 13)]

    slot = next_call_slot(utc(2026, 6, 10, 14), NEW_YORK, DEFAULT_HOURS, 1, attempts)

    assert slot == utc(2026, 6, 12, 12)


def test_cap_with_always_open_hours_waits_for_local_midnight() -> None:
    attempts = [utc(2026, 6, 10, 15)]

    slot = next_call_slot(utc(2026, 6, 10, 16), NEW_YORK, ALWAYS, 1, attempts)

    # 00:00 EDT on 11 June.
    assert slot == utc(2026, 6, 11, 4)


def test_next_call_slot_without_any_allowed_day_raises() -> None:
    with pytest.raises(ValueError, match="no calling slot"):
        next_call_slot(utc(2026, 6, 10, 14), NEW_YORK, DEFAULT_HOURS, max_per_day=0)


# --- retry_delay --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "delay"),
    [
        ("no_answer", timedelta(hours=3)),
        ("busy", timedelta(minutes=20)),
        ("voicemail", timedelta(hours=24)),
    ],
)
def test_retry_delay_follows_the_default_policy(outcome: str, delay: timedelta) -> None:
    assert retry_delay(outcome, Policy()) == delay


def test_retry_delay_follows_a_custom_policy() -> None:
    policy = parse_policy('[call_retry_after]\nno_answer = "2h"\nbusy = "15m"\nvoicemail = "1d"\n')

    assert retry_delay("no_answer", policy) == timedelta(hours=2)
    assert retry_delay("busy", policy) == timedelta(minutes=15)
    assert retry_delay("voicemail", policy) == timedelta(days=1)


@pytest.mark.parametrize("outcome", ["answered", "invalid_number"])
def test_retry_delay_is_none_when_calling_should_stop(outcome: str) -> None:
    assert retry_delay(outcome, Policy()) is None


def test_retry_after_an_evening_no_answer_lands_on_the_next_local_morning() -> None:
    policy = Policy()
    placed = utc(2026, 6, 11, 0)  # 20:00 EDT on 10 June
    delay = retry_delay("no_answer", policy)
    assert delay is not None

    slot = next_call_slot(
        placed + delay,
        NEW_YORK,
        policy.calling_hours,
        policy.max_call_attempts_per_day,
        [placed],
    )

    assert slot == utc(2026, 6, 11, 12)
