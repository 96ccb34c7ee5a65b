"""The assurance programme's records beside the seller directory, in PostgreSQL: daily AHR
readings and each seller's enrolment state (`aha.ports.ProgrammeStore`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb

from aha.adapters.postgres.directory import PostgresDirectory
from aha.adapters.readings_csv import import_readings
from aha.domain.programme import (
    Enrollment,
    ImportReport,
    InvalidReading,
    check_reading,
    sort_readings,
)
from aha.domain.vocabulary import EnrollmentState

UPSERT_READING = (
    "INSERT INTO ahr_readings (seller_id, day, score) VALUES (%s, %s, %s)"
    " ON CONFLICT (seller_id, day) DO UPDATE SET score = excluded.score"
)


class PostgresProgrammeStore(PostgresDirectory):
    """Seller directory plus AHR history and enrolment state."""

    # ---- AHR readings ----------------------------------------------------------------------

    def record_reading(
        self, seller_id: str, day: date, score: int, today: date | None = None
    ) -> None:
        """Store one day's AHR; a reading re-sent for the same day replaces the old one."""
        check_reading(day, score, today or datetime.now(UTC).date())
        with self.pool.connection() as db, db.transaction():
            known = db.execute("SELECT 1 FROM sellers WHERE seller_id = %s", (seller_id,))
            if known.fetchone() is None:
                raise InvalidReading(f"unknown seller {seller_id!r}")
            db.execute(UPSERT_READING, (seller_id, day, score))

    def record_readings(
        self,
        readings: Sequence[tuple[str, date, int]],
        today: date | None = None,
        positions: Sequence[int] | None = None,
    ) -> ImportReport:
        """Store a batch in one transaction; good readings land, bad ones are reported by
        position (by default their 0-based index; `positions` gives each its own, e.g. a
        CSV line)."""
        today = today or datetime.now(UTC).date()
        with self.pool.connection() as db, db.transaction():
            rows = db.execute(
                "SELECT seller_id FROM sellers WHERE seller_id = ANY(%s)",
                (list({seller_id for seller_id, _, _ in readings}),),
            )
            known = {row["seller_id"] for row in rows}
            good, problems = sort_readings(readings, known, today, positions)
            # A day sent twice in one batch: the later reading wins, as it would one by one
            # (and one statement may not change the same row twice).
            latest = {(seller_id, day): score for seller_id, day, score in good}
            with db.cursor() as cursor:
                cursor.executemany(
                    UPSERT_READING,
                    [(seller_id, day, score) for (seller_id, day), score in latest.items()],
                )
        return ImportReport(accepted=len(good), problems=tuple(problems))

    def import_readings(self, path: Path, today: date | None = None) -> ImportReport:
        """Load `seller_id,date,score` rows; good rows land, bad rows are reported by line."""
        return import_readings(self, path, today)

    def readings(self, seller_id: str) -> dict[date, int]:
        with self.pool.connection() as db:
            rows = db.execute(
                "SELECT day, score FROM ahr_readings WHERE seller_id = %s", (seller_id,)
            ).fetchall()
        return {row["day"]: row["score"] for row in rows}

    def rating_summaries(
        self, seller_ids: Sequence[str], window_start: date, as_of: date, min_score: int
    ) -> dict[str, tuple[date | None, int]]:
        """Per seller: the first reading up to `as_of`, and the window's days at `min_score`+.

        The database does the counting so a sweep never pulls six months of rows over.
        """
        if not seller_ids:
            return {}
        with self.pool.connection() as db:
            rows = db.execute(
                "SELECT seller_id, MIN(day) AS first_day,"
                " COUNT(*) FILTER (WHERE day >= %s AND score >= %s) AS good_days"
                " FROM ahr_readings WHERE seller_id = ANY(%s) AND day <= %s"
                " GROUP BY seller_id",
                (window_start, min_score, list(seller_ids), as_of),
            ).fetchall()
        found = {row["seller_id"]: (row["first_day"], int(row["good_days"])) for row in rows}
        return {seller_id: found.get(seller_id, (None, 0)) for seller_id in seller_ids}

    # ---- enrolment -------------------------------------------------------------------------

    def enrollment(self, seller_id: str) -> Enrollment | None:
        with self.pool.connection() as db:
            row = db.execute(
                "SELECT seller_id, state, since, reasons FROM enrollments WHERE seller_id = %s",
                (seller_id,),
            ).fetchone()
        return _enrollment(row) if row else None

    def enrollments(self, seller_ids: Iterable[str]) -> dict[str, Enrollment]:
        ids = list(seller_ids)
        if not ids:
            return {}
        with self.pool.connection() as db:
            rows = db.execute(
                "SELECT seller_id, state, since, reasons FROM enrollments"
                " WHERE seller_id = ANY(%s)",
                (ids,),
            ).fetchall()
        return {row["seller_id"]: _enrollment(row) for row in rows}

    def save_enrollments(self, records: Iterable[Enrollment]) -> None:
        # One record per seller: the last wins, as it would row by row.
        latest = {record.seller_id: record for record in records}
        if not latest:
            return
        with self.pool.connection() as db, db.transaction(), db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO enrollments (seller_id, state, since, reasons, evaluated_at)"
                " VALUES (%s, %s, %s, %s, now()) ON CONFLICT (seller_id) DO UPDATE SET"
                " state = excluded.state, since = excluded.since, reasons = excluded.reasons,"
                " evaluated_at = excluded.evaluated_at",
                [
                    (r.seller_id, str(r.state), r.since, Jsonb(list(r.reasons)))
                    for r in latest.values()
                ],
            )


def _enrollment(row: dict[str, Any]) -> Enrollment:
    return Enrollment(
        seller_id=row["seller_id"],
        state=EnrollmentState(row["state"]),
        since=row["since"],
        reasons=tuple(row["reasons"]),
    )
