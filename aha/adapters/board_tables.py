"""What the case board's SQLite and PostgreSQL tables share: their columns, how a `CaseRow`
becomes a table row and back, the queue's filters as SQL conditions, and the dashboard's
windows. Each store keeps its own SQL; these parts are here so the two cannot drift apart."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aha.domain.board import (
    OPEN_STATUSES,
    CaseRow,
    Dashboard,
    PendingCallRow,
    QueueFilter,
    percentile,
)
from aha.domain.policy import CallingCalendar
from aha.domain.vocabulary import ClockState, SlaState, SlaTarget

BOARD_COLUMNS = (
    "run_id", "case_id", "version", "seller_id", "marketplace", "status", "opened_at",
    "detected_at", "deadline", "closed_at", "closure_reason", "timezone", "calling_start",
    "calling_end", "calling_stopped", "attempts", "next_call_at", "first_attempt_at",
    "reached_at", "assigned_to", "sla_state", "sla_first_attempt", "sla_reached",
    "sla_plan_review", "issue_types", "calling_calendar", "callback_at",
)  # fmt: skip
TIME_COLUMNS = (
    "opened_at", "detected_at", "deadline", "closed_at", "next_call_at", "first_attempt_at",
    "reached_at", "callback_at",
)  # fmt: skip
CALL_COLUMNS = ("attempt", "seller_initiated", "scheduled_for", "placed_at", "guidance")

AT_RISK_SOON = timedelta(hours=6)
AT_RISK_TODAY = timedelta(hours=24)
WEEK = timedelta(days=7)
MONTH = timedelta(days=30)
SLA_COLUMNS = {target: f"sla_{target}" for target in SlaTarget}
UNKNOWN_REASON = "unknown"  # a deactivation whose row names no closure reason

Encode = Callable[[datetime], Any]


class Record(Protocol):
    """A row as a driver returns it (sqlite3.Row, psycopg's dict row): read by column name."""

    def __getitem__(self, key: str, /) -> Any: ...


def _aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"case board: {name} must be timezone-aware, got {value.isoformat()}")
    return value


def check_limit(limit: int) -> int:
    # Both stores must refuse alike: SQLite reads a negative LIMIT as none at all.
    if limit < 1:
        raise ValueError(f"case board: a page holds at least 1 row, not {limit}")
    return limit


def board_values(row: CaseRow, encode: Encode) -> dict[str, Any]:
    """`row` as the table's columns (named as in BOARD_COLUMNS); times through `encode`.
    ValueError, before anything is written, for a time without a time zone."""
    values = {name: getattr(row, name) for name in BOARD_COLUMNS}
    for name in TIME_COLUMNS:
        if values[name] is not None:
            values[name] = encode(_aware(name, values[name]))
    values["issue_types"] = json.dumps(row.issue_types)
    calendar = row.calling_calendar
    values["calling_calendar"] = calendar.model_dump_json() if calendar is not None else None
    return values


def call_values(row: CaseRow, encode: Encode) -> list[dict[str, Any]]:
    """The run's pending calls as rows of the calls table (which repeats the case id, so the
    call list's order is one index)."""
    return [
        {
            "run_id": row.run_id,
            "case_id": row.case_id,
            "attempt": call.attempt,
            "seller_initiated": call.seller_initiated,
            "scheduled_for": encode(_aware("scheduled_for", call.scheduled_for)),
            "placed_at": encode(_aware("placed_at", call.placed_at)),
            "guidance": json.dumps(call.guidance),
        }
        for call in row.pending_calls
    ]


def _utc(value: Any) -> Any:
    # SQLite gives ISO text, PostgreSQL datetimes in the session's zone: both read as UTC.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def pending_call(record: Record) -> PendingCallRow:
    return PendingCallRow(
        attempt=record["attempt"],
        seller_initiated=bool(record["seller_initiated"]),
        scheduled_for=_utc(record["scheduled_for"]),
        placed_at=_utc(record["placed_at"]),
        guidance=json.loads(record["guidance"]),
    )


