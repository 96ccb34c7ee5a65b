"""What the activities and the service need of the world outside the domain, as small Protocols.

The adapters in `aha.adapters` stand behind them (SQLite, SMTP, the dialers, Temporal).
Signatures carry only domain types and plain Python (no connection, cursor or client types),
so another store (PostgreSQL), mailer or gateway can stand behind the same port.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel

from aha.domain.appeal_models import Appeal, AppealView
from aha.domain.appeals import AppealStart
from aha.domain.board import (
    CallCursor,
    CaseRow,
    Dashboard,
    PendingCallItem,
    QueueCursor,
    QueueFilter,
)
from aha.domain.calls import CallTask
from aha.domain.consent import CallConsent, DoNotCall
from aha.domain.contact import SellerContact
from aha.domain.models import (
    CallReport,
    CaseStart,
    CaseView,
    DetectionEvent,
    DetectionReceipt,
    Notice,
    SweepRequest,
    SweepResult,
)
from aha.domain.preferred import PreferredWindows
from aha.domain.programme import Enrollment, ImportReport
from aha.domain.vocabulary import AccountStatus

ResultT = TypeVar("ResultT")

# ---- the seller directory and the programme's records ----------------------------------------


class SellerDirectory(Protocol):
    """Sellers' contact data: what a case may know of a seller, and its account status."""

    def get(self, seller_id: str) -> SellerContact | None: ...

    def upsert(
        self,
        seller_id: str,
        *,
        email: str,
        phone: str | None,
        timezone: str,
        marketplace: str = "US",
        name: str | None = None,
        account_type: str | None = None,
    ) -> tuple[SellerContact, bool]:
        """Store checked contact data (InvalidContact if it is not); the flag says whether
        the phone number changed. A phone or account type left out keeps what is stored."""
        ...

    def set_account_status(self, seller_id: str, status: AccountStatus) -> None: ...

    def set_preferred_windows(
        self, seller_id: str, windows: PreferredWindows | None
    ) -> SellerContact:
        """Store the seller's preferred contact windows (None or empty: none); LookupError
        for an unknown seller."""
        ...


class SellerPages(Protocol):
    """The directory read in pages, for a sweep over every seller."""

    def contacts(self, seller_ids: Sequence[str]) -> dict[str, SellerContact]: ...

    def seller_page(self, after: str, limit: int) -> list[str]: ...

    def page_starts(self, size: int) -> list[str]:
        """Cursors that split all sellers into pages of `size`: each page is `> cursor`."""
        ...


class RatingStore(Protocol):
    """Daily AHR readings."""

    def record_reading(
        self, seller_id: str, day: date, score: int, today: date | None = None
    ) -> None: ...

    def record_readings(
        self,
        readings: Sequence[tuple[str, date, int]],
        today: date | None = None,
        positions: Sequence[int] | None = None,
    ) -> ImportReport: ...

    def readings(self, seller_id: str) -> dict[date, int]: ...

    def rating_summaries(
        self, seller_ids: Sequence[str], window_start: date, as_of: date, min_score: int
    ) -> dict[str, tuple[date | None, int]]:
        """Per seller: the first reading up to `as_of`, and the window's days at `min_score`+."""
        ...


class EnrollmentStore(Protocol):
    def enrollment(self, seller_id: str) -> Enrollment | None: ...

    def enrollments(self, seller_ids: Iterable[str]) -> dict[str, Enrollment]: ...

    def save_enrollments(self, records: Iterable[Enrollment]) -> None: ...


class NotificationLedger(Protocol):
    """The older per-key record of notifications sent (enrolment emails use it)."""

    def was_sent(self, key: str) -> bool: ...

    def sent_among(self, keys: Sequence[str]) -> set[str]:
        """Which of `keys` were sent: one look-up for a batch of keys about to be sent."""
        ...

    def record_sent(self, key: str, channel: str) -> None: ...


class SentNotifications(Protocol):
    def ledger(self) -> AbstractContextManager[NotificationLedger]:
        """The ledger over one connection held open, for a loop over thousands of keys;
        every record still commits on its own, before the next send."""
        ...


class ProgrammeStore(
    SellerDirectory, SellerPages, RatingStore, EnrollmentStore, SentNotifications, Protocol
):
    """The directory with the programme's records, as the sweep and the service use it."""


# ---- the delivery ledger -------------------------------------------------------------------

ClaimOutcome = Literal["claimed", "already_sent", "busy", "sealed"]


class Claim(Protocol):
    """A held claim on one step; `mark_sent` as soon as the step was taken."""

    outcome: ClaimOutcome

    def mark_sent(self) -> None: ...


