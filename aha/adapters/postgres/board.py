"""The case board (`aha.ports.CaseBoard`) in PostgreSQL.

As in the SQLite board, a write is kept only at a newer version of its run (INSERT ... ON
CONFLICT DO UPDATE ... WHERE, so of two writers of one run the newer version wins whatever the
order), replaces the run's pending calls in the same transaction, and marks the case's other
runs superseded. Writers of one case id take turns on an advisory lock for the transaction:
without it, two runs written at once could each miss the other and both stay in the queue.
Reads run in one read-only snapshot, so a page and its count agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import DictRow

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
from aha.adapters.postgres.pool import Pool
from aha.domain.board import (
    CallCursor,
    CaseRow,
    Dashboard,
    PendingCallItem,
    QueueCursor,
    QueueFilter,
)

# The first key of the two-key advisory locks on case ids ("boar"); one-key locks, like
# `aha db upgrade`'s, are another space and never meet these.
CASE_LOCK = 0x626F6172
LIVE = "closed_at IS NULL AND NOT superseded"
LAST = "'infinity'::timestamptz"
SORT_KEY = f"coalesce(deadline, {LAST}), case_id"
CALL_ORDER = "NOT c.seller_initiated, c.scheduled_for, c.case_id, c.attempt"

_UPDATES = ", ".join(f"{name} = excluded.{name}" for name in BOARD_COLUMNS[1:])
RECORD = (
    f"INSERT INTO case_board AS b ({', '.join(BOARD_COLUMNS)}, updated_at)"
    f" VALUES ({', '.join(f'%({name})s' for name in BOARD_COLUMNS)}, now())"
    f" ON CONFLICT (run_id) DO UPDATE SET {_UPDATES}, updated_at = now()"
    " WHERE excluded.version > b.version RETURNING b.version"
)
ADD_CALL = (
    "INSERT INTO case_board_calls (run_id, case_id, attempt, seller_initiated, scheduled_for,"
    " placed_at, guidance) VALUES (%(run_id)s, %(case_id)s, %(attempt)s, %(seller_initiated)s,"
    " %(scheduled_for)s, %(placed_at)s, %(guidance)s)"
)
SUPERSEDE = """
UPDATE case_board AS b SET superseded = (b.run_id <> newest.run_id)
FROM (SELECT run_id FROM case_board WHERE case_id = %(case_id)s
      ORDER BY opened_at DESC, version DESC, run_id DESC LIMIT 1) AS newest
