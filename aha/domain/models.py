"""The shapes that cross workflow, activity and client boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from aha.domain.appeal_models import AppealView
from aha.domain.policy import Policy
from aha.domain.preferred import PreferredWindows
from aha.domain.sla import SlaClock
from aha.domain.vocabulary import (
    AccountStatus,
    CallOutcome,
    CaseStatus,
    ClosureReason,
    IssueStatus,
    NoticeState,
    ReviewDecision,
    ReviewState,
    Severity,
    SlaState,
    SlaTarget,
    StaffAlertKind,
    TimelineKind,
)

CASE_STATUSES: tuple[str, ...] = tuple(CaseStatus)
# A case never takes the appeal's statuses itself; a closed case shows them once the service
# overlays its appeal, and it is still closed then.
CLOSED_STATUSES = (
    CaseStatus.RESOLVED,
    CaseStatus.DEACTIVATED,
    CaseStatus.APPEAL_UNDER_REVIEW,
    CaseStatus.REINSTATED,
)
CALL_OUTCOMES: tuple[str, ...] = tuple(CallOutcome)

SELLER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DetectionEventBody(Strict):
    """A detection event as a detection system sends it."""

    event_id: str = Field(min_length=1, max_length=200)
    seller_id: str = Field(pattern=SELLER_ID_PATTERN)
    marketplace: str = Field(default="US", min_length=2, max_length=8)
    # A type of the catalogue in force: the service refuses others, with the known ones.
    issue_type: str
    severity: Severity
    description: str = Field(default="", max_length=4000)
    detected_at: AwareDatetime

    @field_validator("detected_at")
    @classmethod
    def in_utc(cls, value: datetime) -> datetime:
        # Deadlines are absolute UTC instants; an offset in the event must not leak into them.
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("detected_at is out of range") from None


class DetectionEvent(DetectionEventBody):
    # Who sent it, for the timeline: set by the surface that authenticated the sender.
    reported_by: str = Field(default="detector", max_length=200)
    # The catalogue's label and guidance for `issue_type`, filled by the service that accepted
    # the event, so a case never looks a type up. Empty in events from before types were data.
    label: str = ""
    guidance: list[str] = []


class ContactRequest(Strict):
    requested_by: str = Field(default="seller", max_length=200)


class ContactChange(Strict):
    changed_by: str = Field(default="system", max_length=200)


class DeadlineExtension(Strict):
    """One audited move of an issue's deadline by a supervisor."""

    at: datetime
    by: str
    from_deadline: datetime
    to_deadline: datetime
    reason: str


class Issue(Strict):
    id: str
    event_id: str
    type: str
    severity: Severity
    description: str
    detected_at: datetime
    opened_at: datetime
    deadline: datetime
    status: IssueStatus = IssueStatus.OPEN
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    # From the detection event: what people read about this issue (empty in older cases).
    label: str = ""
    guidance: list[str] = []
    # The deadline before any extension (set by the deadline edition; None in older cases),
    # and every extension since, oldest first.
    original_deadline: datetime | None = None
    extensions: list[DeadlineExtension] = []


class CallAttempt(Strict):
    number: int
    seller_initiated: bool
    scheduled_for: datetime
    placed_at: datetime | None = None
    outcome: CallOutcome | None = None
    outcome_at: datetime | None = None
    reported_by: str | None = None
    guidance: list[str] = []
    # The consent edition: why the dial did not ring (consent withdrawn, do-not-call list),
    # and what a seller-initiated call went ahead despite (re-granted for that call only).
    not_placed: str | None = None
    consent_regranted: str | None = None
    # Placed for a callback the seller scheduled (seller-initiated too, like contact me now).
    callback: bool = False


PlanItem = Annotated[str, Field(max_length=2000)]


class PlanSubmission(Strict):
    root_cause: str = Field(max_length=4000)
    corrective_actions: list[PlanItem] = Field(max_length=50)
    preventive_measures: list[PlanItem] = Field(max_length=50)
    issue_ids: list[str] = []
    submitted_by: str = "seller"