class DeliveryLedger(Protocol):
    """Who may send a notification or place a call, and what already went.

    A sender claims a step's key before acting, so only one of several workers acts, and
    marks it sent right after the mail server or dialer took it. A claim whose holder died
    expires after `hold`. Once a run is sealed, steps fenced by it are refused ("sealed").
    """

    def claim(
        self, key: str, channel: str, hold: timedelta, fence: str | None = None
    ) -> AbstractContextManager[Claim]:
        """Claim `key` for `hold`; a claim left unmarked when the block ends is released."""
        ...

    def seal(self, run_key: str) -> None: ...

    def is_sealed(self, run_key: str) -> bool: ...


# ---- mail ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    body: str
    key: str  # the step's idempotency key: a mail system can drop a copy by it
    kind: str
    seller_id: str


class MailUnavailable(Exception):
    """The mail server could not be reached or failed: a retry may succeed.

    The message names the failure's type only, never an address.
    """


class MailRejected(Exception):
    """The mail server refused the message: retrying the same message will not help."""


class MailConnection(Protocol):
    def send(self, email: OutgoingEmail) -> None:
        """Returns once the server accepted the message (MailRejected, MailUnavailable)."""
        ...


class Mailer(Protocol):
    def connect(self) -> AbstractContextManager[MailConnection]:
        """An open connection (MailUnavailable if none); closing it ends the session, so a
        step can be marked sent between the server's acceptance and the goodbye."""
        ...


# ---- calls -----------------------------------------------------------------------------------


class Dialer(Protocol):
    """Hands a call attempt to whoever places it: a specialist, a telephony provider."""

    async def dial(self, task: CallTask, phone: str) -> None: ...


class PlacementAnnouncer(Protocol):
    """Tells the case a call was handed to the dialer, before the activity's completion does."""

    async def call_placed(self, task: CallTask, placed_at: datetime) -> None: ...


class CallOutcomes(Protocol):
    """Where a telephony provider's callback reports how a call went."""

    async def report(self, task: CallTask, report: CallReport) -> None: ...


class CallConsents(Protocol):
    """Sellers' consent to calls and the do-not-call list, read just before every dial.

    Numbers are stored in E.164: `add` and `remove` normalise what they are given (or raise
    InvalidDoNotCall); `listed` answers None for a number that cannot be normalised."""

    def consent(self, seller_id: str) -> CallConsent:
        """The seller's standing answer (consented when never asked)."""
        ...

    def set_consent(self, seller_id: str, consent: bool, changed_by: str) -> CallConsent: ...

    def listed(self, number: str) -> DoNotCall | None: ...

    def add(self, number: str, reason: str, added_by: str) -> DoNotCall:
        """List the number (a number already listed keeps its first entry's time, gets the
        new reason)."""
        ...

    def remove(self, number: str) -> bool:
        """Unlist the number; False when it was not listed."""
        ...

    def entries(self) -> list[DoNotCall]: ...


# ---- page sessions ---------------------------------------------------------------------------


class SignedOutSessions(Protocol):
    """Page sessions signed out before they expire, shared by every API process."""

    def sign_out(self, nonce: str, until: float) -> None:
        """Refuse the session `nonce` until `until` (seconds since the epoch)."""
        ...

    def is_signed_out(self, nonce: str) -> bool: ...


# ---- the workflow service --------------------------------------------------------------------


class CaseBoard(Protocol):
    """One row per case run, written by the case, read by the console (`aha.domain.board`)."""

    def record(self, row: CaseRow) -> bool:
        """Keep `row` unless the board holds this run at the same or a newer version; whether
        it was kept. A case id's newer run replaces its older one in the queue."""
        ...

    def row(self, case_id: str) -> CaseRow | None:
        """The newest run of a case id, open or closed."""
        ...

    def queue(
        self,
        filters: QueueFilter,
        now: datetime,
        limit: int,
        after: QueueCursor | None = None,
    ) -> tuple[list[CaseRow], int]:
        """Open cases matching `filters`, by deadline (then case id), `limit` of them after
        `after`; and how many match in all."""
        ...

    def pending_calls(self, limit: int, after: CallCursor | None = None) -> list[PendingCallItem]:
        """Dialled attempts of open cases awaiting an outcome: seller-initiated first, then by
        when they were scheduled (then case id, attempt), `limit` after `after`."""
        ...

    def dashboard(self, now: datetime) -> Dashboard: ...


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"
    TERMINATED = "terminated"
    CONTINUED_AS_NEW = "continued_as_new"
    TIMED_OUT = "timed_out"


class CaseUpdate(StrEnum):
    """The case's updates, by their public names."""

    CONTACT_ME_NOW = "contact_me_now"
    REPORT_CALL_OUTCOME = "report_call_outcome"
    SUBMIT_PLAN = "submit_plan"
    REVIEW_PLAN = "review_plan"
    RESOLVE_ISSUE = "resolve_issue"
    CLAIM_CASE = "claim_case"
    RELEASE_CASE = "release_case"
    ASSIGN_CASE = "assign_case"
    EXTEND_DEADLINE = "extend_deadline"
    SCHEDULE_CALLBACK = "schedule_callback"
    CANCEL_CALLBACK = "cancel_callback"
    # The appeal workflow's (linked to a deactivated case run).
    SUBMIT_APPEAL = "submit_appeal"
    REVIEW_APPEAL = "review_appeal"


