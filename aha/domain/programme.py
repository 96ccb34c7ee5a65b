"""The assurance programme's records: daily AHR readings and each seller's enrolment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from aha.domain.vocabulary import EnrollmentState

MAX_SCORE = 1000


class InvalidReading(ValueError):
    """A reading that cannot be stored; the message says why."""


@dataclass(frozen=True)
class Enrollment:
    seller_id: str
    state: EnrollmentState
    since: date
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ImportReport:
    accepted: int
    problems: tuple[tuple[int, str], ...]  # (line number, reason)


def check_reading(day: date, score: int, today: date) -> None:
    if not 0 <= score <= MAX_SCORE:
        raise InvalidReading(f"score {score} is outside 0-{MAX_SCORE}")
    if day > today:
        raise InvalidReading(f"date {day.isoformat()} is in the future")


READINGS_HEADER = ["seller_id", "date", "score"]


def parse_reading_row(row: list[str]) -> tuple[str, date, int]:
    """One `seller_id,date,score` row of a readings file, or InvalidReading saying why not."""
    if len(row) != 3:
        raise InvalidReading(f"expected 3 columns, got {len(row)}")
    seller_id, day_text, score_text = (cell.strip() for cell in row)
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise InvalidReading(f"date {day_text!r} is not YYYY-MM-DD") from None
    if not score_text.lstrip("-").isdigit():
        raise InvalidReading(f"score {score_text!r} is not a whole number")
    return seller_id, day, int(score_text)