class Plan(Strict):
    root_cause: str
    corrective_actions: list[str]
    preventive_measures: list[str]
    issue_ids: list[str]
    submitted_at: datetime
    submitted_by: str
    review_state: ReviewState = ReviewState.UNDER_REVIEW
    questions: list[str] = []
    reviewed_at: datetime | None = None
    reviewed_by: str | None = None


class Review(Strict):
    decision: ReviewDecision
    questions: list[str] = []
    reviewer: str = "specialist"


class CallReport(Strict):
    attempt: int
    outcome: CallOutcome
    reported_by: str = "specialist"


class CallPlaced(Strict):
    """The dialer took the attempt at `placed_at` (sent by the dial activity)."""

    attempt: int
    placed_at: datetime


class Resolution(Strict):
    issue_id: str
    note: str = Field(max_length=4000)
    resolved_by: str = "specialist"


class Extension(Strict):
    """A supervisor moves one issue's deadline to `until`, saying why."""

    issue_id: str = Field(max_length=32)
    # Timezone-aware; the case refuses a naive time, naming `until`.
    until: datetime
    reason: str = Field(max_length=2000)
    extended_by: str = Field(default="supervisor", max_length=200)


class CallbackRequest(Strict):
    """The seller asks to be called at `at`; a new request replaces a pending one."""

    # Timezone-aware; the case refuses a naive time, naming `at`.
    at: datetime
    requested_by: str = Field(default="seller", max_length=200)


class CallbackCancel(Strict):
    cancelled_by: str = Field(default="seller", max_length=200)


class Callback(Strict):
    """A call the seller asked for at a time, pending until it is placed, replaced or
    cancelled (or the case closes)."""

    at: datetime
    requested_at: datetime
    requested_by: str


class TimelineEntry(Strict):
    at: datetime
    kind: TimelineKind
    detail: str
    who: str


class Notice(Strict):
    """One email the case decided to send, in the order it decided them, and what became of it."""

    key: str
    kind: str
    queued_at: datetime
    state: NoticeState = NoticeState.PENDING
    settled_at: datetime | None = None
    detail: str = ""


class SellerProfile(Strict):
    """What a case may know about a seller: no email, no phone number."""

    seller_id: str
    marketplace: str
    timezone: str
    has_phone: bool
    phone_version: int
    account_status: AccountStatus
    # None: the seller stored none, or the directory predates them.
    preferred_windows: PreferredWindows | None = None


class CaseStart(Strict):
    seller_id: str
    marketplace: str
    # Whether the seller was enrolled when the case opened, and why (never contact data).
    protected: bool = True
    protection: str = ""


class DetectionReceipt(Strict):
    case_id: str
    created: bool
    issue_id: str
    duplicate: bool = False


class ContactReceipt(Strict):
    attempt: int
    created: bool