class CaseSummary(BaseModel):
    """A case as a listing shows it, from its search attributes."""

    case_id: str
    seller_id: str | None
    status: str | None
    marketplace: str | None
    deadline: datetime | None
    issue_types: list[str]
    call_attempts: int | None
    workflow_status: str


@dataclass(frozen=True)
class CaseFilter:
    """Which cases a listing wants; the values have been checked already."""

    status: str | None = None
    marketplace: str | None = None
    deadline_by: datetime | None = None  # only running cases whose deadline is before this


class GatewayError(Exception):
    """The workflow service did not do what was asked; the message says why."""


class ServiceError(GatewayError):
    """The workflow service failed to answer (unreachable, overloaded, refused the call)."""


class NotFound(ServiceError):
    """No such workflow (or run) as far as the service knows."""


class WrongNamespace(NotFound):
    """The namespace itself is unknown: a setup mistake, not a missing case."""


class InvalidArgument(ServiceError):
    pass


class AlreadyStarted(GatewayError):
    """The workflow id's last run is closed and the start was told not to reuse it."""


class UpdateRefused(GatewayError):
    """The workflow refused an update (its validator or handler raised): nothing changed
    unless the handler says so. `kind` is the refusal's name, `details` what it carried."""

    def __init__(self, message: str, kind: str | None, details: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.details = list(details)


class QueryFailed(GatewayError):
    pass


class RunFailed(GatewayError):
    """The run ended in failure: it has no result."""


class CaseGateway(Protocol):
    """The case workflows as the service drives them, by name.

    Every method may raise ServiceError (or its NotFound) when the service fails.
    """

    async def open_case(
        self,
        case_id: str,
        start: CaseStart,
        event: DetectionEvent,
        *,
        task_queue: str,
        reuse_closed_id: bool,
        summary: str,
        details: str,
    ) -> DetectionReceipt:
        """Update-with-start: the event joins the open case, or opens one (AlreadyStarted
        when the id's last run closed and `reuse_closed_id` is false; UpdateRefused)."""
        ...

    async def status(self, workflow_id: str) -> RunStatus | None:
        """The latest run's status; None when there is no such workflow."""
        ...

    async def run_state(
        self, case_id: str, run_id: str
    ) -> tuple[RunStatus, datetime | None] | None:
        """One run's status and when it closed; None when the run is gone (past retention)."""
        ...

    async def case_result(self, case_id: str, run_id: str | None = None) -> CaseView:
        """The closed case (waits for a running one; RunFailed if it failed)."""
        ...

    async def query_case(self, case_id: str) -> CaseView:
        """The running case as it stands now (QueryFailed)."""
        ...

    async def update_case(
        self, case_id: str, update: CaseUpdate, arg: BaseModel, result_type: type[ResultT]
    ) -> ResultT:
        """An update to the case's latest run (UpdateRefused, NotFound)."""
        ...

    async def contact_changed(self, case_id: str, changed_by: str) -> None:
        """Signal the case that the seller's contact data changed (NotFound)."""
        ...

    async def owed_notices(self, courier_id: str) -> list[Notice]:
        """The notices a closed case handed to its courier, as they fared so far."""
        ...

    async def run_sweep(
        self, request: SweepRequest, workflow_id: str, task_queue: str, summary: str | None = None
    ) -> SweepResult:
        """Run an enrolment sweep and wait for its result."""
        ...

    async def list_cases(self, filters: CaseFilter, limit: int) -> list[CaseSummary]: ...

    async def case_page(
        self, filters: CaseFilter, page_size: int, page_token: bytes | None
    ) -> tuple[list[CaseSummary], bytes | None]:
        """One page and the next page's token (InvalidArgument for a token not ours)."""
        ...

    async def workflow_pollers(self, task_queue: str, seen_since: datetime) -> int:
        """How many workers polled the task queue for workflow tasks since `seen_since`."""
        ...

    async def open_appeal(
        self,
        appeal_id: str,
        start: AppealStart,
        submission: BaseModel,
        *,
        task_queue: str,
        seller_id: str,
        marketplace: str,
        summary: str,
        details: str,
    ) -> Appeal:
        """Update-with-start of the appeal workflow: the appeal joins the running one or
        starts it (AlreadyStarted when it has ended; UpdateRefused). Reviews go through
        `update_case` with the appeal's id."""
        ...

    async def appeal_view(self, appeal_id: str) -> AppealView | None:
        """The appeal as it stands (running) or ended (its result); None if there is none."""
        ...
