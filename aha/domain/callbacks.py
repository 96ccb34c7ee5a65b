"""When a seller may ask to be called back: not in the past, and before the deadline."""

from __future__ import annotations

from datetime import UTC, datetime


def callback_problem(at: datetime, now: datetime, deadline: datetime | None) -> str | None:
    """Why a callback at `at` (timezone-aware) is refused at `now`, if it is."""
    try:
        at = at.astimezone(UTC)
    except OverflowError:
        return "at is out of range"
    if at < now:
        return f"at is in the past (it is {now:%Y-%m-%d %H:%M} UTC now)"
    # At the deadline itself the case deactivates before it could dial: refused as well.
    if deadline is not None and at >= deadline:
        return f"at is not before the case's deadline ({deadline:%Y-%m-%d %H:%M} UTC)"
    return None
