"""What the console says about times, spans and states: short, for a specialist's eye.

Minute resolution on purpose: a refreshed part of a page changes when its text does, and a
seconds counter would redraw it on every poll.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aha.domain import case_text

SLA_TEXT = {"ok": "On track", "warning": "Warning", "breached": "Breached"}
OUTCOME_TEXT = {
    "answered": "Answered",
    "no_answer": "No answer",
    "busy": "Busy",
    "voicemail": "Voicemail",
    "invalid_number": "Invalid number",
}


def words(value: str | None) -> str:
    """A vocabulary value as a label: "awaiting_contact" -> "Awaiting contact"."""
    if not value:
        return ""
    return value.replace("_", " ").capitalize()


def span(seconds: float | None) -> str:
    """A duration: "45 s", "12 min", "3 h 05 min", "2 d 04 h"; none is a dash."""
    if seconds is None:
        return "—"
    whole = int(seconds)
    if whole < 60:
        return f"{max(whole, 0)} s"
    minutes, hours, days = whole // 60 % 60, whole // 3600 % 24, whole // 86400
    if days:
        return f"{days} d {hours:02d} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


def time_left(seconds: float | None) -> str:
    """The time left to a deadline, to the minute."""
    if seconds is None:
        return "no deadline"
    if seconds <= 0:
        return "deadline passed"
    if seconds < 60:
        return "under a minute"
    return span(seconds)


def utc(moment: datetime | None) -> str:
    return case_text.page_time(moment, "UTC")


def local(moment: datetime | None, timezone: str | None) -> str:
    """A moment in the seller's zone, or in UTC when the case does not know the zone."""
    return case_text.page_time(moment, timezone or "UTC")


def short_local(moment: datetime | None, timezone: str | None) -> str:
    """A moment in a queue cell: weekday and time in the seller's zone ("Wed 14:05")."""
    if moment is None:
        return "—"
    return moment.astimezone(ZoneInfo(timezone or "UTC")).strftime("%a %H:%M")
