"""Appeals after deactivation: the rules, pure. `workflows/appeal.py` is their Temporal shell.

A deactivated case run may be appealed within `appeal_window` of its closing: a plan of
action, reviewed by a specialist. Accepted, the account is reactivated; rejected (with a
reason), the seller may appeal again while the window lasts. One appeal is under review at
a time. The window bounds submissions only: an appeal sent in time is reviewed whenever.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from aha.domain import plan_parts
from aha.domain.appeal_models import Appeal, AppealReview, AppealView
from aha.domain.board import CaseRow
from aha.domain.models import CaseView, PlanSubmission
from aha.domain.policy import Policy, format_duration
from aha.domain.refusals import FieldReason, Refusal
from aha.domain.vocabulary import AppealDecision, AppealState, CaseStatus, RefusalKind

# The window when neither the case's recorded policy nor the policy in force names one: about
# what the marketplace allows in practice.
DEFAULT_APPEAL_WINDOW = timedelta(days=17)
# A case run writes its board rows from version 1 up; its appeal writes above this, so an
# appeal's row always wins over the case's last one, and a retried write never undoes a newer.
APPEAL_ROW_VERSION = 1_000_000


def appeal_id_for(case_id: str, case_run_id: str) -> str:
    return f"{case_id}/appeal/{case_run_id}"


def recorded_window(view: CaseView) -> timedelta | None:
    """The window the case's own policy named, if it did (cases before the key did not)."""
    return view.policy.appeal_window if view.policy is not None else None


def window_for(recorded: timedelta | None, current: Policy | None) -> timedelta:
    """The case's recorded window, else the policy in force's, else the default."""
    if recorded is not None:
        return recorded
    if current is not None and current.appeal_window is not None:
        return current.appeal_window
    return DEFAULT_APPEAL_WINDOW


class AppealStart(BaseModel):
    """What the service knows of the deactivated case when its appeal starts."""

    model_config = ConfigDict(extra="forbid")
    case_id: str
    case_run_id: str
    seller_id: str
    marketplace: str
    deactivated_at: datetime
    closure_reason: str | None = None
    window: timedelta | None = None  # from the case's recorded policy; None: the policy in force
    # The case's last board row: the appeal rewrites it (status, open while under review).
    row: CaseRow | None = None


def check_appealable(view: CaseView) -> None:
    """The latest case run must be closed deactivated, whatever the reason."""
    if not view.closed:
        raise Refusal(
            RefusalKind.NOT_DEACTIVATED,
            f"the case of seller {view.seller_id} is still open: submit a plan of action "
            "instead of an appeal",
        )
    if view.status == CaseStatus.RESOLVED or view.closed_at is None:
        raise Refusal(
            RefusalKind.NOT_DEACTIVATED,
            f"the case of seller {view.seller_id} was resolved, not deactivated: "
            "there is nothing to appeal",
        )


def plan_problems(submission: PlanSubmission) -> list[FieldReason]:
    """The same parts a plan needs: a root cause, corrective actions, preventive measures."""
    problems = plan_parts.missing_parts(submission)
    if submission.issue_ids:
        problems.append(FieldReason("issue_ids", "an appeal is for the whole case: no issue_ids"))
    return problems


def check_plan(submission: PlanSubmission) -> None:
    problems = plan_problems(submission)
    if problems:
        message = "; ".join(p.reason for p in problems)
        raise Refusal(RefusalKind.INVALID_PLAN, message, problems)


def window_closed(deactivated_at: datetime, window: timedelta, now: datetime) -> Refusal | None:
    ends = deactivated_at + window
    if now < ends:
        return None
    return Refusal(
        RefusalKind.APPEAL_WINDOW_CLOSED,
        f"the appeal window of {format_duration(window)} after the deactivation at "
        f"{deactivated_at.isoformat()} ended at {ends.isoformat()}",
    )


def same_plan(appeal: Appeal, submission: PlanSubmission) -> bool:
    return (
        appeal.root_cause == submission.root_cause
        and appeal.corrective_actions == submission.corrective_actions
        and appeal.preventive_measures == submission.preventive_measures
    )


