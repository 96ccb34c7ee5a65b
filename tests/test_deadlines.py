"""Deadline and reminder arithmetic: absolute UTC instants, shown to the seller in local time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from aha.domain.case_text import deadline_text
from aha.domain.deadlines import (
    case_deadline,
    due_reminders,
    issue_deadline,
    next_reminder,
    reminder_key,
    reminder_times,
)
from aha.domain.policy import Policy, parse_policy

DAY_BEFORE = "reminder/I-1/86400s"
FOUR_HOURS_BEFORE = "reminder/I-1/14400s"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- issue_deadline / case_deadline -------------------------------------------------------


def test_issue_deadline_is_72_hours_after_detection() -> None:
    assert issue_deadline(utc(2026, 6, 10, 14, 25), Policy()) == utc(2026, 6, 13, 14, 25)


def test_issue_deadline_counts_from_detection_in_another_zone() -> None:
    detected = datetime(2026, 6, 10, 9, 0, tzinfo=ZoneInfo("America/New_York"))  # 13:00Z

    assert issue_deadline(detected, Policy()) == utc(2026, 6, 13, 13, 0)


def test_issue_deadline_is_72_real_hours_across_a_dst_change() -> None:
    # Detected 10:00 EST on Friday 6 March; the clocks go forward on Sunday 8 March, so the
    # deadline is 11:00 EDT local, still exactly 72 elapsed hours.
    deadline = issue_deadline(utc(2026, 3, 6, 15), Policy())

    assert deadline == utc(2026, 3, 9, 15)
    assert deadline.astimezone(ZoneInfo("America/New_York")).hour == 11


def test_issue_deadline_follows_the_policy() -> None:
    policy = parse_policy('deadline = "48h"\n')

    assert issue_deadline(utc(2026, 6, 10, 14), policy) == utc(2026, 6, 12, 14)


def test_case_deadline_is_the_earliest_open_issue_deadline() -> None:
    deadlines = [utc(2026, 6, 13, 14), utc(2026, 6, 12, 9, 30), utc(2026, 6, 14)]

    assert case_deadline(deadlines) == utc(2026, 6, 12, 9, 30)


def test_case_deadline_accepts_a_generator() -> None:
    assert case_deadline(d for d in [utc(2026, 6, 13), utc(2026, 6, 12)]) == utc(2026, 6, 12)


def test_case_deadline_is_none_without_open_issues() -> None:
    assert case_deadline([]) is None
    assert case_deadline(iter(())) is None


def test_case_deadline_compares_instants_not_wall_clocks() -> None:
    # 10:00 in Kolkata (04:30Z) comes before 06:00 in New York (10:00Z).
    kolkata = datetime(2026, 6, 12, 10, 0, tzinfo=ZoneInfo("Asia/Kolkata"))
    new_york = datetime(2026, 6, 12, 6, 0, tzinfo=ZoneInfo("America/New_York"))

    assert case_deadline([new_york, kolkata]) == utc(2026, 6, 12, 4, 30)


# --- reminder_times -----------------------------------------------------------------------


def test_reminder_key_names_the_issue_and_the_offset_in_seconds() -> None:
    assert reminder_key("I-1", timedelta(hours=24)) == DAY_BEFORE
    assert reminder_key("I-7", timedelta(minutes=90)) == "reminder/I-7/5400s"


def test_reminder_times_are_the_deadline_minus_each_offset() -> None:
    deadline = utc(2026, 6, 13, 14)

    times = reminder_times("I-1", deadline, utc(2026, 6, 10, 14, 5), Policy())

    assert times == {
        DAY_BEFORE: utc(2026, 6, 12, 14),
        FOUR_HOURS_BEFORE: utc(2026, 6, 13, 10),
    }


def test_reminder_times_follow_the_policy_offsets() -> None:
    policy = parse_policy('reminders_before_deadline = ["48h", "90m"]\n')

    times = reminder_times("I-2", utc(2026, 6, 13, 14), utc(2026, 6, 10, 14), policy)

    assert times == {
        "reminder/I-2/172800s": utc(2026, 6, 11, 14),
        "reminder/I-2/5400s": utc(2026, 6, 13, 12, 30),
    }


def test_reminder_times_without_reminders_in_the_policy_are_empty() -> None:
    policy = parse_policy("reminders_before_deadline = []\n")

    assert reminder_times("I-1", utc(2026, 6, 13, 14), utc(2026, 6, 10, 14), policy) == {}


def test_reminders_already_past_when_the_issue_opened_are_dropped() -> None:
    # Detected three days ago and only reported now, 20 hours before its deadline: the
    # 24-hour reminder is already past, the 4-hour one is still ahead.
    deadline = utc(2026, 6, 13, 14)

    times = reminder_times("I-1", deadline, utc(2026, 6, 12, 18), Policy())

    assert times == {FOUR_HOURS_BEFORE: utc(2026, 6, 13, 10)}


def test_no_reminders_when_the_issue_opens_after_the_last_one() -> None:
    deadline = utc(2026, 6, 13, 14)

    assert reminder_times("I-1", deadline, utc(2026, 6, 13, 11), Policy()) == {}


@pytest.mark.parametrize(
    ("opened_at", "kept"),
    [
        (utc(2026, 6, 12, 13, 59, 59), True),
        (utc(2026, 6, 12, 14, 0, 1), False),
    ],
)
def test_reminder_is_kept_only_if_still_ahead_when_the_issue_opened(
    opened_at: datetime, kept: bool
) -> None:
    times = reminder_times("I-1", utc(2026, 6, 13, 14), opened_at, Policy())

    assert (DAY_BEFORE in times) is kept
    assert FOUR_HOURS_BEFORE in times


def test_reminder_keys_are_distinct_per_issue() -> None:
    deadline = utc(2026, 6, 13, 14)
    opened = utc(2026, 6, 10, 14)

    first = reminder_times("I-1", deadline, opened, Policy())
    second = reminder_times("I-2", deadline, opened, Policy())

    assert set(first).isdisjoint(second)
    assert sorted(first.values()) == sorted(second.values())


# --- due_reminders / next_reminder --------------------------------------------------------

SCHEDULE = {
    "reminder/I-1/86400s": utc(2026, 6, 12, 14),
    "reminder/I-1/14400s": utc(2026, 6, 13, 10),
    "reminder/I-2/86400s": utc(2026, 6, 12, 20),
    "reminder/I-2/14400s": utc(2026, 6, 13, 16),
}


def test_no_reminders_are_due_before_the_first_moment() -> None:
    assert due_reminders(SCHEDULE, utc(2026, 6, 12, 13, 59), sent=set()) == []


def test_a_reminder_is_due_at_its_moment() -> None:
    assert due_reminders(SCHEDULE, utc(2026, 6, 12, 14), sent=set()) == ["reminder/I-1/86400s"]


def test_all_passed_unsent_reminders_are_due() -> None:
    due = due_reminders(SCHEDULE, utc(2026, 6, 13, 11), sent=set())

    assert set(due) == {
        "reminder/I-1/86400s",
        "reminder/I-1/14400s",
        "reminder/I-2/86400s",
    }


def test_sent_reminders_are_not_due_again() -> None:
    sent = {"reminder/I-1/86400s", "reminder/I-2/86400s"}

    assert due_reminders(SCHEDULE, utc(2026, 6, 13, 11), sent) == ["reminder/I-1/14400s"]


def test_due_reminders_come_in_the_same_order_whatever_the_schedule_order() -> None:
    # The workflow replays this, so the order must not depend on dict insertion order.
    now = utc(2026, 6, 14)
    reversed_schedule = dict(reversed(list(SCHEDULE.items())))

    assert due_reminders(SCHEDULE, now, set()) == due_reminders(reversed_schedule, now, set())
    assert len(due_reminders(SCHEDULE, now, set())) == 4


def test_next_reminder_is_the_earliest_unsent_moment() -> None:
    assert next_reminder(SCHEDULE, sent=set()) == utc(2026, 6, 12, 14)
    assert next_reminder(SCHEDULE, sent={"reminder/I-1/86400s"}) == utc(2026, 6, 12, 20)


def test_next_reminder_includes_an_overdue_unsent_reminder() -> None:
    # An unsent reminder in the past is still "next", so the workflow wakes at once for it.
    sent = {"reminder/I-1/86400s", "reminder/I-2/86400s"}

    assert next_reminder(SCHEDULE, sent) == utc(2026, 6, 13, 10)


def test_next_reminder_is_none_when_everything_was_sent() -> None:
    assert next_reminder(SCHEDULE, sent=set(SCHEDULE)) is None
    assert next_reminder({}, sent=set()) is None


def test_due_and_next_together_walk_through_the_schedule() -> None:
    sent: set[str] = set()
    sent_at: list[tuple[str, datetime]] = []

    for _ in range(len(SCHEDULE) + 1):  # bounded: a wake with nothing due must not spin
        wake = next_reminder(SCHEDULE, sent)
        if wake is None:
            break
        for key in due_reminders(SCHEDULE, wake, sent):
            sent.add(key)
            sent_at.append((key, wake))

    assert sent_at == sorted(SCHEDULE.items(), key=lambda item: item[1])


# --- deadline_text (case_text) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("deadline", "zone", "text"),
    [
        (utc(2026, 3, 9, 15), "America/New_York", "Monday 09 March 2026, 11:00 EDT"),
        (utc(2026, 3, 6, 15), "America/New_York", "Friday 06 March 2026, 10:00 EST"),
        (utc(2026, 7, 1, 12), "Europe/London", "Wednesday 01 July 2026, 13:00 BST"),
        (utc(2026, 1, 15, 12), "Europe/London", "Thursday 15 January 2026, 12:00 GMT"),
        (utc(2026, 1, 15, 12), "Asia/Kolkata", "Thursday 15 January 2026, 17:30 IST"),
        (utc(2026, 11, 1, 12), "America/St_Johns", "Sunday 01 November 2026, 08:30 NST"),
        # The local date can differ from the UTC date.
        (utc(2026, 6, 11, 2), "America/Los_Angeles", "Wednesday 10 June 2026, 19:00 PDT"),
    ],
)
def test_local_deadline_text_shows_local_time_and_zone_abbreviation(
    deadline: datetime, zone: str, text: str
) -> None:
    assert deadline_text(deadline, zone) == text
