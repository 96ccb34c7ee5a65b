"""AHR readings loaded from a CSV file into any RatingStore: good rows land, bad rows are
reported by their line in the file."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from aha.domain.programme import (
    READINGS_HEADER,
    ImportReport,
    InvalidReading,
    parse_reading_row,
)
from aha.ports import RatingStore


def import_readings(store: RatingStore, path: Path, today: date | None = None) -> ImportReport:
    """Load `seller_id,date,score` rows; good rows land, bad rows are reported by line."""
    unparsed: list[tuple[int, str]] = []
    rows: list[tuple[str, date, int]] = []
    lines: list[int] = []
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != READINGS_HEADER:
            raise InvalidReading(f"{path}: the header must be seller_id,date,score")
        for row in reader:
            try:
                rows.append(parse_reading_row(row))
            except InvalidReading as err:
                unparsed.append((reader.line_num, str(err)))
                continue
            lines.append(reader.line_num)
    report = store.record_readings(rows, today, positions=lines)
    problems = tuple(sorted(unparsed + list(report.problems)))
    return ImportReport(accepted=report.accepted, problems=problems)
