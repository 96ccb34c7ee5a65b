"""When a proactive call may go out under a marketplace's calling calendar.

A marketplace with a `[calling_calendar.<MARKETPLACE>]` calls in that calendar's windows for
the seller-local weekday, never on its holidays; any other marketplace calls in
`[calling_hours]` every day. Pure functions of their arguments, for the case workflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aha.domain.calling import local_day
from aha.domain.policy import WEEKDAYS, CallingCalendar, Policy
from aha.domain.sla import Windows, calendar_windows, calling_windows, spans

# Holidays and the daily cap could otherwise leave a search with no end.
_SEARCH_DAYS = 400


def calling_days(policy: Policy, marketplace: str) -> Windows:
    """The seller-local windows of each day for a seller in `marketplace`."""
    calendar = policy.calendar_for(marketplace)
    if calendar is None:
        return calling_windows(policy.calling_hours)
    return calendar_windows(calendar)


def windows_on(day: date, timezone: str, days: Windows) -> list[tuple[datetime, datetime]]:
    """The UTC start and end of each calling window on the seller-local `day`."""
    return list(spans(day, ZoneInfo(timezone), days))


def is_callable(moment: datetime, timezone: str, days: Windows) -> bool:
    day = local_day(moment, timezone)
    return any(start <= moment < end for start, end in windows_on(day, timezone, days))


def next_call_slot(
    not_before: datetime,
    timezone: str,
    days: Windows,
    max_per_day: int,
    earlier_attempts: Sequence[datetime] = (),
) -> datetime:
    """The earliest moment at or after `not_before` inside a calling window, on a seller-local
    day that has had fewer than `max_per_day` proactive attempts (placed at `earlier_attempts`).
    """
    per_day: dict[date, int] = {}
    for placed in earlier_attempts:
        placed_day = local_day(placed, timezone)
        per_day[placed_day] = per_day.get(placed_day, 0) + 1
    day = local_day(not_before, timezone)
    for _ in range(_SEARCH_DAYS):
        if per_day.get(day, 0) < max_per_day:
            for start, end in windows_on(day, timezone, days):
                candidate = max(not_before, start)
                if candidate < end:
                    return candidate
        day += timedelta(days=1)
    raise ValueError("no calling slot within a year: check the calling calendar and daily cap")


def summary(calendar: CallingCalendar) -> str:
    """The calendar in a line: "Mon-Fri 09:00-21:30; Sat-Sun 10:00-18:00; no calls on 2
    holidays". Days in a row with the same windows share a range; days without calls are left
    out, as the calendar leaves them out."""
    groups: list[tuple[list[str], tuple[str, ...]]] = []
    for day in WEEKDAYS:
        windows = getattr(calendar, day)
        if groups and groups[-1][1] == windows and groups[-1][0][-1] == _previous(day):
            groups[-1][0].append(day)
        else:
            groups.append(([day], windows))
    parts = [f"{_day_range(days)} {', '.join(windows)}" for days, windows in groups if windows]
    if calendar.holidays:
        count = len(calendar.holidays)
        parts.append(f"no calls on {count} holiday{'s' if count != 1 else ''}")
    return "; ".join(parts)


def _previous(day: str) -> str:
    return WEEKDAYS[WEEKDAYS.index(day) - 1]


def _day_range(days: list[str]) -> str:
    first, last = days[0].capitalize(), days[-1].capitalize()
    return first if len(days) == 1 else f"{first}-{last}"
