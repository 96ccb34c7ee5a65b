"""The assurance programme's records: daily AHR readings and each seller's enrolment."""

from __future__ import annotations

from collections.abc import Collection, Sequence
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


Reading = tuple[str, date, int]  # seller id, day, score


def sort_readings(
    readings: Sequence[Reading],
    known_sellers: Collection[str],
    today: date,
    positions: Sequence[int] | None = None,
) -> tuple[list[Reading], list[tuple[int, str]]]:
    """The readings of a batch that may land, and why each other one may not, by position
    (by default its 0-based index; `positions` gives each its own, e.g. a CSV line)."""
    where = list(positions) if positions is not None else list(range(len(readings)))
    good: list[Reading] = []
    problems: list[tuple[int, str]] = []
    for position, (seller_id, day, score) in zip(where, readings, strict=True):
        try:
            check_reading(day, score, today)
            if seller_id not in known_sellers:
                raise InvalidReading(f"unknown seller {seller_id!r}")
        except InvalidReading as err:
            problems.append((position, str(err)))
            continue
        good.append((seller_id, day, score))
    return good, problems


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
