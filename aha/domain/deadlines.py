"""Deadline arithmetic for issues and cases: absolute UTC instants, never local times."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

from aha.domain.policy import Policy


def issue_deadline(detected_at: datetime, policy: Policy) -> datetime:
    return detected_at + policy.deadline


def case_deadline(open_issue_deadlines: Iterable[datetime]) -> datetime | None:
    """The earliest deadline among the unresolved issues: the one that deactivates first."""
    return min(open_issue_deadlines, default=None)


def reminder_key(issue_id: str, before: timedelta) -> str:
    return f"reminder/{issue_id}/{int(before.total_seconds())}s"


def reminder_times(
    issue_id: str, deadline: datetime, opened_at: datetime, policy: Policy
) -> dict[str, datetime]:
    """Reminder instants for one issue, keyed for idempotent sending.

    Reminders whose moment had already passed when the issue joined the case are dropped:
    an issue reported late should get one clear email, not a burst of overdue reminders.
    """
    times = {}
    for before in policy.reminders_before_deadline:
        moment = deadline - before
        if moment > opened_at:
            times[reminder_key(issue_id, before)] = moment
    return times


def due_reminders(schedule: dict[str, datetime], now: datetime, sent: Collection[str]) -> list[str]:
    return sorted(key for key, moment in schedule.items() if moment <= now and key not in sent)


def next_reminder(schedule: dict[str, datetime], sent: Collection[str]) -> datetime | None:
    return min((m for key, m in schedule.items() if key not in sent), default=None)
