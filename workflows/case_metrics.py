"""The case's business metrics, counted from its timeline through the SDK's workflow meter.

The workflow meter records nothing while a case replays, and recording writes no history, so
a case counts each moment once, on the run that lived it, and no patch guards these calls.
The worker serves them beside the SDK's own metrics (`aha.adapters.temporal.metrics`).
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from aha.domain.models import CaseView, TimelineEntry
    from aha.domain.vocabulary import CallOutcome, ClosureReason, TimelineKind

CASES_OPENED = "aha_cases_opened"
CASES_CLOSED = "aha_cases_closed"
CALL_ATTEMPTS = "aha_call_attempts"
DETECTION_TO_FIRST_CONTACT = "aha_detection_to_first_contact_seconds"
DEACTIVATION_LATENESS = "aha_deactivation_lateness_seconds"
SLA_CLOCKS = "aha_sla_clocks"

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
# Business time runs in hours and days, far beyond the SDK's millisecond latency buckets.
HISTOGRAM_BUCKETS: dict[str, list[float]] = {
    DETECTION_TO_FIRST_CONTACT: [
        MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR,
        12 * HOUR, DAY, 2 * DAY, 3 * DAY, 7 * DAY,
    ],
    DEACTIVATION_LATENESS: [
        1.0, 5.0, 10.0, 30.0, MINUTE, 5 * MINUTE, 15 * MINUTE, HOUR, 6 * HOUR, DAY,
    ],
}  # fmt: skip


class CaseMetrics:
    """Told of every timeline entry as the case records it, with the case as it stands."""

    def __init__(self) -> None:
        # The outcome last counted per attempt: a person's late report may replace the
        # system's "no report in time", and then counts as an outcome of its own.
        self._counted: dict[int, CallOutcome] = {}
        # The state last counted per SLA clock (by its place in the case's list).
        self._clocks: dict[int, str] = {}

    def recorded(self, entry: TimelineEntry, view: CaseView) -> None:
        if entry.kind == TimelineKind.CASE_OPENED:
            first = view.issues[0]
            self._count(
                CASES_OPENED,
                "Cases opened, by the first issue's type and severity",
                {"issue_type": first.type, "severity": str(first.severity)},
            )
        elif entry.kind == TimelineKind.CALL_OUTCOME:
            self._call_outcomes(view)
        elif entry.kind == TimelineKind.SELLER_REACHED:
            detected = min(issue.detected_at for issue in view.issues)
            self._observe(
                DETECTION_TO_FIRST_CONTACT,
                "Seconds from the first issue's detection to first reaching the seller "
                "(an answered call, or the seller pressing contact me now)",
                entry.at,
                detected,
            )
        elif entry.kind in (
            TimelineKind.SLA_WARNING,
            TimelineKind.SLA_BREACHED,
            TimelineKind.SLA_MET,
        ):
            self._sla_clocks(view)
        elif entry.kind == TimelineKind.CASE_RESOLVED:
            self._closed(ClosureReason.RESOLVED)
        elif entry.kind == TimelineKind.ACCOUNT_DEACTIVATED:
            reason = view.closure_reason or ClosureReason.DEADLINE_PASSED
            self._closed(reason)
            open_deadlines = [issue.deadline for issue in view.open_issues()]
            if reason == ClosureReason.DEADLINE_PASSED and open_deadlines:
                self._observe(
                    DEACTIVATION_LATENESS,
                    "Seconds from the missed deadline to the account's deactivation",
                    entry.at,
                    min(open_deadlines),
                )

    def _call_outcomes(self, view: CaseView) -> None:
        for attempt in view.call_attempts:
            if attempt.outcome is None or self._counted.get(attempt.number) == attempt.outcome:
                continue
            self._counted[attempt.number] = attempt.outcome
            self._count(
                CALL_ATTEMPTS,
                "Call attempts by outcome, including the system's no_answer for a call "
                "nobody reported in time or the dialer gave up on",
                {"outcome": str(attempt.outcome)},
            )

    def _sla_clocks(self, view: CaseView) -> None:
        for index, clock in enumerate(view.sla):
            if self._clocks.get(index) == clock.state or clock.state == "running":
                continue
            self._clocks[index] = clock.state
            self._count(
                SLA_CLOCKS,
                "SLA clocks that warned, breached or were met, by target and state",
                {"target": str(clock.target), "state": str(clock.state)},
            )

    def _closed(self, reason: ClosureReason) -> None:
        self._count(CASES_CLOSED, "Cases closed, by reason", {"reason": str(reason)})

    @staticmethod
    def _count(name: str, description: str, labels: dict[str, str]) -> None:
        workflow.metric_meter().create_counter(name, description).add(1, labels)

    @staticmethod
    def _observe(name: str, description: str, at: datetime, since: datetime) -> None:
        # A detector's clock may run ahead of Temporal's: never a negative duration.
        seconds = max((at - since).total_seconds(), 0.0)
        workflow.metric_meter().create_histogram_float(name, description, "s").record(seconds)
