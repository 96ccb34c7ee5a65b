"""The one place that knows how to start, signal, update and query a case.

The CLI, the HTTP API and the demo call this; it drives the cases through the case gateway
(`aha.ports.CaseGateway`) and turns its errors into the domain's: unknown seller, no open
case, closed case, rejected action.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel

from aha.catalogue_file import shipped_catalogue
from aha.domain import appeals, case_text
from aha.domain import catalogue as issue_catalogue
from aha.domain.appeal_models import Appeal, AppealReview, AppealView
from aha.domain.board import case_row
from aha.domain.catalogue import Catalogue
from aha.domain.contact import SellerContact
from aha.domain.models import (
    CASE_STATUSES,
    CallAttempt,
    Callback,
    CallbackCancel,
    CallbackRequest,
    CallReport,
    CaseStart,
    CaseView,
    ContactReceipt,
    ContactRequest,
    DetectionEvent,
    DetectionReceipt,
    Extension,
    Issue,
    Ownership,
    OwnershipChange,
    Plan,
    PlanSubmission,
    Resolution,
    Review,
    SweepRequest,
    SweepResult,
)
from aha.domain.policy import MARKETPLACE_PATTERN as MARKETPLACE_PATTERN  # surfaces use it
from aha.domain.preferred import PreferredWindows
from aha.domain.refusals import Refusal
from aha.domain.vocabulary import AccountStatus, CaseStatus, EnrollmentState, RefusalKind
from aha.ports import (
    AlreadyStarted,
    CaseFilter,
    CaseGateway,
    CaseUpdate,
    InvalidArgument,
    NotFound,
    ProgrammeStore,
    QueryFailed,
    RunFailed,
    RunStatus,
    ServiceError,
    UpdateRefused,
    WrongNamespace,
)
from aha.ports import CaseSummary as CaseSummary  # listings' rows; the routes name it here

# Detection systems and our clocks disagree a little; more than this is a bad event.
CLOCK_SKEW = timedelta(minutes=5)
ResultT = TypeVar("ResultT")


class CaseError(Exception):
    """An action that could not be done; the message is meant for the person who asked."""

    def __init__(
        self, message: str, kind: RefusalKind | str = "", details: list[Any] | None = None
    ) -> None:
        super().__init__(message)
        # The case's name for the refusal (a RefusalKind, e.g. INVALID_PLAN); a name the
        # vocabulary lacks (a worker on other code) stays a string; "" for the service's own.
        self.kind = kind
        self.details = details or []


class UnknownSeller(CaseError):
    pass


class NoOpenCase(CaseError):
    pass


class CaseClosed(CaseError):
    pass


class Rejected(CaseError):
    """The case refused the action (an Update validator's reason): nothing was recorded."""


class InvalidInput(CaseError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message, "InvalidInput", [{"field": field, "reason": message}])


class UnknownIssueType(InvalidInput):
    """A detection's issue type is not in the catalogue in force (the message lists them)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "issue_type")


class StillClosing(CaseError):
    """The seller's previous case is still finishing; the event can be sent again shortly."""


class CaseClosing(CaseError):
    """The case has closed but its workflow has not finished yet."""


# A closing case hands its last emails over within seconds; longer means something is stuck.
CLOSING_WAIT_SECONDS = 15.0


def case_id_for(seller_id: str) -> str:
    return f"at-risk-case-{seller_id}"


class CasePage(BaseModel):
    cases: list[CaseSummary]
    next_page_token: str | None = None


class ContactUpdate(BaseModel):
    contact: SellerContact
    case_notified: bool
    enrolled_now: bool
    warnings: list[str] = []


@dataclass(frozen=True)
class SavedContact:
    before: SellerContact
    contact: SellerContact
    phone_changed: bool


async def save_contact(
    directory: ProgrammeStore,
    seller_id: str,
    *,
    email: str,
    phone: str | None,
    timezone: str,
    marketplace: str | None = None,
    name: str | None = None,
    account_type: str | None = None,
) -> SavedContact:
    """Change a known seller's contact data in the directory; Temporal is not needed."""
    before = directory.get(seller_id)
    if before is None:
        raise UnknownSeller(f"unknown seller {seller_id!r}")
    # A write can wait on a sweep's lock: keep it off the event loop.
    contact, phone_changed = await asyncio.to_thread(
        directory.upsert,
        seller_id,
        email=email.strip(),
        phone=phone.strip() if phone else None,
        timezone=timezone.strip(),
        marketplace=marketplace or before.marketplace,
        name=name,
        account_type=account_type,
    )
    return SavedContact(before, contact, phone_changed)


async def change_contact(
    directory: ProgrammeStore,
    seller_id: str,
    *,
    email: str,
    phone: str | None,
    timezone: str,
    service: Callable[[], Awaitable[CaseService]],
    changed_by: str,
    temporal_timeout: float = 10.0,
    **more: str | None,
) -> ContactUpdate:
    """Save first (the directory needs no Temporal), then tell Temporal what it can: the
    change stands even while Temporal is unreachable, and the warnings say so. `more` takes
    save_contact's other fields (marketplace, name, account_type)."""
    saved = await save_contact(
        directory, seller_id, email=email, phone=phone, timezone=timezone, **more
    )
    if not (saved.phone_changed or saved.before.timezone != saved.contact.timezone):
        return ContactUpdate(contact=saved.contact, case_notified=False, enrolled_now=False)
    try:
        case_service = await service()
    except Exception as err:
        return ContactUpdate(
            contact=saved.contact,
            case_notified=False,
            enrolled_now=False,
            warnings=[f"saved, but not told to Temporal: {_reason(err)}"],
        )
    return await case_service.announce_contact_change(saved, changed_by, temporal_timeout)


async def change_preferred_windows(
    directory: ProgrammeStore,
    seller_id: str,
    windows: PreferredWindows | None,
    *,
    service: Callable[[], Awaitable[CaseService]],
    changed_by: str,
    temporal_timeout: float = 10.0,
) -> ContactUpdate:
    """Store the seller's preferred contact windows (None or empty clears them), then tell
    the open case, which reads them with the rest of the seller's profile. As with contact
    data, the save stands while Temporal is unreachable, and the warnings say so."""
    before = directory.get(seller_id)
    if before is None:
        raise UnknownSeller(f"unknown seller {seller_id!r}")
    contact = await asyncio.to_thread(directory.set_preferred_windows, seller_id, windows)
    if contact.preferred_windows == before.preferred_windows:
        return ContactUpdate(contact=contact, case_notified=False, enrolled_now=False)
    try:
        case_service = await service()
        notified = await asyncio.wait_for(
            case_service.contact_changed(seller_id, changed_by), temporal_timeout
        )
    except Exception as err:  # any failure after the save is a warning, not an error
        return ContactUpdate(
            contact=contact,
            case_notified=False,
            enrolled_now=False,
            warnings=[f"saved, but the open case was not told: {_reason(err)}"],
        )
    return ContactUpdate(contact=contact, case_notified=notified, enrolled_now=False)


def _reason(err: BaseException) -> str:
    return str(err) or f"no answer ({type(err).__name__})"


class CaseService:
    def __init__(
        self,
        cases: CaseGateway,
        directory: ProgrammeStore,
        task_queue: str,
        catalogue: Catalogue | None = None,
    ) -> None:
        self.cases = cases
        self.directory = directory
        self.task_queue = task_queue
        # The issue types detections may carry (AHA_ISSUE_CATALOG on top of the shipped ones).
        self.catalogue = catalogue or shipped_catalogue()

    async def _describe_status(self, seller_id: str) -> RunStatus | None:
        try:
            return await self.cases.status(case_id_for(seller_id))
        except WrongNamespace as err:
            raise CaseError(f"Temporal says: {err}") from err

    # ---- starting and joining cases ------------------------------------------------------

    async def detect(self, event: DetectionEvent) -> DetectionReceipt:
        event = self.described(event)
        contact = self.directory.get(event.seller_id)
        if contact is None:
            raise UnknownSeller(
                f"seller {event.seller_id!r} is not in the directory: no case was started"
            )
        if contact.account_status == AccountStatus.DEACTIVATED:
            # A redelivered event gets its first answer, even once the account is gone.
            earlier = await self._receipt_from_closed_case(event)
            if earlier is not None:
                return earlier
            raise CaseClosed(
                f"the account of seller {event.seller_id} is already deactivated: "
                "new issues go to the appeal process, not to a new case"
            )
        if event.detected_at > datetime.now(UTC) + CLOCK_SKEW:
            raise InvalidInput(
                f"detected_at {event.detected_at.isoformat()} is in the future", "detected_at"
            )
        # Closed cases are checked before a new one may start: a redelivered event must not
        # open a second case. Rejecting reuse first makes that check race-free.
        reuse = False
        for _ in range(5):
            try:
                return await self._update_with_start(event, reuse)
            except AlreadyStarted:
                earlier = await self._receipt_from_closed_case(event)
                if earlier is not None:
                    return earlier
                reuse = True
            except CaseClosing:
                try:
                    await asyncio.wait_for(
                        self._wait_until_finished(event.seller_id), CLOSING_WAIT_SECONDS
                    )
                except TimeoutError:
                    raise StillClosing(
                        f"the previous case of seller {event.seller_id} is still closing "
                        f"after {CLOSING_WAIT_SECONDS:.0f}s; nothing was started: send the "
                        "event again shortly"
                    ) from None
                reuse = False
        raise CaseError(
            f"the case of seller {event.seller_id} keeps changing; send the event again"
        )

    def described(self, event: DetectionEvent) -> DetectionEvent:
        """The event with its type's label and guidance from the catalogue in force, so that
        the case never looks a type up; an unknown type is refused with the known ones."""
        try:
            issue_type = self.catalogue.require(event.issue_type)
        except issue_catalogue.UnknownIssueType as err:
            raise UnknownIssueType(str(err)) from None
        return event.model_copy(
            update={"label": issue_type.label, "guidance": list(issue_type.guidance)}
        )

    async def _update_with_start(self, event: DetectionEvent, reuse: bool) -> DetectionReceipt:
        try:
            return await self.cases.open_case(
                case_id_for(event.seller_id),
                self._case_start(event),
                event,
                task_queue=self.task_queue,
                reuse_closed_id=reuse,
                summary=case_text.opening_summary(event, self.catalogue),
                details=case_text.opening_details(event, self.catalogue),
            )
        except UpdateRefused as err:
            if err.kind == RefusalKind.DUPLICATE_EVENT:
                return DetectionReceipt.model_validate(err.details[0])
            if err.kind == RefusalKind.CASE_CLOSED:
                raise CaseClosing(err.message) from err
            raise _as_case_error(err) from err

    def _case_start(self, event: DetectionEvent) -> CaseStart:
        """Route by enrolment: only an enrolled seller gets the policy's protection."""
        enrollment = self.directory.enrollment(event.seller_id)
        if enrollment is not None and enrollment.state == EnrollmentState.ENROLLED:
            protection = f"enrolled since {enrollment.since.isoformat()}"
        elif enrollment is None:
            protection = "not enrolled: never evaluated"
        else:
            protection = f"not enrolled: {enrollment.state} since {enrollment.since.isoformat()}"
        return CaseStart(
            seller_id=event.seller_id,
            marketplace=event.marketplace,
            protected=enrollment is not None and enrollment.state == EnrollmentState.ENROLLED,
            protection=protection,
        )

    async def _wait_until_finished(self, seller_id: str) -> None:
        # A failed or terminated run is finished too; the next start decides what follows.
        with contextlib.suppress(Exception):
            await self.cases.case_result(case_id_for(seller_id))

    async def _receipt_from_closed_case(self, event: DetectionEvent) -> DetectionReceipt | None:
        """The answer already given for this event by the seller's last, closed case."""
        status = await self._describe_status(event.seller_id)
        if status != RunStatus.COMPLETED:
            return None
        closed = await self.cases.case_result(case_id_for(event.seller_id))
        return closed.receipt_for(event.event_id)

    # ---- acting on an open case ----------------------------------------------------------

    async def _update(
        self, seller_id: str, update: CaseUpdate, arg: BaseModel, result_type: type[ResultT]
    ) -> ResultT:
        try:
            return await self.cases.update_case(case_id_for(seller_id), update, arg, result_type)
        except UpdateRefused as err:
            raise _as_case_error(err) from err
        except NotFound:
            await self._raise_not_open(seller_id)
            raise

    async def _raise_not_open(self, seller_id: str) -> None:
        status = await self._describe_status(seller_id)
        if status is None:
            raise NoOpenCase(f"seller {seller_id} has no open case")
        if status == RunStatus.COMPLETED:
            closed = await self.cases.case_result(case_id_for(seller_id))
            raise CaseClosed(f"the case of seller {seller_id} is closed ({closed.status})")
        if status != RunStatus.RUNNING:
            raise CaseClosed(f"the case of seller {seller_id} ended: {status.value}")

    async def contact_me_now(self, seller_id: str, requested_by: str = "seller") -> ContactReceipt:
        return await self._update(
            seller_id,
            CaseUpdate.CONTACT_ME_NOW,
            ContactRequest(requested_by=requested_by),
            ContactReceipt,
        )

    async def report_call_outcome(self, seller_id: str, report: CallReport) -> CallAttempt:
        return await self._update(seller_id, CaseUpdate.REPORT_CALL_OUTCOME, report, CallAttempt)

    async def submit_plan(self, seller_id: str, submission: PlanSubmission) -> Plan:
        return await self._update(seller_id, CaseUpdate.SUBMIT_PLAN, submission, Plan)

    async def review_plan(self, seller_id: str, review: Review) -> Plan:
        return await self._update(seller_id, CaseUpdate.REVIEW_PLAN, review, Plan)

    async def resolve(self, seller_id: str, resolution: Resolution) -> Issue:
        return await self._update(seller_id, CaseUpdate.RESOLVE_ISSUE, resolution, Issue)

    async def extend(self, seller_id: str, extension: Extension) -> Issue:
        """A supervisor moves one issue's deadline (the surfaces check the role)."""
        return await self._update(seller_id, CaseUpdate.EXTEND_DEADLINE, extension, Issue)

    async def schedule_callback(self, seller_id: str, request: CallbackRequest) -> Callback:
        """The seller (or staff for it) asks to be called at a time; it replaces a pending one."""
        return await self._update(seller_id, CaseUpdate.SCHEDULE_CALLBACK, request, Callback)

    async def cancel_callback(self, seller_id: str, cancelled_by: str = "seller") -> Callback:
        """Drop the pending callback; the one cancelled is returned."""
        cancel = CallbackCancel(cancelled_by=cancelled_by)
        return await self._update(seller_id, CaseUpdate.CANCEL_CALLBACK, cancel, Callback)

    async def contact_changed(self, seller_id: str, changed_by: str = "system") -> bool:
        """Tell the seller's open case, if any, that its contact data changed."""
        if await self._describe_status(seller_id) != RunStatus.RUNNING:
            return False
        try:
            await self.cases.contact_changed(case_id_for(seller_id), changed_by)
        except NotFound:
            return False
        return True

    async def announce_contact_change(
        self, saved: SavedContact, changed_by: str, temporal_timeout: float = 10.0
    ) -> ContactUpdate:
        """Tell the open case and re-run enrolment after a saved change, as far as Temporal
        allows: the save stands whatever happens here, and the warnings say what was missed
        (the next sweep or contact change catches up)."""
        seller_id = saved.contact.seller_id
        notified, enrolled_now, warnings = False, False, []
        if saved.phone_changed or saved.before.timezone != saved.contact.timezone:
            try:
                notified = await asyncio.wait_for(
                    self.contact_changed(seller_id, changed_by), temporal_timeout
                )
            except Exception as err:  # any failure after the save is a warning, not an error
                warnings.append(f"saved, but the open case was not told: {_reason(err)}")
        if saved.phone_changed:
            # A new emergency phone can complete an enrolment: evaluate the seller at once.
            try:
                result = await asyncio.wait_for(
                    self.evaluate_enrollment(seller_id), temporal_timeout
                )
                enrolled_now = result.enrolled == 1
            except Exception as err:
                warnings.append(f"saved, but enrolment was not re-evaluated: {_reason(err)}")
        return ContactUpdate(
            contact=saved.contact,
            case_notified=notified,
            enrolled_now=enrolled_now,
            warnings=warnings,
        )

    # ---- the programme ---------------------------------------------------------------------

    async def evaluate_enrollment(
        self, seller_id: str | None = None, as_of: date | None = None
    ) -> SweepResult:
        """Run the enrolment rule now, for one seller or all of them, and wait for it."""
        if seller_id is not None and self.directory.get(seller_id) is None:
            raise UnknownSeller(f"unknown seller {seller_id!r}")
        name = f"seller-{seller_id}" if seller_id else "all"
        who = f"seller {seller_id}" if seller_id else "all sellers"
        return await self.cases.run_sweep(
            SweepRequest(seller_id=seller_id, as_of=as_of),
            f"aha-enrollment-evaluate-{name}-{uuid.uuid4().hex[:8]}",
            self.task_queue,
            summary=f"Enrolment evaluation on demand: {who}"
            + (f", as of {as_of.isoformat()}" if as_of else ""),
        )

    # ---- reading -------------------------------------------------------------------------

    async def status(self, seller_id: str) -> CaseView:
        status = await self._describe_status(seller_id)
        if status is None:
            raise NoOpenCase(f"seller {seller_id} has no case")
        case_id = case_id_for(seller_id)
        if status == RunStatus.RUNNING:
            try:
                return await self.cases.query_case(case_id)
            except QueryFailed as err:
                raise CaseError(
                    f"the case of seller {seller_id} cannot be read now: {err}"
                ) from err
        if status == RunStatus.COMPLETED:
            closed = await self._with_owed_notices(await self.cases.case_result(case_id))
            return await self._with_appeal(closed)
        raise CaseError(f"the case workflow of seller {seller_id} ended: {status.value}")

    async def explain_wait(self, waited: float, address: str) -> str:
        """Why an action got no answer in time, naming a missing worker only when it is."""
        try:
            pollers = await asyncio.wait_for(self._workflow_pollers(), timeout=3)
        except (ServiceError, TimeoutError):
            return f"no answer within {waited:.0f}s: Temporal at {address} is not answering"
        if pollers:
            return (
                f"no answer within {waited:.0f}s, although {pollers} worker(s) poll task queue "
                f"{self.task_queue!r}: the case is busy or Temporal is slow; try again shortly"
            )
        return (
            f"no answer within {waited:.0f}s: is a worker running on task queue "
            f"{self.task_queue!r} at {address}?"
        )

    async def _workflow_pollers(self) -> int:
        # The server remembers pollers for minutes: count only those seen within a poll's span.
        recent = datetime.now(UTC) - timedelta(seconds=70)
        return await self.cases.workflow_pollers(self.task_queue, recent)

    async def closed_run(self, seller_id: str, run_id: str) -> CaseView:
        """One earlier, closed case of the seller, as `status` showed it when it was the latest."""
        closed = await self.cases.case_result(case_id_for(seller_id), run_id)
        return await self._with_owed_notices(closed)

    async def _with_owed_notices(self, view: CaseView) -> CaseView:
        """A closed case whose last emails went on in their own workflow: show how they fared."""
        if view.notices_courier is None:
            return view
        try:
            delivered = await self.cases.owed_notices(view.notices_courier)
        except (ServiceError, QueryFailed, RunFailed):
            return view  # gone past retention, or not answering: the case's own record stands
        settled = {n.key: n for n in delivered}
        view.notices = [settled.get(n.key, n) for n in view.notices]
        return view

    async def list_cases(self, status: str | None = None, limit: int = 1000) -> list[CaseSummary]:
        return await self.cases.list_cases(_case_filter(status), limit)

    async def case_page(
        self,
        status: str | None = None,
        marketplace: str | None = None,
        overdue_within: timedelta | None = None,
        page_size: int = 50,
        page_token: str | None = None,
    ) -> CasePage:
        """One page of cases from Temporal visibility; pass `next_page_token` for the next."""
        token = None
        if page_token:
            try:
                token = base64.urlsafe_b64decode(page_token.encode())
            except (binascii.Error, ValueError) as err:
                raise InvalidInput(
                    f"page_token {page_token!r} is not a token we gave", "page_token"
                ) from err
        filters = _case_filter(status, marketplace, overdue_within)
        try:
            cases, next_token = await self.cases.case_page(filters, page_size, token)
        except InvalidArgument as err:
            if token is not None:
                raise InvalidInput("page_token is not a token we gave", "page_token") from err
            raise
        return CasePage(
            cases=cases,
            next_page_token=base64.urlsafe_b64encode(next_token).decode() if next_token else None,
        )

    # ---- appeals after deactivation --------------------------------------------------------

    async def appeal(self, seller_id: str, submission: PlanSubmission) -> Appeal:
        """Appeal the seller's deactivated case with a plan of action (its AppealWorkflow is
        started by the first appeal); a repeated delivery of the appeal under review gets it
        back unchanged."""
        view = await self._deactivated_case(seller_id)
        try:
            appeals.check_plan(submission)
            window = appeals.recorded_window(view)
            if window is not None and view.closed_at is not None:
                closed = appeals.window_closed(view.closed_at, window, datetime.now(UTC))
                if closed is not None:
                    raise closed
        except Refusal as refusal:
            raise _refused_here(refusal) from None
        appeal_id = self._appeal_id(view)
        assert view.closed_at is not None  # check_appealable
        start = appeals.AppealStart(
            case_id=view.case_id,
            case_run_id=view.run_id or "",
            seller_id=view.seller_id,
            marketplace=view.marketplace,
            deactivated_at=view.closed_at,
            closure_reason=view.closure_reason,
            window=window,
            row=case_row(view, 0) if view.issues else None,
        )
        try:
            return await self.cases.open_appeal(
                appeal_id,
                start,
                submission,
                task_queue=self.task_queue,
                seller_id=view.seller_id,
                marketplace=view.marketplace,
                summary=f"Appeal: seller {view.seller_id}, case {view.case_id}",
                details=(
                    f"Appeal of case {view.case_id} (run {view.run_id}), deactivated "
                    f"{view.closed_at.isoformat()} ({view.closure_reason})."
                ),
            )
        except UpdateRefused as err:
            if err.kind == RefusalKind.DUPLICATE_APPEAL and err.details:
                return Appeal.model_validate(err.details[0])
            raise _as_case_error(err) from err
        except AlreadyStarted:
            ended = await self.cases.appeal_view(appeal_id)
            if ended is not None and ended.reinstated_at is not None:
                raise Rejected(
                    f"the appeal was accepted: the account of seller {seller_id} is reinstated",
                    RefusalKind.ALREADY_REINSTATED,
                ) from None
            ends = ended.window_ends.isoformat() if ended and ended.window_ends else "earlier"
            raise Rejected(
                f"the appeal window of seller {seller_id}'s case ended at {ends}",
                RefusalKind.APPEAL_WINDOW_CLOSED,
            ) from None

    async def review_appeal(self, seller_id: str, review: AppealReview) -> Appeal:
        """Accept (the account is reactivated) or reject (with a reason) the appeal under
        review."""
        view = await self._deactivated_case(seller_id)
        if review.decision == "reject" and not review.reason.strip():
            reason = "a rejection needs a reason: the seller is told it"
            raise Rejected(
                reason, RefusalKind.INVALID_APPEAL_REVIEW, [{"field": "reason", "reason": reason}]
            )
        try:
            return await self.cases.update_case(
                self._appeal_id(view), CaseUpdate.REVIEW_APPEAL, review, Appeal
            )
        except UpdateRefused as err:
            raise _as_case_error(err) from err
        except NotFound:
            raise Rejected("no appeal is under review", RefusalKind.NO_APPEAL) from None

    async def appeal_of(self, seller_id: str) -> AppealView | None:
        """The appeal of the seller's latest case, if it was deactivated and appealed."""
        with contextlib.suppress(CaseError):
            view = await self._deactivated_case(seller_id)
            return await self.cases.appeal_view(self._appeal_id(view))
        return None

    @staticmethod
    def _appeal_id(view: CaseView) -> str:
        return appeals.appeal_id_for(view.case_id, view.run_id or "first-run")

    async def _deactivated_case(self, seller_id: str) -> CaseView:
        if self.directory.get(seller_id) is None:
            raise UnknownSeller(f"unknown seller {seller_id!r}")
        status = await self._describe_status(seller_id)
        if status is None:
            raise Rejected(
                f"seller {seller_id} has no case: there is nothing to appeal",
                RefusalKind.NOT_DEACTIVATED,
            )
        if status == RunStatus.RUNNING:
            raise Rejected(
                f"the case of seller {seller_id} is still open: submit a plan of action "
                "instead of an appeal",
                RefusalKind.NOT_DEACTIVATED,
            )
        if status != RunStatus.COMPLETED:
            raise CaseError(f"the case workflow of seller {seller_id} ended: {status.value}")
        view = await self.cases.case_result(case_id_for(seller_id))
        try:
            appeals.check_appealable(view)
        except Refusal as refusal:
            raise _refused_here(refusal) from None
        return view

    async def _with_appeal(self, view: CaseView) -> CaseView:
        if view.status != CaseStatus.DEACTIVATED:
            return view
        try:
            appeal = await self.cases.appeal_view(self._appeal_id(view))
        except (ServiceError, QueryFailed, RunFailed):
            return view  # not answering: the case's own record stands
        return view if appeal is None else appeals.overlay(view, appeal)

    # ---- ownership -------------------------------------------------------------------------

    async def claim(
        self, seller_id: str, specialist: str, by: str, email: str | None = None
    ) -> Ownership:
        """`specialist` takes the case; refused (OwnedByOther) while someone else owns it."""
        change = OwnershipChange(specialist=specialist, email=email, by=by)
        return await self._update(seller_id, CaseUpdate.CLAIM_CASE, change, Ownership)

    async def release(
        self, seller_id: str, specialist: str, by: str, supervisor: bool = False
    ) -> Ownership:
        """`specialist` gives the case back (a supervisor may release anyone's)."""
        change = OwnershipChange(specialist=specialist, by=by, supervisor=supervisor)
        return await self._update(seller_id, CaseUpdate.RELEASE_CASE, change, Ownership)

    async def assign(
        self, seller_id: str, specialist: str, by: str, email: str | None = None
    ) -> Ownership:
        """A supervisor gives the case to `specialist`, whoever owned it."""
        change = OwnershipChange(specialist=specialist, email=email, by=by, supervisor=True)
        return await self._update(seller_id, CaseUpdate.ASSIGN_CASE, change, Ownership)


def _case_filter(
    status: str | None = None,
    marketplace: str | None = None,
    overdue_within: timedelta | None = None,
) -> CaseFilter:
    # Values are checked against closed sets or strict patterns before they reach a query.
    if status is not None and status not in CASE_STATUSES:
        raise InvalidInput(
            f"unknown status {status!r}; one of: {', '.join(CASE_STATUSES)}", "status"
        )
    if marketplace is not None and not re.fullmatch(MARKETPLACE_PATTERN, marketplace):
        raise InvalidInput(
            f"marketplace {marketplace!r} is not a marketplace code, e.g. US", "marketplace"
        )
    deadline_by = None
    if overdue_within is not None:
        if overdue_within < timedelta(0):
            raise InvalidInput("overdue_within cannot be negative", "overdue_within")
        deadline_by = datetime.now(UTC) + overdue_within
    return CaseFilter(status=status, marketplace=marketplace, deadline_by=deadline_by)


def _as_case_error(err: UpdateRefused) -> CaseError:
    if err.kind is None:
        return Rejected(err.message)
    kind = refusal_kind(err.kind)
    if kind == RefusalKind.CASE_CLOSED:
        return CaseClosed(err.message, kind)
    details = list(err.details[0]) if err.details and isinstance(err.details[0], list) else []
    return Rejected(err.message, kind, details)


def _refused_here(refusal: Refusal) -> CaseError:
    """A refusal the service found itself, before asking any workflow."""
    details = [{"field": r.field, "reason": r.reason} for r in refusal.reasons]
    return Rejected(refusal.message, refusal.kind, details)


def refusal_kind(name: str) -> RefusalKind | str:
    """The vocabulary's member for a refusal's name, or the name when it has none."""
    try:
        return RefusalKind(name)
    except ValueError:
        return name