class AppealCase:
    """One deactivated case run's appeal: its submissions, reviews and window."""

    def __init__(self, start: AppealStart, appeal_id: str) -> None:
        self.start = start
        self.view = AppealView(
            appeal_id=appeal_id,
            case_id=start.case_id,
            case_run_id=start.case_run_id,
            seller_id=start.seller_id,
            deactivated_at=start.deactivated_at,
        )
        if start.window is not None:
            self.set_window(start.window)

    def set_window(self, window: timedelta) -> None:
        self.view.window_ends = self.start.deactivated_at + window

    @property
    def window(self) -> timedelta | None:
        ends = self.view.window_ends
        return None if ends is None else ends - self.start.deactivated_at

    def refresh_status(self) -> None:
        if self.view.reinstated_at is not None:
            self.view.status = CaseStatus.REINSTATED
        elif self.view.under_review() is not None:
            self.view.status = CaseStatus.APPEAL_UNDER_REVIEW
        else:
            self.view.status = CaseStatus.DEACTIVATED

    # ---- appealing -----------------------------------------------------------------------

    def duplicate_of(self, submission: PlanSubmission) -> Appeal | None:
        """The appeal under review this submission repeats, word for word (a redelivery)."""
        current = self.view.under_review()
        return current if current is not None and same_plan(current, submission) else None

    def check_appeal(self, submission: PlanSubmission, now: datetime) -> None:
        if self.view.reinstated_at is not None:
            raise Refusal(
                RefusalKind.ALREADY_REINSTATED,
                f"the appeal was accepted: the account of seller {self.view.seller_id} "
                "is reinstated",
            )
        if self.view.under_review() is not None:
            raise Refusal(
                RefusalKind.APPEAL_UNDER_REVIEW,
                "an appeal is already under review: wait for its decision",
            )
        check_plan(submission)
        window = self.window
        if window is not None:
            closed = window_closed(self.start.deactivated_at, window, now)
            if closed is not None:
                raise closed

    def appeal(self, submission: PlanSubmission, now: datetime) -> Appeal:
        appeal = Appeal(
            number=len(self.view.appeals) + 1,
            root_cause=submission.root_cause.strip(),
            corrective_actions=[item.strip() for item in submission.corrective_actions],
            preventive_measures=[item.strip() for item in submission.preventive_measures],
            submitted_at=now,
            submitted_by=submission.submitted_by,
        )
        self.view.appeals.append(appeal)
        self.refresh_status()
        return appeal

    # ---- reviewing -----------------------------------------------------------------------

    def check_review(self, review: AppealReview) -> None:
        if self.view.under_review() is None:
            raise Refusal(RefusalKind.NO_APPEAL, "no appeal is under review")
        if review.decision == AppealDecision.REJECT and not review.reason.strip():
            reason = "a rejection needs a reason: the seller is told it"
            raise Refusal(
                RefusalKind.INVALID_APPEAL_REVIEW, reason, [FieldReason("reason", reason)]
            )

    def review(self, review: AppealReview, now: datetime) -> Appeal:
        appeal = self.view.under_review()
        assert appeal is not None  # check_review ran first
        appeal.state = (
            AppealState.ACCEPTED
            if review.decision == AppealDecision.ACCEPT
            else AppealState.REJECTED
        )
        appeal.decided_at = now
        appeal.decided_by = review.reviewer
        appeal.reason = review.reason.strip()
        if appeal.state == AppealState.ACCEPTED:
            self.view.reinstated_at = now
        self.refresh_status()
        return appeal.model_copy()

    # ---- the end -------------------------------------------------------------------------

    def done(self, now: datetime) -> bool:
        """Reinstated, or the window passed with nothing left to review."""
        if self.view.reinstated_at is not None:
            return True
        ends = self.view.window_ends
        return self.view.under_review() is None and ends is not None and now >= ends

    def board_row(self, version: int) -> CaseRow | None:
        """The case's row as the appeal shows it: in the queue (open) while under review."""
        row = self.start.row
        if row is None:
            return None
        under_review = self.view.status == CaseStatus.APPEAL_UNDER_REVIEW
        return row.model_copy(
            update={
                "version": APPEAL_ROW_VERSION + version,
                "status": self.view.status.value,
                "closed_at": None if under_review else row.closed_at,
                # No deactivation deadline runs for an appeal: the queue puts it last.
                "deadline": None if under_review else row.deadline,
                "next_call_at": None,
                "pending_calls": [],
                "calling_stopped": "appeal under review" if under_review else row.calling_stopped,
            }
        )


def overlay(view: CaseView, appeal: AppealView) -> CaseView:
    """The closed case as every surface shows it once it has an appeal."""
    shown = view.model_copy(update={"appeal": appeal})
    if appeal.status != CaseStatus.DEACTIVATED:
        shown.status = appeal.status
    return shown
