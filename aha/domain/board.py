"""The case board: one row per case run, kept by the case itself, read by the console.

The queue, the call list and the dashboard read rows, never histories: a row is what the
case published last (its `version` only grows, so a late or repeated write never wins).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict

from aha.domain import calendar, calling
from aha.domain.models import CaseView
from aha.domain.policy import CallingCalendar, CallingHours
from aha.domain.sla import SlaClock, calendar_windows
from aha.domain.vocabulary import ClockState, SlaState, SlaTarget, TimelineKind

OPEN_STATUSES = ("awaiting_contact", "engaged", "plan_under_review", "call_required")


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PendingCallRow(Row):
    """A dialled attempt waiting for its outcome: what a specialist must report."""

    attempt: int
    seller_initiated: bool
    scheduled_for: datetime
    placed_at: datetime
    guidance: list[str] = []


class CaseRow(Row):
    case_id: str  # the workflow id; one open run per case id at a time
    run_id: str
    version: int  # grows with every write the run makes
    seller_id: str
    marketplace: str
    status: str
    opened_at: datetime
    detected_at: datetime | None = None  # the first issue's detection
    deadline: datetime | None = None
    closed_at: datetime | None = None
    closure_reason: str | None = None
    timezone: str | None = None  # the seller's, for local time and calling hours
    calling_start: str = "08:00"
    calling_end: str = "21:00"
    # The calendar the case calls by, when its marketplace has one (then the hours above are
    # only the policy's fallback window).
    calling_calendar: CallingCalendar | None = None
    calling_stopped: str | None = None
    attempts: int = 0
    next_call_at: datetime | None = None
    # The callback the seller scheduled, while it is pending.
    callback_at: datetime | None = None
    first_attempt_at: datetime | None = None
    reached_at: datetime | None = None
    assigned_to: str | None = None
    sla_state: str = SlaState.OK
    # Per target, its worst state in this run (None: not tracked).
    sla_first_attempt: str | None = None
    sla_reached: str | None = None
    sla_plan_review: str | None = None
    issue_types: list[str] = []
    pending_calls: list[PendingCallRow] = []

    @property
    def open(self) -> bool:
        return self.closed_at is None

    @property
    def calling_summary(self) -> str:
        """When proactive calls may go out, in the seller's time, as the console shows it."""
        if self.calling_calendar is None:
            return f"{self.calling_start} to {self.calling_end} every day"
        return calendar.summary(self.calling_calendar)


def case_row(view: CaseView, version: int) -> CaseRow:
    """What the board holds of a case: a pure function of the case's view."""
    hours = view.policy.calling_hours if view.policy is not None else CallingHours()
    calling_calendar = None
    if view.policy is not None and view.calling_marketplace is not None:
        calling_calendar = view.policy.calendar_for(view.calling_marketplace)
    placed = [a.placed_at for a in view.call_attempts if a.placed_at is not None]
    reached = next((e.at for e in view.timeline if e.kind == TimelineKind.SELLER_REACHED), None)
    worst = {target: _worst(view.sla, target) for target in SlaTarget}
    pending = [
        PendingCallRow(
            attempt=a.number,
            seller_initiated=a.seller_initiated,
            scheduled_for=a.scheduled_for,
            placed_at=a.placed_at,
            guidance=a.guidance,
        )
        for a in view.pending_calls()
        if a.placed_at is not None and not view.closed
    ]
    return CaseRow(
        case_id=view.case_id,
        run_id=view.run_id or "",
        version=version,
        seller_id=view.seller_id,
        marketplace=view.marketplace,
        status=view.status,
        opened_at=view.opened_at or min(i.opened_at for i in view.issues),
        detected_at=min((i.detected_at for i in view.issues), default=None),
        deadline=view.deadline,
        closed_at=view.closed_at,
        closure_reason=view.closure_reason,
        timezone=view.timezone,
        calling_start=hours.start,
        calling_end=hours.end,
        calling_calendar=calling_calendar,
        calling_stopped=view.calling_stopped_reason,
        attempts=len(view.call_attempts),
        next_call_at=view.next_call_at,
        callback_at=view.callback.at if view.callback is not None and not view.closed else None,
        first_attempt_at=min(placed, default=None),
        reached_at=reached,
        assigned_to=view.assigned_to,
        sla_state=view.sla_state or SlaState.OK,
        sla_first_attempt=worst[SlaTarget.FIRST_ATTEMPT],
        sla_reached=worst[SlaTarget.REACHED],
        sla_plan_review=worst[SlaTarget.PLAN_REVIEW],
        issue_types=sorted({i.type for i in view.issues}),
        pending_calls=pending,
    )