class CaseView(Strict):
    case_id: str
    run_id: str | None = None
    seller_id: str
    marketplace: str
    status: CaseStatus = CaseStatus.AWAITING_CONTACT
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    deadline: datetime | None = None
    timezone: str | None = None
    reached: bool = False
    calling_stopped_reason: str | None = None
    next_call_at: datetime | None = None
    # The consent edition: the last proactive call was not placed (why, and that the team
    # should use email); cleared once a call is placed again.
    use_email_because: str | None = None
    issues: list[Issue] = []
    call_attempts: list[CallAttempt] = []
    plan: Plan | None = None
    timeline: list[TimelineEntry] = []
    policy: Policy | None = None
    protected: bool | None = None
    protection: str | None = None
    closure_reason: ClosureReason | None = None
    notices: list[Notice] = []
    # The workflow delivering the notices this case still owed when it closed, if any.
    notices_courier: str | None = None
    # The specialist who owns the case (claimed, or assigned by a supervisor), if any.
    assigned_to: str | None = None
    # Where the owner's SLA warnings go (from the tokens file), if the owner has an address.
    assigned_email: str | None = None
    # The case's SLA clocks, oldest first (a new plan starts a new review clock).
    sla: list[SlaClock] = []
    sla_state: SlaState | None = None
    # The marketplace whose calling calendar the case calls in (the seller's record at open),
    # for cases that follow calendars.
    calling_marketplace: str | None = None
    # "contact" mode: when reaching the seller lifted the deactivation deadlines (the issues'
    # deadlines are then the ends of their resolution windows), and the seller's last
    # engagement (answered call, contact me now, plan submitted, or a request for information
    # handing the turn back to the seller).
    deadline_lifted_at: datetime | None = None
    engaged_at: datetime | None = None
    # When the seller counts as disengaged if nothing happens first (None: not tracked now).
    engagement_due_at: datetime | None = None
    # The appeal of a deactivated case (its own AppealWorkflow), overlaid by the service.
    appeal: AppealView | None = None
    # The seller's preferred contact windows the case calls in, for cases that follow them.
    preferred_windows: PreferredWindows | None = None
    # The callback the seller scheduled, while it is pending (the callback edition).
    callback: Callback | None = None

    def issue(self, issue_id: str) -> Issue | None:
        return next((i for i in self.issues if i.id == issue_id), None)

    def receipt_for(self, event_id: str) -> DetectionReceipt | None:
        """The answer this case gave the first time it received `event_id`, marked duplicate."""
        for index, issue in enumerate(self.issues):
            if issue.event_id == event_id:
                return DetectionReceipt(
                    case_id=self.case_id, created=index == 0, issue_id=issue.id, duplicate=True
                )
        return None

    def open_issues(self) -> list[Issue]:
        return [i for i in self.issues if i.status == IssueStatus.OPEN]

    def pending_calls(self) -> list[CallAttempt]:
        return [a for a in self.call_attempts if a.outcome is None and a.not_placed is None]

    @property
    def closed(self) -> bool:
        return self.status in CLOSED_STATUSES


SPECIALIST_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.@:-]{0,63}$"


class OwnershipChange(Strict):
    """Claim, release or assign a case: who owns it next, and who says so."""

    # The owner after the change; None releases the case.
    specialist: str | None = Field(default=None, pattern=SPECIALIST_NAME_PATTERN)
    # Where the new owner's SLA warnings go, if anywhere.
    email: str | None = Field(default=None, max_length=320)
    # Who made the change, for the timeline ("specialist:dana", "supervisor:lee").
    by: str = Field(max_length=200)
    # A supervisor may take a case from its owner or release it for them.
    supervisor: bool = False


class StaffAlert(Strict):
    """An email to the team about one SLA clock; `key` makes it at most once."""

    key: str
    kind: StaffAlertKind
    target: SlaTarget
    case_id: str
    seller_id: str
    due_at: datetime
    # The owner when the alert was raised; a warning goes to `owner_email`.
    owner: str | None = None
    owner_email: str | None = None


class Ownership(Strict):
    assigned_to: str | None
    changed: bool


SWEEP_PAGE_SIZE = 2000


class SweepRequest(BaseModel):
    as_of: date | None = None
    seller_id: str | None = None
    page_size: int = SWEEP_PAGE_SIZE


class SweepCounts(BaseModel):
    """What a page of the enrolment sweep found, and, summed, what the sweep found."""

    evaluated: int = 0
    enrolled: int = 0
    eligible_missing_phone: int = 0
    not_eligible: int = 0
    changes: int = 0
    emails: int = 0
    failures: list[str] = []

    def add(self, other: SweepCounts, keep_failures: int = 100) -> None:
        for name in ("evaluated", "enrolled", "eligible_missing_phone", "not_eligible",
                     "changes", "emails"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures += other.failures[: max(0, keep_failures - len(self.failures))]


class SweepResult(SweepCounts):
    as_of: date
    pages: int = 0
