"""A seller's preferred contact windows, and when a proactive call goes out with them.

The windows are the seller's wall-clock hours per weekday ("mon" = ["09:00-12:00"]), in the
same form as a calling calendar. A proactive call waits for calendar ∩ preferred windows, but
only until `preferred_windows_until` before the earliest open deadline: from then on the
calendar alone decides, so a preference never puts the deadline at risk. Windows that never
meet the calendar are ignored. Pure functions of their arguments, for the case.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from pydantic import ValidationError, field_validator

from aha.domain import calendar
from aha.domain.calling import local_day
from aha.domain.policy import WEEKDAYS, WeeklyWindows, checked_windows, window_spans
from aha.domain.sla import Windows

# A week with a holiday or two still shows whether the windows ever meet the calendar.
_MEETING_DAYS = 28
MAX_PER_DAY = 6


def _bounded(value: Any) -> Any:
    checked = checked_windows(value)
    if not isinstance(checked, tuple):
        return checked
    if len(checked) > MAX_PER_DAY:
        raise ValueError(f"at most {MAX_PER_DAY} windows a day")
    # Checked per day (not across the model) so that the refusal names its weekday.
    for (_, ends), (starts, _) in pairwise(sorted(window_spans(checked))):
        if starts < ends:
            raise ValueError("preferred windows overlap; give each hour once")
    return checked


class PreferredWindows(WeeklyWindows):
    """When the seller prefers proactive calls, in the seller's local time; a weekday left
    empty has no preference of its own (calls then wait for a day that has one)."""

    # Replaces the calendar's check: bounded, and overlaps refused naming the weekday.
    _check = field_validator(*WEEKDAYS, mode="before")(_bounded)

    @property
    def empty(self) -> bool:
        return not any(getattr(self, day) for day in WEEKDAYS)

    def summary(self) -> str:
        """ "mon 09:00-12:00; sat 10:00-12:00, 14:00-16:00", or "none"."""
        parts = [f"{day} {', '.join(getattr(self, day))}" for day in WEEKDAYS if getattr(self, day)]
        return "; ".join(parts) or "none"


def parse_assignments(items: Sequence[str]) -> PreferredWindows:
    """`["mon=09:00-12:00", "mon=14:00-16:00", "sat=10:00-12:00,15:00-17:00"]` as windows
    (a day named twice gets both); ValueError naming the item that is wrong."""
    days: dict[str, list[str]] = {}
    for item in items:
        day, sep, windows = item.partition("=")
        day = day.strip().lower()
        if not sep or day not in WEEKDAYS:
            raise ValueError(
                f"{item!r} is not DAY=HH:MM-HH:MM with DAY one of {', '.join(WEEKDAYS)}"
            )
        days.setdefault(day, []).extend(w for w in windows.split(",") if w.strip())
    try:
        return PreferredWindows.model_validate(days)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            where = ".".join(str(part) for part in error["loc"][:1])
            reason = error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {reason}" if where else reason)
        raise ValueError("; ".join(problems)) from None


def combined(days: Windows, preferred: PreferredWindows) -> Windows:
    """The calendar's windows cut down to the preferred ones, day by day."""

    def windows_on(day: date) -> list[tuple[int, int]]:
        spans = []
        for opens, closes in days(day):
            for starts, ends in preferred.windows_on(day):
                start, end = max(opens, starts), min(closes, ends)
                if start < end:
                    spans.append((start, end))
        return sorted(spans)

    return windows_on


def meets_calendar(days: Windows, preferred: PreferredWindows, from_day: date) -> bool:
    """Whether the windows share any time with the calendar in the weeks from `from_day`."""
    both = combined(days, preferred)
    return any(both(from_day + timedelta(days=n)) for n in range(_MEETING_DAYS))


def prefer_until(deadline: datetime | None, margin: timedelta) -> datetime | None:
    """From when the calendar alone decides: `margin` before the earliest open deadline."""
    return None if deadline is None else deadline - margin


def next_call_slot(
    not_before: datetime,
    timezone: str,
    days: Windows,
    preferred: PreferredWindows | None,
    until: datetime | None,
    max_per_day: int,
    earlier_attempts: Sequence[datetime] = (),
) -> datetime:
    """The next proactive call: the first moment in calendar ∩ preferred windows, unless the
    calendar alone offers an earlier one from `until` on (near the deadline). Without windows,
    or with windows that never meet the calendar, the calendar's own next slot."""
    plain = calendar.next_call_slot(not_before, timezone, days, max_per_day, earlier_attempts)
    if preferred is None or preferred.empty:
        return plain
    if not meets_calendar(days, preferred, local_day(not_before, timezone)):
        return plain
    # Past the point where waiting would put the deadline at risk: no preference any more.
    if until is not None and not_before >= until:
        return plain
    liked = calendar.next_call_slot(
        not_before, timezone, combined(days, preferred), max_per_day, earlier_attempts
    )
    if until is None:
        return liked
    at_risk = calendar.next_call_slot(until, timezone, days, max_per_day, earlier_attempts)
    return min(liked, at_risk)
