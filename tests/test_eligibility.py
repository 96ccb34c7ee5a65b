"""Eligibility, tested to the day. Every date below was computed by hand."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import pytest

from aha.domain.eligibility import (
    MAX_DAYS_BELOW,
    MIN_SCORE,
    WINDOW_MONTHS,
    Decision,
    RatingSummary,
    evaluate,
    phone_problem,
    summarize,
    window_days,
    window_start,
)

US_PHONE = "+14155550123"
CA_PHONE = "+16475550142"
GB_PHONE = "+442079460000"


def daily(
    first: date, last: date, score: int = 800, low: Iterable[date] = (), skip: Iterable[date] = ()
) -> dict[date, int]:
    """One reading per day from ``first`` to ``last`` inclusive; ``low`` days score 249."""
    low_days, skipped = set(low), set(skip)
    readings: dict[date, int] = {}
    day = first
    while day <= last:
        if day not in skipped:
            readings[day] = MIN_SCORE - 1 if day in low_days else score
        day += timedelta(days=1)
    return readings


def days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


def decide(
    readings: dict[date, int],
    as_of: date,
    *,
    account_type: str = "professional",
    phone: str | None = US_PHONE,
    marketplace: str = "US",
) -> Decision:
    return evaluate(account_type, summarize(readings, as_of), phone, marketplace, as_of)


def test_constants() -> None:
    assert (MIN_SCORE, MAX_DAYS_BELOW, WINDOW_MONTHS) == (250, 10, 6)


# --- the window ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "start", "length"),
    [
        # 2026-05-27 + 1 day; May 4 + Jun 30 + Jul 31 + Aug 31 + Sep 30 + Oct 31 + Nov 27
        (date(2026, 11, 27), date(2026, 5, 28), 184),
        # 2026-02-31 clamps to 02-28; Mar 31 + Apr 30 + May 31 + Jun 30 + Jul 31 + Aug 31
        (date(2026, 8, 31), date(2026, 3, 1), 184),
        # leap year: 2024-02-30 clamps to 02-29; Mar..Jul 153 + Aug 30
        (date(2024, 8, 30), date(2024, 3, 1), 183),
        # 2024-02-31 clamps to 02-29
        (date(2024, 8, 31), date(2024, 3, 1), 184),
        # 2024-02-29 exists: the window starts on 03-01; Mar..Jul 153 + Aug 29
        (date(2024, 8, 29), date(2024, 3, 1), 182),
        # 2024-02-28 + 1 day = the leap day itself
        (date(2024, 8, 28), date(2024, 2, 29), 182),
        # non-leap: 2025-02-28 + 1 day
        (date(2025, 8, 28), date(2025, 3, 1), 181),
        # 2025-09-31 clamps to 09-30; Oct 31 + Nov 30 + Dec 31 + Jan 31 + Feb 28 + Mar 31
        (date(2026, 3, 31), date(2025, 10, 1), 182),
        # crossing the leap day: Nov 15 + Dec 31 + Jan 31 + Feb 29 + Mar 31 + Apr 30 + May 15
        (date(2024, 5, 15), date(2023, 11, 16), 182),
        # the same a year later, no leap day: one day fewer
        (date(2025, 5, 15), date(2024, 11, 16), 181),
        # as_of on a leap day: 2023-08-29 + 1 day
        (date(2024, 2, 29), date(2023, 8, 30), 184),
        # crossing new year: 2025-07-15 + 1 day
        (date(2026, 1, 15), date(2025, 7, 16), 184),
        # 6 months before 2026-06-30 is 2025-12-30
        (date(2026, 6, 30), date(2025, 12, 31), 182),
    ],
)
def test_window_start_and_length(as_of: date, start: date, length: int) -> None:
    assert window_start(as_of) == start
    assert window_days(as_of) == length


# --- summarize ----------------------------------------------------------------------------


def test_summarize_counts_only_window_days_at_or_above_250() -> None:
    as_of = date(2026, 11, 27)  # window 2026-05-28 .. 2026-11-27
    readings = {
        date(2026, 1, 10): 900,  # before the window: first reading, not counted
        date(2026, 5, 27): 900,  # the day before the window: not counted
        date(2026, 5, 28): 250,  # first window day, exactly 250: counted
        date(2026, 7, 1): 249,  # below: not counted
        date(2026, 9, 9): 1000,  # counted
        date(2026, 11, 27): 400,  # as_of itself: counted
        date(2026, 11, 28): 900,  # after as_of: ignored
    }
    assert summarize(readings, as_of) == RatingSummary(
        first_reading=date(2026, 1, 10), days_at_or_above=3
    )


def test_summarize_ignores_readings_after_as_of_for_first_reading() -> None:
    as_of = date(2026, 11, 27)
    readings = {date(2026, 11, 28): 900, date(2027, 1, 1): 900}
    assert summarize(readings, as_of) == RatingSummary(first_reading=None, days_at_or_above=0)
    readings[date(2026, 8, 1)] = 100
    assert summarize(readings, as_of) == RatingSummary(
        first_reading=date(2026, 8, 1), days_at_or_above=0
    )


def test_summarize_of_no_readings() -> None:
    assert summarize({}, date(2026, 11, 27)) == RatingSummary(None, 0)


def test_summarize_full_window() -> None:
    as_of = date(2026, 11, 27)
    readings = daily(date(2026, 1, 1), date(2026, 12, 31), low=days(date(2026, 6, 1), 5))
    assert summarize(readings, as_of) == RatingSummary(date(2026, 1, 1), 184 - 5)


# --- days below 250 -----------------------------------------------------------------------


def test_exactly_ten_days_below_is_enrolled() -> None:
    as_of = date(2026, 11, 27)
    readings = daily(date(2026, 5, 28), as_of, low=days(date(2026, 6, 1), 10))
    decision = decide(readings, as_of)
    assert decision == Decision(state="enrolled", eligible=True, meets_rating_rule=True, reasons=())


def test_eleven_days_below_is_not_eligible() -> None:
    as_of = date(2026, 11, 27)
    readings = daily(date(2026, 5, 28), as_of, low=days(date(2026, 6, 1), 11))
    decision = decide(readings, as_of)
    assert decision == Decision(
        state="not_eligible",
        eligible=False,
        meets_rating_rule=False,
        reasons=("11 days below 250 in the last 6 months (max 10)",),
    )


def test_low_days_on_the_window_edges_count() -> None:
    as_of = date(2026, 11, 27)
    low = [date(2026, 5, 28), date(2026, 11, 27), *days(date(2026, 8, 1), 9)]
    readings = daily(date(2026, 5, 28), as_of, low=low)
    assert decide(readings, as_of).reasons == ("11 days below 250 in the last 6 months (max 10)",)
    low.pop()  # 10 left
    assert decide(daily(date(2026, 5, 28), as_of, low=low), as_of).state == "enrolled"


def test_low_days_just_outside_the_window_do_not_count() -> None:
    as_of = date(2026, 11, 27)
    # 20 low days ending 2026-05-27, the day before the window, plus 10 inside
    low = [*days(date(2026, 5, 8), 20), *days(date(2026, 10, 1), 10)]
    readings = daily(date(2026, 1, 1), as_of, low=low)
    assert decide(readings, as_of).state == "enrolled"


def test_missing_days_inside_the_window_count_as_below() -> None:
    as_of = date(2026, 11, 27)
    gap_of_10 = daily(date(2026, 1, 1), as_of, skip=days(date(2026, 7, 1), 10))
    assert decide(gap_of_10, as_of).state == "enrolled"
    gap_of_11 = daily(date(2026, 1, 1), as_of, skip=days(date(2026, 7, 1), 11))
    assert decide(gap_of_11, as_of).reasons == ("11 days below 250 in the last 6 months (max 10)",)
    # 5 missing + 6 low = 11
    mixed = daily(
        date(2026, 1, 1), as_of, low=days(date(2026, 9, 1), 6), skip=days(date(2026, 7, 1), 5)
    )
    decision = decide(mixed, as_of)
    assert decision.state == "not_eligible"
    assert not decision.meets_rating_rule


def test_twelve_days_below_reason_text() -> None:
    as_of = date(2026, 11, 27)
    readings = daily(date(2026, 5, 1), as_of, low=days(date(2026, 10, 20), 12))
    assert decide(readings, as_of).reasons == ("12 days below 250 in the last 6 months (max 10)",)


# --- coverage of the whole window ---------------------------------------------------------


def test_exactly_six_months_of_readings_is_enough() -> None:
    as_of = date(2026, 11, 27)
    assert decide(daily(date(2026, 5, 28), as_of), as_of).state == "enrolled"


def test_one_day_short_of_six_months_is_not_eligible() -> None:
    as_of = date(2026, 11, 27)
    decision = decide(daily(date(2026, 5, 29), as_of), as_of)
    assert decision == Decision(
        state="not_eligible",
        eligible=False,
        meets_rating_rule=False,
        reasons=("ratings cover only 183 of the 184 days since 2026-05-28",),
    )


def test_short_history_also_reports_the_missing_days_as_below() -> None:
    as_of = date(2026, 11, 27)
    # readings since 2026-07-01: 150 days; the 34 missing (May 28-31, June) count as below
    decision = decide(daily(date(2026, 7, 1), as_of), as_of)
    assert decision.reasons == (
        "ratings cover only 150 of the 184 days since 2026-05-28",
        "34 days below 250 in the last 6 months (max 10)",
    )


def test_first_reading_before_the_window_but_gap_at_its_start() -> None:
    as_of = date(2026, 11, 27)
    # first reading long ago; nothing from 2026-05-20 to 2026-06-08 (12 window days missing)
    readings = daily(date(2025, 1, 1), as_of, skip=days(date(2026, 5, 20), 20))
    assert decide(readings, as_of).reasons == ("12 days below 250 in the last 6 months (max 10)",)


def test_no_readings_at_all() -> None:
    as_of = date(2026, 11, 27)
    decision = decide({}, as_of)
    assert decision.state == "not_eligible"
    assert decision.reasons == (
        "no AHR readings on record (need the 184 days since 2026-05-28)",
        "184 days below 250 in the last 6 months (max 10)",
    )


def test_readings_after_as_of_are_ignored() -> None:
    as_of = date(2026, 11, 27)
    readings = daily(date(2026, 5, 28), as_of)
    # low readings after as_of change nothing
    readings.update(daily(date(2026, 11, 28), date(2026, 12, 31), score=0))
    assert decide(readings, as_of).state == "enrolled"
    # a history that starts only after as_of is no history
    future = daily(date(2026, 11, 28), date(2027, 6, 30))
    assert decide(future, as_of).reasons[0] == (
        "no AHR readings on record (need the 184 days since 2026-05-28)"
    )


# --- leap year ----------------------------------------------------------------------------


def test_window_crossing_the_leap_day() -> None:
    as_of = date(2024, 5, 15)  # window 2023-11-16 .. 2024-05-15, 182 days, incl. 2024-02-29
    assert decide(daily(date(2023, 11, 16), as_of), as_of).state == "enrolled"
    assert decide(daily(date(2023, 11, 17), as_of), as_of).reasons == (
        "ratings cover only 181 of the 182 days since 2023-11-16",
    )
    # the leap day is a window day: missing it plus 10 low days is 11 below
    ten_low = days(date(2024, 3, 10), 10)
    readings = daily(date(2023, 11, 16), as_of, low=ten_low, skip=[date(2024, 2, 29)])
    assert decide(readings, as_of).reasons == ("11 days below 250 in the last 6 months (max 10)",)
    readings[date(2024, 2, 29)] = 250
    assert decide(readings, as_of).state == "enrolled"


def test_late_august_2024_window_starts_on_march_first() -> None:
    as_of = date(2024, 8, 30)  # window 2024-03-01 .. 2024-08-30, 183 days
    assert decide(daily(date(2024, 3, 1), as_of), as_of).state == "enrolled"
    assert decide(daily(date(2024, 3, 2), as_of), as_of).reasons == (
        "ratings cover only 182 of the 183 days since 2024-03-01",
    )
    # the leap day is outside this window: a low reading on it does not count
    low = [date(2024, 2, 29), *days(date(2024, 5, 1), 10)]
    assert decide(daily(date(2024, 2, 1), as_of, low=low), as_of).state == "enrolled"


def test_as_of_2024_08_28_window_starts_on_the_leap_day() -> None:
    as_of = date(2024, 8, 28)  # window 2024-02-29 .. 2024-08-28
    assert decide(daily(date(2024, 2, 29), as_of), as_of).state == "enrolled"
    assert decide(daily(date(2024, 3, 1), as_of), as_of).reasons == (
        "ratings cover only 181 of the 182 days since 2024-02-29",
    )


# --- month ends ---------------------------------------------------------------------------


def test_as_of_on_the_31st_after_february() -> None:
    as_of = date(2026, 8, 31)  # 2026-02-31 clamps to 02-28: window 2026-03-01 .. 08-31
    assert decide(daily(date(2026, 3, 1), as_of), as_of).state == "enrolled"
    assert decide(daily(date(2026, 3, 2), as_of), as_of).reasons == (
        "ratings cover only 183 of the 184 days since 2026-03-01",
    )
    low = [date(2026, 2, 28), *days(date(2026, 6, 1), 10)]  # 02-28 is outside
    assert decide(daily(date(2026, 1, 1), as_of, low=low), as_of).state == "enrolled"


def test_as_of_2026_03_31_clamps_september_31st() -> None:
    as_of = date(2026, 3, 31)  # 2025-09-31 clamps to 09-30: window 2025-10-01 .. 2026-03-31
    assert decide(daily(date(2025, 10, 1), as_of), as_of).state == "enrolled"
    assert decide(daily(date(2025, 10, 2), as_of), as_of).reasons == (
        "ratings cover only 181 of the 182 days since 2025-10-01",
    )
    low = [date(2025, 9, 30), *days(date(2026, 1, 1), 10)]  # 09-30 is outside
    assert decide(daily(date(2025, 9, 1), as_of, low=low), as_of).state == "enrolled"
    low.append(date(2025, 10, 1))  # the window's first day is inside
    assert decide(daily(date(2025, 9, 1), as_of, low=low), as_of).reasons == (
        "11 days below 250 in the last 6 months (max 10)",
    )


# --- account type -------------------------------------------------------------------------


def test_individual_account_is_not_eligible() -> None:
    as_of = date(2026, 11, 27)
    decision = decide(daily(date(2026, 1, 1), as_of), as_of, account_type="individual")
    assert decision == Decision(
        state="not_eligible",
        eligible=False,
        meets_rating_rule=True,
        reasons=("individual selling account (professional only)",),
    )


def test_individual_without_phone_and_failing_ratings_lists_every_reason() -> None:
    as_of = date(2026, 11, 27)
    readings = daily(date(2026, 7, 1), as_of)
    decision = decide(readings, as_of, account_type="individual", phone=None)
    assert decision == Decision(
        state="not_eligible",
        eligible=False,
        meets_rating_rule=False,
        reasons=(
            "individual selling account (professional only)",
            "ratings cover only 150 of the 184 days since 2026-05-28",
            "34 days below 250 in the last 6 months (max 10)",
            "no emergency phone on file",
        ),
    )


# --- phone --------------------------------------------------------------------------------


@pytest.mark.parametrize("phone", [None, "", "   "])
def test_missing_phone_is_eligible_missing_phone(phone: str | None) -> None:
    as_of = date(2026, 11, 27)
    decision = decide(daily(date(2026, 5, 28), as_of), as_of, phone=phone)
    assert decision == Decision(
        state="eligible_missing_phone",
        eligible=False,
        meets_rating_rule=True,
        reasons=("no emergency phone on file",),
    )


@pytest.mark.parametrize(
    ("phone", "marketplace", "reason"),
    [
        # a valid UK number, but not for the US marketplace
        (GB_PHONE, "US", "emergency phone +442079460000 is not a valid US number"),
        # too short to be any number
        ("+1555", "US", "emergency phone +1555 is not a valid US number"),
        ("12345", "US", "emergency phone 12345 is not a valid US number"),
        # a valid US number is not a Canadian one, though both are +1
        (US_PHONE, "CA", "emergency phone +14155550123 is not a valid CA number"),
        ("not a phone", "US", "emergency phone not a phone is not a valid US number"),
    ],
)
def test_invalid_phone_is_eligible_missing_phone(phone: str, marketplace: str, reason: str) -> None:
    as_of = date(2026, 11, 27)
    decision = decide(daily(date(2026, 5, 28), as_of), as_of, phone=phone, marketplace=marketplace)
    assert decision == Decision(
        state="eligible_missing_phone", eligible=False, meets_rating_rule=True, reasons=(reason,)
    )


@pytest.mark.parametrize(
    ("phone", "marketplace"),
    [
        (US_PHONE, "US"),
        (US_PHONE, "us"),
        ("(415) 555-0123", "US"),  # national format, parsed with the marketplace region
        (CA_PHONE, "CA"),
        (GB_PHONE, "GB"),
        (GB_PHONE, "uk"),
    ],
)
def test_valid_phone_for_marketplace(phone: str, marketplace: str) -> None:
    assert phone_problem(phone, marketplace) is None


def test_failing_ratings_and_missing_phone_is_not_eligible_with_both_reasons() -> None:
    as_of = date(2026, 11, 27)
    readings = daily(date(2026, 5, 28), as_of, low=days(date(2026, 6, 1), 11))
    decision = decide(readings, as_of, phone="+1555")
    assert decision == Decision(
        state="not_eligible",
        eligible=False,
        meets_rating_rule=False,
        reasons=(
            "11 days below 250 in the last 6 months (max 10)",
            "emergency phone +1555 is not a valid US number",
        ),
    )
