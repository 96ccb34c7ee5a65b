"""When the team may call a seller: local calling hours, retry spacing and the daily cap.

Pure functions of their arguments, so the case workflow can use them deterministically.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from aha.domain.policy import CallingHours, Policy

# A seller whose every day is full or outside the window would otherwise loop forever.
_SEARCH_DAYS = 400


def local_day(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


def calling_window(day: date, timezone: str, hours: CallingHours) -> tuple[datetime, datetime]:
    """The UTC start and end of the seller-local calling window on `day`.

    Local wall-clock times are converted per day, so a DST change moves the window in UTC
    and keeps it fixed in the seller's local time.
    """
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, hours.start_time, tzinfo=zone)
    end_day = day + timedelta(days=hours.end_minutes // (24 * 60))
    end_minutes = hours.end_minutes % (24 * 60)
    end = datetime.combine(
        end_day,
        datetime.min.time().replace(hour=end_minutes // 60, minute=end_minutes % 60),
        tzinfo=zone,
    )
    return start.astimezone(UTC), end.astimezone(UTC)


def is_callable(moment: datetime, timezone: str, hours: CallingHours) -> bool:
    start, end = calling_window(local_day(moment, timezone), timezone, hours)
    return start <= moment < end


def next_call_slot(
    not_before: datetime,
    timezone: str,
    hours: CallingHours,
    max_per_day: int,
    earlier_attempts: Sequence[datetime] = (),
) -> datetime:
    """The earliest moment at or after `not_before` when a proactive call may be placed.

    It must fall inside the seller-local calling window, on a local day that has had fewer
    than `max_per_day` proactive attempts (`earlier_attempts` are their placing times).
    """
    per_day: dict[date, int] = {}
    for placed in earlier_attempts:
        day = local_day(placed, timezone)
        per_day[day] = per_day.get(day, 0) + 1
    day = local_day(not_before, timezone)
    for _ in range(_SEARCH_DAYS):
        if per_day.get(day, 0) < max_per_day:
            start, end = calling_window(day, timezone, hours)
            candidate = max(not_before, start)
            if candidate < end:
                return candidate
        day += timedelta(days=1)
    raise ValueError("no calling slot within a year: check calling hours and the daily cap")


def retry_delay(outcome: str, policy: Policy) -> timedelta | None:
    """How long after an unsuccessful attempt to try again; None when calling should stop."""
    delays = {
        "no_answer": policy.call_retry_after.no_answer,
        "busy": policy.call_retry_after.busy,
        "voicemail": policy.call_retry_after.voicemail,
    }
    return delays.get(outcome)