WHERE b.case_id = %(case_id)s AND b.superseded <> (b.run_id <> newest.run_id)
"""
SELECT_ROW = f"SELECT {', '.join(BOARD_COLUMNS)} FROM case_board"
CALLS_OF = (
    f"SELECT run_id, {', '.join(CALL_COLUMNS)} FROM case_board_calls"
    " WHERE run_id = ANY(%s) ORDER BY run_id, attempt"
)


def _same(value: datetime) -> datetime:
    return value  # timestamptz keeps the instant; psycopg sends the datetime as it is


class PostgresCaseBoard:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    @contextmanager
    def _snapshot(self) -> Iterator[psycopg.Connection[DictRow]]:
        with self.pool.connection() as db, db.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield db

    def record(self, row: CaseRow) -> bool:
        values = board_values(row, _same)
        calls = call_values(row, _same)
        with self.pool.connection() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (CASE_LOCK, row.case_id))
            if db.execute(RECORD, values).fetchone() is None:
                return False
            db.execute("DELETE FROM case_board_calls WHERE run_id = %s", (row.run_id,))
            if calls:
                with db.cursor() as cursor:
                    cursor.executemany(ADD_CALL, calls)
            db.execute(SUPERSEDE, {"case_id": row.case_id})
        return True

    def row(self, case_id: str) -> CaseRow | None:
        with self._snapshot() as db:
            found = db.execute(
                f"{SELECT_ROW} WHERE case_id = %s ORDER BY opened_at DESC, version DESC,"
                " run_id DESC LIMIT 1",
                (case_id,),
            ).fetchall()
            return self._with_calls(db, found)[0] if found else None

    @staticmethod
    def _with_calls(db: psycopg.Connection[DictRow], records: list[DictRow]) -> list[CaseRow]:
        runs = [record["run_id"] for record in records]
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
            params[name] = value
            return f"%({name})s"

        where = " AND ".join([LIVE, *queue_conditions(filters, now, param)])
        page = where
        if after is not None:
            params |= {"after_deadline": after.deadline, "after_case": after.case_id}
            page += (
                f" AND ({SORT_KEY}) > (coalesce(%(after_deadline)s::timestamptz, {LAST}),"
                " %(after_case)s)"
            )
        with self._snapshot() as db:
            records = db.execute(
                f"{SELECT_ROW} WHERE {page} ORDER BY {SORT_KEY} LIMIT %(limit)s",
                {**params, "limit": check_limit(limit)},
            ).fetchall()
            total = db.execute(f"SELECT count(*) AS n FROM case_board WHERE {where}", params)
            counted = total.fetchone()
            assert counted is not None
            return self._with_calls(db, records), int(counted["n"])

    def pending_calls(self, limit: int, after: CallCursor | None = None) -> list[PendingCallItem]:
        params: dict[str, Any] = {"limit": check_limit(limit)}
        page = ""
        if after is not None:
            params |= {
                "initiated": not after.seller_initiated,
                "scheduled": after.scheduled_for,
                "case_id": after.case_id,
                "attempt": after.attempt,
            }
            page = (
                f" AND ({CALL_ORDER}) > (%(initiated)s, %(scheduled)s::timestamptz,"
                " %(case_id)s, %(attempt)s)"
            )
        board = ", ".join(f"b.{name}" for name in BOARD_COLUMNS)
        calls = ", ".join(f"c.{name}" for name in CALL_COLUMNS)
        with self._snapshot() as db:
            found = db.execute(
                f"SELECT {board}, {calls}, s.phone FROM case_board_calls AS c"
                " JOIN case_board AS b ON b.run_id = c.run_id"
                " LEFT JOIN sellers AS s ON s.seller_id = b.seller_id"
                f" WHERE b.closed_at IS NULL AND NOT b.superseded{page}"
                f" ORDER BY {CALL_ORDER} LIMIT %(limit)s",
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
        at = windows(now)
        breaches = ", ".join(
            f"count(*) FILTER (WHERE {column} = '{BREACHED}') AS {target}"
            for target, column in SLA_COLUMNS.items()
        )
        with self._snapshot() as db:
            open_rows = db.execute(
                "SELECT status, count(*) AS open,"
                " count(*) FILTER (WHERE deadline <= %(soon)s) AS soon,"
                " count(*) FILTER (WHERE deadline <= %(today)s) AS today"
                f" FROM case_board WHERE {LIVE} GROUP BY status",
                at,
            ).fetchall()
            closed = db.execute(
                "SELECT count(*) AS closed,"
                " count(*) FILTER (WHERE reached_at < deadline) AS reached"
                " FROM case_board WHERE closed_at >= %(month)s",
                at,
            ).fetchone()
            deactivations = db.execute(
                "SELECT closure_reason, count(*) FILTER (WHERE closed_at >= %(week)s) AS week,"
                " count(*) AS month FROM case_board"
                " WHERE status = 'deactivated' AND closed_at >= %(month)s GROUP BY closure_reason",
                at,
            ).fetchall()
            breached = db.execute(
                f"SELECT {breaches} FROM case_board WHERE opened_at >= %(month)s", at
            ).fetchone()
            times = db.execute(
                "SELECT extract(epoch FROM first_attempt_at - detected_at) AS to_first_attempt,"
                " extract(epoch FROM reached_at - detected_at) AS to_reach FROM case_board"
                " WHERE opened_at >= %(month)s AND detected_at IS NOT NULL"
                " AND (first_attempt_at IS NOT NULL OR reached_at IS NOT NULL)",
                at,
            ).fetchall()
        assert closed is not None and breached is not None
        return dashboard(
            now,
            open_by_status=open_counts((r["status"], r["open"]) for r in open_rows),
            at_risk_6h=sum(r["soon"] for r in open_rows),
            at_risk_24h=sum(r["today"] for r in open_rows),
            closed_30d=closed["closed"],
            reached_before_deadline_30d=closed["reached"],
            # extract() gives exact numerics: as floats, what timedelta.total_seconds() gives.
            to_first_attempt=[
                float(t["to_first_attempt"]) for t in times if t["to_first_attempt"] is not None
            ],
            to_reach=[float(t["to_reach"]) for t in times if t["to_reach"] is not None],
            deactivations=[(r["closure_reason"], r["week"], r["month"]) for r in deactivations],
            sla_breaches_30d={str(target): breached[target] for target in SLA_COLUMNS},
        )