def case_row(record: Record, calls: Iterable[PendingCallRow] = ()) -> CaseRow:
    """A table row (with at least BOARD_COLUMNS) and its run's pending calls as a `CaseRow`."""
    fields = {name: record[name] for name in BOARD_COLUMNS}
    for name in TIME_COLUMNS:
        fields[name] = _utc(fields[name])
    fields["issue_types"] = json.loads(fields["issue_types"])
    if fields["calling_calendar"] is not None:
        fields["calling_calendar"] = CallingCalendar.model_validate_json(fields["calling_calendar"])
    return CaseRow(**fields, pending_calls=list(calls))


def rows_with_calls(records: Iterable[Record], calls: Iterable[Record]) -> list[CaseRow]:
    """Rows in the order given, each with its calls (`calls` ordered by attempt)."""
    by_run: dict[str, list[PendingCallRow]] = {}
    for call in calls:
        by_run.setdefault(call["run_id"], []).append(pending_call(call))
    return [case_row(record, by_run.get(record["run_id"], ())) for record in records]


def queue_conditions(
    filters: QueueFilter, now: datetime, param: Callable[[str, Any], str]
) -> list[str]:
    """The filters as SQL conditions on the board's columns, ANDed by the caller; `param`
    takes a name and a value and gives the placeholder the store's driver expects."""
    conditions = []
    if filters.owner is not None:
        conditions.append(f"assigned_to = {param('owner', filters.owner)}")
    if filters.unassigned:
        conditions.append("assigned_to IS NULL")
    if filters.status is not None:
        conditions.append(f"status = {param('status', filters.status)}")
    if filters.marketplace is not None:
        conditions.append(f"marketplace = {param('marketplace', filters.marketplace)}")
    if filters.at_risk_within is not None:
        at_risk_by = _aware("now", now) + filters.at_risk_within
        conditions.append(f"deadline <= {param('at_risk_by', at_risk_by)}")
    if filters.breached:
        conditions.append(f"sla_state = {param('breached', str(SlaState.BREACHED))}")
    return conditions


def windows(now: datetime) -> dict[str, datetime]:
    """The moments the dashboard counts from, by parameter name."""
    now = _aware("now", now)
    return {
        "soon": now + AT_RISK_SOON,
        "today": now + AT_RISK_TODAY,
        "week": now - WEEK,
        "month": now - MONTH,
    }


BREACHED = str(ClockState.BREACHED)


def open_counts(counts: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Open rows by status: every open status, those with none at zero."""
    by_status = dict.fromkeys(OPEN_STATUSES, 0)
    for status, count in counts:
        by_status[status] = by_status.get(status, 0) + count
    return by_status


def dashboard(
    now: datetime,
    *,
    open_by_status: dict[str, int],
    at_risk_6h: int,
    at_risk_24h: int,
    closed_30d: int,
    reached_before_deadline_30d: int,
    to_first_attempt: list[float],
    to_reach: list[float],
    deactivations: Iterable[tuple[str | None, int, int]],
    sla_breaches_30d: dict[str, int],
) -> Dashboard:
    """The numbers the stores counted, with the percentiles taken here; `deactivations` is
    (closure reason, in the last 7 days, in the last 30 days) per reason."""
    week: dict[str, int] = {}
    month: dict[str, int] = {}
    for reason, in_week, in_month in deactivations:
        key = reason or UNKNOWN_REASON
        if in_week:
            week[key] = week.get(key, 0) + in_week
        month[key] = month.get(key, 0) + in_month
    return Dashboard(
        at=now,
        open_by_status=open_by_status,
        at_risk_6h=at_risk_6h,
        at_risk_24h=at_risk_24h,
        closed_30d=closed_30d,
        reached_before_deadline_30d=reached_before_deadline_30d,
        first_attempt_p50_s=percentile(to_first_attempt, 0.5),
        first_attempt_p90_s=percentile(to_first_attempt, 0.9),
        reached_p50_s=percentile(to_reach, 0.5),
        reached_p90_s=percentile(to_reach, 0.9),
        deactivations_7d=week,
        deactivations_30d=month,
        sla_breaches_30d=sla_breaches_30d,
    )
