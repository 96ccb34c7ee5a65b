"""Deadline arithmetic for issues and cases: absolute UTC instants, never local times."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

from aha.domain.policy import Policy, format_duration


def issue_deadline(detected_at: datetime, policy: Policy) -> datetime:
    return detected_at + policy.deadline


def case_deadline(open_issue_deadlines: Iterable[datetime]) -> datetime | None:
    """The earliest deadline among the unresolved issues: the one that deactivates first."""
    return min(open_issue_deadlines, default=None)


def reminder_key(issue_id: str, before: timedelta, tag: str = "") -> str:
    """`tag` names a moved deadline (an extension, a resolution window), so the reminders of a
    new deadline never share a key, and an idempotency key, with the old deadline's."""
    middle = f"{tag}/" if tag else ""
    return f"reminder/{issue_id}/{middle}{int(before.total_seconds())}s"


def reminder_times(
    issue_id: str, deadline: datetime, opened_at: datetime, policy: Policy, tag: str = ""
) -> dict[str, datetime]:
    """Reminder instants for one issue, keyed for idempotent sending.

    Reminders whose moment had already passed when the issue joined the case are dropped:
    an issue reported late should get one clear email, not a burst of overdue reminders.
    """
    times = {}
    for before in policy.reminders_before_deadline:
        moment = deadline - before
        if moment > opened_at:
            times[reminder_key(issue_id, before, tag)] = moment
    return times


def due_reminders(schedule: dict[str, datetime], now: datetime, sent: Collection[str]) -> list[str]:
    return sorted(key for key, moment in schedule.items() if moment <= now and key not in sent)


def next_reminder(schedule: dict[str, datetime], sent: Collection[str]) -> datetime | None:
    return min((m for key, m in schedule.items() if key not in sent), default=None)


def extension_problem(
    current: datetime, original: datetime, until: datetime, most: timedelta
) -> str | None:
    """Why moving a deadline from `current` to `until` is refused, if it is: `until` must be
    later, and no more than `most` past the `original` deadline in total."""
    if until <= current:
        return f"until must be after the current deadline ({current:%Y-%m-%d %H:%M} UTC)"
    if until - original <= most:
        return None
    if most <= timedelta(0):
        return "the policy allows no deadline extension (max_extension is 0)"
    left = max(most - (current - original), timedelta(0))
    return (
        f"until is {format_duration(until - original)} past the original deadline "
        f"({original:%Y-%m-%d %H:%M} UTC); the policy allows {format_duration(most)} in total, "
        f"{format_duration(left)} left (until {original + most:%Y-%m-%d %H:%M} UTC at the latest)"
    )
