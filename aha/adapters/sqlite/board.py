"""The case board (`aha.ports.CaseBoard`) in the SQLite file.

A write is kept only at a newer version of its run, and replaces that run's pending calls in
the same transaction. A case id's newest run (by opened_at, then version) is the one the queue
and the call list show: each kept write marks the case's other runs superseded, so the reads
filter on one indexed flag instead of looking for a newer run of every row they return.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aha.adapters.board_tables import (
    BOARD_COLUMNS,
    BREACHED,
    CALL_COLUMNS,
    SLA_COLUMNS,
    board_values,
    call_values,
    check_limit,
    dashboard,
    open_counts,
    pending_call,
    queue_conditions,
    rows_with_calls,
    windows,
)
from aha.adapters.sqlite.schema import prepare
from aha.domain.board import (
    CallCursor,
    CaseRow,
    Dashboard,
    PendingCallItem,
    QueueCursor,
    QueueFilter,
)

LAST = "~"  # sorts after any time: where a missing deadline goes (see the schema)
LIVE = "closed_at IS NULL AND superseded = 0"
SORT_KEY = f"coalesce(deadline, '{LAST}'), case_id"
CALL_ORDER = "NOT c.seller_initiated, c.scheduled_for, c.case_id, c.attempt"


def _text(value: datetime) -> str:
    # One width for every time (always microseconds, always +00:00), so text order is time order.
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _seconds(column: str) -> str:
    """SQL for the seconds from detection to `column`, exact to the microsecond: whole seconds
    from strftime, microseconds from their fixed place in the text (characters 21-26), and one
    division, as Python's timedelta.total_seconds() does. Parsing the times in Python instead
    took half the dashboard's time."""
    whole = f"(strftime('%s', {column}) - strftime('%s', detected_at))"
    micro = f"(substr({column}, 21, 6) - substr(detected_at, 21, 6))"
    return f"({whole} * 1000000 + {micro}) / 1000000.0"


_UPDATES = ", ".join(f"{name} = excluded.{name}" for name in (*BOARD_COLUMNS[1:], "updated_at"))
RECORD = (
    f"INSERT INTO case_board ({', '.join(BOARD_COLUMNS)}, updated_at)"
    f" VALUES ({', '.join(':' + name for name in BOARD_COLUMNS)}, :updated_at)"
    f" ON CONFLICT (run_id) DO UPDATE SET {_UPDATES}"
    " WHERE excluded.version > case_board.version"
)
ADD_CALL = (
    "INSERT INTO case_board_calls (run_id, case_id, attempt, seller_initiated, scheduled_for,"
    " placed_at, guidance) VALUES (:run_id, :case_id, :attempt, :seller_initiated,"
    " :scheduled_for, :placed_at, :guidance)"
)
NEWEST = (
    "SELECT run_id FROM case_board WHERE case_id = ?"
    " ORDER BY opened_at DESC, version DESC, run_id DESC LIMIT 1"
)
SUPERSEDE = (
    "UPDATE case_board SET superseded = (run_id <> :newest)"
    " WHERE case_id = :case_id AND superseded <> (run_id <> :newest)"
)
SELECT_ROW = f"SELECT {', '.join(BOARD_COLUMNS)} FROM case_board"
CALLS_OF = (
    f"SELECT run_id, {', '.join(CALL_COLUMNS)} FROM case_board_calls"
    " WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY run_id, attempt"
)


