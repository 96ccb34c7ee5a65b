"""Internal service targets: when each clock warns and breaches, and what a case's SLA state is.

Time counts in working windows: the seller's calling hours or calling calendar for the first
attempt, the specialists' hours for a plan review. Windows are local wall-clock times,
converted per day, so a DST change moves them in UTC and keeps them fixed locally.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from aha.domain.policy import CallingCalendar, CallingHours, SpecialistHours
from aha.domain.vocabulary import ClockState, SlaState, SlaTarget

# Windows of (start, end) minutes from local midnight, for a seller- or team-local day.
Windows = Callable[[date], list[tuple[int, int]]]
_SEARCH_DAYS = 400


class SlaClock(BaseModel):
    """One target's clock in one case: started by an event, met by another."""

    model_config = ConfigDict(extra="forbid")
    target: SlaTarget
    started_at: datetime
    warn_at: datetime
    due_at: datetime
    state: ClockState = ClockState.RUNNING
    met_at: datetime | None = None


TARGET_TEXT = {
    SlaTarget.FIRST_ATTEMPT: "first call attempt",
    SlaTarget.REACHED: "seller reached",
    SlaTarget.PLAN_REVIEW: "plan reviewed",
}


def calling_windows(hours: CallingHours) -> Windows:
    span = [(hours.start_minutes, hours.end_minutes)]
    return lambda _day: span


def calendar_windows(calendar: CallingCalendar) -> Windows:
    return calendar.windows_on


def specialist_windows(hours: SpecialistHours) -> Windows:
    return lambda day: hours.windows(day.weekday())


def add_working_time(
    start: datetime, amount: timedelta, timezone: str, windows: Windows
) -> datetime:
    """The moment `amount` of working time after `start`, counting only inside `windows`."""
    zone = ZoneInfo(timezone)
    left = amount
    day = start.astimezone(zone).date()
    for _ in range(_SEARCH_DAYS):
        for opens, closes in spans(day, zone, windows):
            begin = max(opens, start)
            if begin >= closes:
                continue
            available = closes - begin
            if left <= available:
                return begin + left
            left -= available
        day += timedelta(days=1)
    raise ValueError("no working hours within a year: check the windows")


def spans(day: date, zone: ZoneInfo, windows: Windows) -> Iterable[tuple[datetime, datetime]]:
    """The local day's windows as UTC instants, earliest first."""
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=zone)
    for start_minutes, end_minutes in sorted(windows(day)):
        yield _local(midnight, start_minutes, zone), _local(midnight, end_minutes, zone)


def _local(midnight: datetime, minutes: int, zone: ZoneInfo) -> datetime:
    # Wall-clock arithmetic, then to UTC: a window "09:00-17:00" is 09:00 local on any day.
    wall = (midnight.replace(tzinfo=None) + timedelta(minutes=minutes)).replace(tzinfo=zone)
    return wall.astimezone(UTC)


def working_clock(
    target: SlaTarget,
    start: datetime,
    within: timedelta,
    warn_share: float,
    timezone: str,
    windows: Windows,
) -> SlaClock:
    return SlaClock(
        target=target,
        started_at=start,
        warn_at=add_working_time(start, within * warn_share, timezone, windows),
        due_at=add_working_time(start, within, timezone, windows),
    )


def deadline_clock(
    target: SlaTarget, start: datetime, due: datetime, warn_share: float
) -> SlaClock:
    """A clock due at a fixed moment (before the deadline): warned at its share of the span."""
    due = max(due, start)
    return SlaClock(
        target=target, started_at=start, warn_at=start + (due - start) * warn_share, due_at=due
    )


def case_sla_state(clocks: Iterable[SlaClock]) -> SlaState:
    """Breached once any clock breached; warning while a clock is warned and not yet met."""
    states = {clock.state for clock in clocks}
    if ClockState.BREACHED in states:
        return SlaState.BREACHED
    if ClockState.WARNING in states:
        return SlaState.WARNING
    return SlaState.OK


def next_point(clocks: Iterable[SlaClock]) -> datetime | None:
    """When a running clock next warns or breaches."""
    points = []
    for clock in clocks:
        if clock.state == ClockState.RUNNING:
            points.append(clock.warn_at)
        if clock.state in (ClockState.RUNNING, ClockState.WARNING):
            points.append(clock.due_at)
    return min(points, default=None)
