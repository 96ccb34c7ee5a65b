"""The assurance programme's records beside the seller directory, in the same SQLite file:
daily AHR readings and each seller's enrolment state (`aha.ports.ProgrammeStore`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from aha.adapters.readings_csv import import_readings
from aha.adapters.sqlite.directory import SqliteDirectory
from aha.domain.programme import (
    Enrollment,
    ImportReport,
    InvalidReading,
    check_reading,
    sort_readings,
)
from aha.domain.vocabulary import EnrollmentState


class SqliteProgrammeStore(SqliteDirectory):
    """Seller directory plus AHR history and enrolment state."""

    # ---- AHR readings ----------------------------------------------------------------------

    def record_reading(
        self, seller_id: str, day: date, score: int, today: date | None = None
    ) -> None:
        """Store one day's AHR; a reading re-sent for the same day replaces the old one."""
        check_reading(day, score, today or datetime.now(UTC).date())
        if self.get(seller_id) is None:
            raise InvalidReading(f"unknown seller {seller_id!r}")
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO ahr_readings (seller_id, day, score) VALUES (?, ?, ?)",
                (seller_id, day.isoformat(), score),
            )

    def record_readings(
        self,
        readings: Sequence[tuple[str, date, int]],
        today: date | None = None,
        positions: Sequence[int] | None = None,
    ) -> ImportReport:
        """Store a batch; good readings land, bad ones are reported by position (by default
        their 0-based index; `positions` gives each its own, e.g. a CSV line)."""
        today = today or datetime.now(UTC).date()
        known = self._known_sellers({seller_id for seller_id, _, _ in readings})
        good, problems = sort_readings(readings, known, today, positions)
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO ahr_readings (seller_id, day, score) VALUES (?, ?, ?)",
                [(seller_id, day.isoformat(), score) for seller_id, day, score in good],
            )
        return ImportReport(accepted=len(good), problems=tuple(problems))

    def _known_sellers(self, seller_ids: set[str]) -> set[str]:
        with self._connect() as db:
            if len(seller_ids) > 500:
                # Past a few hundred ids one scan is cheaper than a long IN list (and SQLite
                # caps the number of parameters).
                return {row[0] for row in db.execute("SELECT seller_id FROM sellers")}
            marks = ",".join("?" * len(seller_ids))
            rows = db.execute(
                f"SELECT seller_id FROM sellers WHERE seller_id IN ({marks})", list(seller_ids)
            )
            return {row[0] for row in rows}

    def import_readings(self, path: Path, today: date | None = None) -> ImportReport:
        """Load `seller_id,date,score` rows; good rows land, bad rows are reported by line."""
        return import_readings(self, path, today)

    def readings(self, seller_id: str) -> dict[date, int]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT day, score FROM ahr_readings WHERE seller_id = ?", (seller_id,)
            ).fetchall()
        return {date.fromisoformat(row["day"]): row["score"] for row in rows}

    def rating_summaries(
        self, seller_ids: Sequence[str], window_start: date, as_of: date, min_score: int
    ) -> dict[str, tuple[date | None, int]]:
        """Per seller: the first reading up to `as_of`, and the window's days at `min_score`+.

        SQLite does the counting so a sweep never pulls six months of rows into Python.
        """
        if not seller_ids:
            return {}
        marks = ",".join("?" * len(seller_ids))
        with self._connect() as db:
            rows = db.execute(
                f"SELECT seller_id, MIN(day) AS first_day,"
                f" SUM(day >= ? AND score >= ?) AS good_days"
                f" FROM ahr_readings WHERE seller_id IN ({marks}) AND day <= ?"
                f" GROUP BY seller_id",
                (window_start.isoformat(), min_score, *seller_ids, as_of.isoformat()),
            ).fetchall()
        found = {
            row["seller_id"]: (date.fromisoformat(row["first_day"]), int(row["good_days"] or 0))
            for row in rows
        }
        return {seller_id: found.get(seller_id, (None, 0)) for seller_id in seller_ids}

    # ---- enrolment -------------------------------------------------------------------------

    def enrollment(self, seller_id: str) -> Enrollment | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM enrollments WHERE seller_id = ?", (seller_id,)
            ).fetchone()
        return _enrollment(row) if row else None

    def enrollments(self, seller_ids: Iterable[str]) -> dict[str, Enrollment]:
        ids = list(seller_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._connect() as db:
            rows = db.execute(
                f"SELECT * FROM enrollments WHERE seller_id IN ({marks})",
                ids,
            ).fetchall()
        return {row["seller_id"]: _enrollment(row) for row in rows}

    def save_enrollments(self, records: Iterable[Enrollment]) -> None:
        now = datetime.now(UTC).isoformat()
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO enrollments (seller_id, state, since, reasons,"
                " evaluated_at) VALUES (?, ?, ?, ?, ?)",
                [
                    (r.seller_id, r.state, r.since.isoformat(), json.dumps(r.reasons), now)
                    for r in records
                ],
            )


def _enrollment(row: object) -> Enrollment:
    return Enrollment(
        seller_id=row["seller_id"],  # type: ignore[index]
        state=EnrollmentState(row["state"]),  # type: ignore[index]
        since=date.fromisoformat(row["since"]),  # type: ignore[index]
        reasons=tuple(json.loads(row["reasons"])),  # type: ignore[index]
    )