class SqliteCaseBoard:
    def __init__(self, path: str | Path) -> None:
        self.path = prepare(path)

    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction on its own connection: a write takes the lock first (so reading
        the case's runs and marking them is one step); a read sees one snapshot throughout."""
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        finally:
            db.close()

    def record(self, row: CaseRow) -> bool:
        values = board_values(row, _text)
        calls = call_values(row, _text)
        with self._connect(write=True) as db:
            kept = db.execute(RECORD, {**values, "updated_at": _text(datetime.now(UTC))})
            if kept.rowcount == 0:
                return False
            db.execute("DELETE FROM case_board_calls WHERE run_id = ?", (row.run_id,))
            db.executemany(ADD_CALL, calls)
            newest = db.execute(NEWEST, (row.case_id,)).fetchone()["run_id"]
            db.execute(SUPERSEDE, {"newest": newest, "case_id": row.case_id})
        return True

    def row(self, case_id: str) -> CaseRow | None:
        with self._connect() as db:
            found = db.execute(
                f"{SELECT_ROW} WHERE case_id = ? ORDER BY opened_at DESC, version DESC,"
                " run_id DESC LIMIT 1",
                (case_id,),
            ).fetchall()
            return self._with_calls(db, found)[0] if found else None

    @staticmethod
    def _with_calls(db: sqlite3.Connection, records: list[sqlite3.Row]) -> list[CaseRow]:
        runs = json.dumps([record["run_id"] for record in records])
        calls = db.execute(CALLS_OF, (runs,)).fetchall() if records else []
        return rows_with_calls(records, calls)

    def queue(
        self,
        filters: QueueFilter,
        now: datetime,
        limit: int,
        after: QueueCursor | None = None,
    ) -> tuple[list[CaseRow], int]:
        params: dict[str, Any] = {}

        def param(name: str, value: Any) -> str:
            params[name] = _text(value) if isinstance(value, datetime) else value
            return f":{name}"

        where = " AND ".join([LIVE, *queue_conditions(filters, now, param)])
        page = where
        if after is not None:
            params["after_deadline"] = _text(after.deadline) if after.deadline else LAST
            params["after_case"] = after.case_id
            page += f" AND ({SORT_KEY}) > (:after_deadline, :after_case)"
        with self._connect() as db:
            records = db.execute(
                f"{SELECT_ROW} WHERE {page} ORDER BY {SORT_KEY} LIMIT :limit",
                {**params, "limit": check_limit(limit)},
            ).fetchall()
            total = db.execute(f"SELECT count(*) FROM case_board WHERE {where}", params)
            return self._with_calls(db, records), int(total.fetchone()[0])

    def pending_calls(self, limit: int, after: CallCursor | None = None) -> list[PendingCallItem]:
        params: dict[str, Any] = {"limit": check_limit(limit)}
        page = ""
        if after is not None:
            params |= {
                "initiated": int(not after.seller_initiated),
                "scheduled": _text(after.scheduled_for),
                "case_id": after.case_id,
                "attempt": after.attempt,
            }
            page = f" AND ({CALL_ORDER}) > (:initiated, :scheduled, :case_id, :attempt)"
        board = ", ".join(f"b.{name}" for name in BOARD_COLUMNS)
        calls = ", ".join(f"c.{name}" for name in CALL_COLUMNS)
        with self._connect() as db:
            found = db.execute(
                f"SELECT {board}, {calls}, s.phone FROM case_board_calls AS c"
                " JOIN case_board AS b ON b.run_id = c.run_id"
                " LEFT JOIN sellers AS s ON s.seller_id = b.seller_id"
                f" WHERE b.closed_at IS NULL AND b.superseded = 0{page}"
                f" ORDER BY {CALL_ORDER} LIMIT :limit",
                params,
            ).fetchall()
            runs = list({record["run_id"]: record for record in found}.values())
            rows = {row.run_id: row for row in self._with_calls(db, runs)}
        return [
            PendingCallItem(
                row=rows[record["run_id"]], call=pending_call(record), phone=record["phone"] or None
            )
            for record in found
        ]

    def dashboard(self, now: datetime) -> Dashboard:
        at = {name: _text(moment) for name, moment in windows(now).items()}
        breaches = ", ".join(
            f"count(*) FILTER (WHERE {column} = '{BREACHED}')" for column in SLA_COLUMNS.values()
        )
        with self._connect() as db:
            open_rows = db.execute(
                "SELECT status, count(*) AS open, count(*) FILTER (WHERE deadline <= :soon),"
                f" count(*) FILTER (WHERE deadline <= :today) FROM case_board WHERE {LIVE}"
                " GROUP BY status",
                at,
            ).fetchall()
            closed = db.execute(
                "SELECT count(*), count(*) FILTER (WHERE reached_at < deadline)"
                " FROM case_board WHERE closed_at >= :month",
                at,
            ).fetchone()
            deactivations = db.execute(
                "SELECT closure_reason, count(*) FILTER (WHERE closed_at >= :week), count(*)"
                " FROM case_board WHERE status = 'deactivated' AND closed_at >= :month"
                " GROUP BY closure_reason",
                at,
            ).fetchall()
            breached = db.execute(
                f"SELECT {breaches} FROM case_board WHERE opened_at >= :month", at
            ).fetchone()
            times = db.execute(
                f"SELECT {_seconds('first_attempt_at')}, {_seconds('reached_at')} FROM case_board"
                " WHERE opened_at >= :month AND detected_at IS NOT NULL"
                " AND (first_attempt_at IS NOT NULL OR reached_at IS NOT NULL)",
                at,
            ).fetchall()
        return dashboard(
            now,
            open_by_status=open_counts((r[0], r[1]) for r in open_rows),
            at_risk_6h=sum(r[2] for r in open_rows),
            at_risk_24h=sum(r[3] for r in open_rows),
            closed_30d=closed[0],
            reached_before_deadline_30d=closed[1],
            to_first_attempt=[t[0] for t in times if t[0] is not None],
            to_reach=[t[1] for t in times if t[1] is not None],
            deactivations=[(r[0], r[1], r[2]) for r in deactivations],
            sla_breaches_30d={str(t): n for t, n in zip(SLA_COLUMNS, breached, strict=True)},
        )
