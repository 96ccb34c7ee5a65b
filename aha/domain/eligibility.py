"""Eligibility for Account Health Assurance: a pure function of the rating history.

A seller is eligible (and enrolled) on ``as_of`` when all of these hold:

* the selling account is ``professional`` (individual accounts are never protected);
* its AHR readings cover the whole trailing window of 6 calendar months (see
  :func:`window_start`), i.e. the earliest reading is on or before the window's first day;
* on at most ``MAX_DAYS_BELOW`` (10) days of that window the AHR was below ``MIN_SCORE`` (250).
  **A day with no reading inside the window counts as a day below 250**;
* a valid emergency phone for the seller's marketplace is on file (checked with
  ``phonenumbers``, not a regex).

A professional seller that meets the rating rule but has no valid emergency phone is
``eligible_missing_phone``; everyone else is ``not_eligible``. Nothing here does I/O.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import phonenumbers

from aha.domain.vocabulary import EnrollmentState

MIN_SCORE = 250
MAX_DAYS_BELOW = 10
WINDOW_MONTHS = 6


# Marketplace codes that are not ISO 3166 region codes understood by phonenumbers.
_REGION_ALIASES = {"UK": "GB"}


def _months_earlier(day: date, months: int) -> date:
    """The same calendar day ``months`` earlier, clamped to the end of a shorter month."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def window_start(as_of: date) -> date:
    """First day of the trailing ``WINDOW_MONTHS``-calendar-month window ending on ``as_of``.

    The window is ``[window_start(as_of), as_of]``, both days inclusive. Its first day is the
    day *after* the same calendar day ``WINDOW_MONTHS`` months earlier, where a day that does
    not exist in that month is clamped to the month's last day. Examples:

    * 2026-11-27 -> 2026-05-28 (6 months earlier is 2026-05-27);
    * 2026-08-31 -> 2026-03-01 (2026-02-31 clamps to 2026-02-28);
    * 2024-08-30 -> 2024-03-01 (2024-02-30 clamps to 2024-02-29, a leap year);
    * 2026-03-31 -> 2025-10-01 (2025-09-31 clamps to 2025-09-30).
    """
    return _months_earlier(as_of, WINDOW_MONTHS) + timedelta(days=1)


def window_days(as_of: date) -> int:
    """Number of days in the window ending on ``as_of`` (both ends inclusive)."""
    return (as_of - window_start(as_of)).days + 1


@dataclass(frozen=True)
class RatingSummary:
    """What eligibility needs from a seller's AHR history, as of one day."""

    first_reading: date | None
    """Earliest reading the seller has on or before ``as_of`` (any date), None if none."""
    days_at_or_above: int
    """Days inside ``[window_start(as_of), as_of]`` with a reading of ``MIN_SCORE`` or more."""


def summarize(readings: Mapping[date, int], as_of: date) -> RatingSummary:
    """Summarise daily readings (date -> score) as of ``as_of``.

    Readings dated after ``as_of`` are ignored entirely, including for ``first_reading``.
    """
    start = window_start(as_of)
    first: date | None = None
    at_or_above = 0
    for day, score in readings.items():
        if day > as_of:
            continue
        if first is None or day < first:
            first = day
        if day >= start and score >= MIN_SCORE:
            at_or_above += 1
    return RatingSummary(first_reading=first, days_at_or_above=at_or_above)


def phone_problem(phone: str | None, marketplace: str) -> str | None:
    """None when ``phone`` is a valid emergency number for ``marketplace``, else the reason.

    The marketplace code, upper-cased, is the phonenumbers region ("US", "CA", "GB"; "UK" is
    accepted as "GB"). The number must parse and be valid *for that region*: a valid UK
    number is not a valid emergency phone for the US marketplace.
    """
    if phone is None or not phone.strip():
        return "no emergency phone on file"
    region = marketplace.strip().upper()
    region = _REGION_ALIASES.get(region, region)
    invalid = f"emergency phone {phone.strip()} is not a valid {region} number"
    try:
        parsed = phonenumbers.parse(phone.strip(), region)
    except phonenumbers.NumberParseException:
        return invalid
    if not phonenumbers.is_valid_number_for_region(parsed, region):
        return invalid
    return None


@dataclass(frozen=True)
class Decision:
    """The outcome of :func:`evaluate`."""

    state: EnrollmentState
    eligible: bool
    """True only when ``state`` is ``enrolled``."""
    meets_rating_rule: bool
    """Readings cover the whole window and at most ``MAX_DAYS_BELOW`` days were below."""
    reasons: tuple[str, ...]
    """Why the seller is not enrolled, human-readable; empty when enrolled."""


def _rating_reasons(summary: RatingSummary, as_of: date) -> list[str]:
    start = window_start(as_of)
    total = window_days(as_of)
    reasons: list[str] = []
    if summary.first_reading is None:
        reasons.append(f"no AHR readings on record (need the {total} days since {start})")
    elif summary.first_reading > start:
        covered = (as_of - summary.first_reading).days + 1
        reasons.append(f"ratings cover only {covered} of the {total} days since {start}")
    below = total - summary.days_at_or_above
    if below > MAX_DAYS_BELOW:
        reasons.append(
            f"{below} days below {MIN_SCORE} in the last {WINDOW_MONTHS} months "
            f"(max {MAX_DAYS_BELOW})"
        )
    return reasons


def _account_reason(account_type: str) -> str | None:
    if account_type == "professional":
        return None
    return f"{account_type or 'unknown'} selling account (professional only)"


def evaluate(
    account_type: str,
    summary: RatingSummary,
    phone: str | None,
    marketplace: str,
    as_of: date,
) -> Decision:
    """Decide the enrolment state of one seller on ``as_of``.

    ``enrolled`` when every rule holds; ``eligible_missing_phone`` when the account is
    professional and meets the rating rule but has no valid emergency phone; otherwise
    ``not_eligible``. The reasons list every failing rule (account type, rating, phone).
    """
    account = _account_reason(account_type)
    rating = _rating_reasons(summary, as_of)
    phone_reason = phone_problem(phone, marketplace)
    meets_rating_rule = not rating

    reasons = [r for r in (account, *rating, phone_reason) if r is not None]
    state: EnrollmentState
    if not reasons:
        state = EnrollmentState.ENROLLED
    elif account is None and meets_rating_rule:
        state = EnrollmentState.ELIGIBLE_MISSING_PHONE
    else:
        state = EnrollmentState.NOT_ELIGIBLE
    return Decision(
        state=state,
        eligible=state == EnrollmentState.ENROLLED,
        meets_rating_rule=meets_rating_rule,
        reasons=tuple(reasons),
    )