def _worst(clocks: Sequence[SlaClock], target: SlaTarget) -> str | None:
    mine = [c for c in clocks if c.target == target]
    if not mine:
        return None
    if any(c.state == ClockState.BREACHED for c in mine):
        return ClockState.BREACHED
    return mine[-1].state


# ---- reading the board -----------------------------------------------------------------------


class QueueFilter(Row):
    """The queue's filters; every one left out means "any"."""

    owner: str | None = None  # "mine": cases this specialist owns
    unassigned: bool = False
    status: str | None = None
    marketplace: str | None = None
    at_risk_within: timedelta | None = None  # deadline within this of now
    breached: bool = False  # SLA state breached


class QueueCursor(Row):
    """Where a queue page ended: the last row's deadline and case id (keyset paging)."""

    deadline: AwareDatetime | None
    case_id: str


class CallCursor(Row):
    """Where a page of pending calls ended."""

    seller_initiated: bool
    scheduled_for: AwareDatetime
    case_id: str
    attempt: int


class PendingCallItem(Row):
    """A pending call with its case's row and the seller's phone (from the directory)."""

    row: CaseRow
    call: PendingCallRow
    phone: str | None = None


class QueueItem(Row):
    """A queue row as a specialist reads it, at a moment."""

    row: CaseRow
    seconds_left: float | None
    seller_local_time: str | None  # "Tue 14:05"
    callable_now: bool


def queue_item(row: CaseRow, now: datetime) -> QueueItem:
    local = None
    callable_now = False
    if row.timezone:
        local = now.astimezone(ZoneInfo(row.timezone)).strftime("%a %H:%M")
        if row.calling_calendar is not None:
            days = calendar_windows(row.calling_calendar)
            in_window = calendar.is_callable(now, row.timezone, days)
        else:
            hours = CallingHours(start=row.calling_start, end=row.calling_end)
            in_window = calling.is_callable(now, row.timezone, hours)
        callable_now = row.calling_stopped is None and in_window
    left = (row.deadline - now).total_seconds() if row.deadline else None
    return QueueItem(row=row, seconds_left=left, seller_local_time=local, callable_now=callable_now)


class Dashboard(Row):
    """The console's numbers at a moment, all from the board."""

    at: datetime
    open_by_status: dict[str, int]
    at_risk_6h: int
    at_risk_24h: int
    # Closed in the last 30 days, and of those reached before their deadline.
    closed_30d: int
    reached_before_deadline_30d: int
    # Seconds from detection, over cases opened in the last 30 days that got there.
    first_attempt_p50_s: float | None = None
    first_attempt_p90_s: float | None = None
    reached_p50_s: float | None = None
    reached_p90_s: float | None = None
    # Deactivated cases by closure reason, closed in the last 7 and 30 days.
    deactivations_7d: dict[str, int]
    deactivations_30d: dict[str, int]
    # Cases opened in the last 30 days whose target breached.
    sla_breaches_30d: dict[str, int]

    @property
    def contact_rate_30d(self) -> float | None:
        if not self.closed_30d:
            return None
        return self.reached_before_deadline_30d / self.closed_30d


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (0 < share <= 1) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]
