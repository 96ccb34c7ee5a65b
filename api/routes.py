"""The /v1 routes: a thin layer over CaseService, the same code the CLI uses."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, Signer

from aha.board_reads import QueuePage
from aha.domain import calendar, preferred
from aha.domain.board import OPEN_STATUSES, QueueFilter
from aha.domain.calling import local_day
from aha.domain.consent import CallConsent
from aha.domain.contact import SellerContact
from aha.domain.models import (
    CASE_STATUSES,
    CallAttempt,
    Callback,
    CallbackRequest,
    CallReport,
    CaseView,
    ContactReceipt,
    DetectionEvent,
    DetectionEventBody,
    Extension,
    Issue,
    Ownership,
    Plan,
    PlanSubmission,
    Resolution,
    Review,
)
from aha.domain.policy import parse_duration
from aha.domain.preferred import PreferredWindows
from aha.service import MARKETPLACE_PATTERN, CasePage, ContactUpdate
from api.auth import Identity
from api.bodies import (
    AhrBatch,
    AhrBody,
    AhrReading,
    AhrReport,
    AssignBody,
    CallbackBody,
    ConsentBody,
    ContactBody,
    ContactSaved,
    DetectionAccepted,
    ExtendBody,
    OutcomeBody,
    PendingCalls,
    PlanBody,
    PreferredWindowsView,
    RejectedReading,
    ResolveBody,
    ReviewBody,
)
from api.errors import ApiError, ErrorBody, invalid
from api.state import ApiState, state_of

bearer = HTTPBearer(auto_error=False, description="a token from the AHA_API_TOKENS file")


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "malformed JSON",
        401: "missing or unknown token",
        403: "the token's role may not do this",
        404: "unknown seller, no case, or another seller's route",
        409: "the case is closed or the action no longer applies",
        413: "body too large",
        422: "invalid body or parameters: `fields` says which and why",
        503: "Temporal or the case worker did not answer",
    }
    return {code: {"model": ErrorBody, "description": described[code]} for code in codes}


AUTH = (401, 403)
SELLER_ACTION = _errors(400, *AUTH, 404, 409, 413, 422, 503)
READ = _errors(*AUTH, 404, 409, 422, 503)


State = Annotated[ApiState, Depends(state_of)]


def allow(*roles: str, own_seller: bool = False) -> Callable[..., Awaitable[Identity]]:
    """A dependency admitting `roles`, and, on `/sellers/{seller_id}/...`, that seller.
    A supervisor may do all a specialist may: admitting specialists admits supervisors."""
    admitted = {*roles, "supervisor"} if "specialist" in roles else set(roles)

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Identity:
        # `credentials` documents the scheme in OpenAPI; RequireToken has already checked it.
        state = state_of(request)
        identity: Identity | None = getattr(request.state, "identity", None)
        if identity is None:
            raise ApiError(401, "unauthorized", "send a valid token: Authorization: Bearer ...")
        seller_id: str | None = request.path_params.get("seller_id")
        if identity.seller_id is not None:
            if seller_id is not None and seller_id != identity.seller_id:
                # The same answer as for a seller that does not exist.
                raise unknown_seller(seller_id)
            if not own_seller or seller_id is None:
                raise ApiError(403, "forbidden", "a seller's token may not do this")
        elif identity.role not in admitted:
            raise ApiError(403, "forbidden", f"role {identity.role} may not do this")
        if seller_id is not None and state.store.get(seller_id) is None:
            raise unknown_seller(seller_id)
        return identity

    return check


def unknown_seller(seller_id: str) -> ApiError:
    return ApiError(404, "unknown_seller", f"unknown seller {seller_id!r}")


SellerId = Annotated[str, Path(max_length=64, description="the seller's id")]
MAX_OVERDUE_WITHIN = timedelta(days=3650)
router = APIRouter(prefix="/v1")


@router.post(
    "/detections",
    tags=["intake"],
    status_code=202,
    response_model=DetectionAccepted,
    responses=_errors(400, *AUTH, 404, 409, 413, 422, 503),
    summary="Report a detection event (detector)",
)
async def post_detection(
    body: DetectionEventBody,
    response: Response,
    state: State,
    who: Annotated[Identity, Depends(allow("detector"))],
) -> DetectionAccepted:
    """Opens the seller's case, or adds the issue to it. Idempotent by `event_id`: a repeated
    event gets the first answer again (with `Idempotent-Replayed: true`) and changes nothing."""
    event = DetectionEvent(**body.model_dump(), reported_by=who.who)
    service = await state.service()
    receipt = await state.within(service.detect(event))
    if receipt.duplicate:
        response.headers["Idempotent-Replayed"] = "true"
    return DetectionAccepted(
        case_id=receipt.case_id, created=receipt.created, issue_id=receipt.issue_id
    )


@router.get(
    "/sellers/{seller_id}/case",
    tags=["cases"],
    response_model=CaseView,
    responses=READ,
    summary="The seller's case, as `aha status --json` shows it "
    "(specialist, supervisor, the seller)",
)
async def get_case(
    seller_id: SellerId,
    state: State,
    who: Annotated[Identity, Depends(allow("specialist", own_seller=True))],
) -> CaseView:
    return await state.within((await state.service()).status(seller_id))


@router.post(
    "/sellers/{seller_id}/case/contact-me-now",
    tags=["seller"],
    response_model=ContactReceipt,
    responses=_errors(*AUTH, 404, 409, 503),
    summary="The seller asks to be called now",
)
async def contact_me_now(
    seller_id: SellerId,
    state: State,
    who: Annotated[Identity, Depends(allow(own_seller=True))],
) -> ContactReceipt:
    """`created` is false when a call the seller asked for is already on its way."""
    service = await state.service()
    return await state.within(service.contact_me_now(seller_id, requested_by=who.who))


@router.post(
    "/sellers/{seller_id}/case/callback",
    tags=["seller"],
    response_model=Callback,
    responses=SELLER_ACTION,
    summary="The seller asks to be called at a time (the seller, specialist, supervisor)",
)
async def schedule_callback(
    seller_id: SellerId,
    body: CallbackBody,
    state: State,
    who: Annotated[Identity, Depends(allow("specialist", own_seller=True))],
) -> Callback:
    """Replaces a pending callback. 422 naming `at` when it has no time zone, is in the past
    or is not before the case's deadline; 409 on a closed case, a case without a working
    phone, or one opened before scheduled callbacks."""
    request = CallbackRequest(at=body.at, requested_by=who.who)
    return await state.within((await state.service()).schedule_callback(seller_id, request))


@router.delete(
    "/sellers/{seller_id}/case/callback",
    tags=["seller"],
    response_model=Callback,
    responses=_errors(*AUTH, 404, 409, 503),
    summary="Cancel the pending callback (the seller, specialist, supervisor)",
)
async def cancel_callback(
    seller_id: SellerId,
    state: State,
    who: Annotated[Identity, Depends(allow("specialist", own_seller=True))],
) -> Callback:
    """Answers with the callback cancelled; 409 (`no_callback`) when none is pending."""
    return await state.within((await state.service()).cancel_callback(seller_id, who.who))


@router.post(
    "/sellers/{seller_id}/case/plan",
    tags=["seller"],
    response_model=Plan,
    responses=SELLER_ACTION,
    summary="The seller submits a plan of action",
)
async def submit_plan(
    seller_id: SellerId,
    body: PlanBody,
    state: State,
    who: Annotated[Identity, Depends(allow(own_seller=True))],
) -> Plan:
    """422 with the case's reasons, field by field, when the plan is incomplete."""
    submission = PlanSubmission(**body.model_dump(), submitted_by=who.who)
    return await state.within((await state.service()).submit_plan(seller_id, submission))


@router.post(
    "/sellers/{seller_id}/case/calls/{attempt}/outcome",
    tags=["calls"],
    response_model=CallAttempt,
    responses=SELLER_ACTION,
    summary="Report a call attempt's outcome (telephony, specialist, supervisor)",
)
async def call_outcome(
    seller_id: SellerId,
    attempt: Annotated[int, Path(ge=1, le=10_000)],
    body: OutcomeBody,
    state: State,
    who: Annotated[Identity, Depends(allow("telephony", "specialist"))],
) -> CallAttempt:
    report = CallReport(attempt=attempt, outcome=body.outcome, reported_by=who.who)
    return await state.within((await state.service()).report_call_outcome(seller_id, report))


@router.post(
    "/sellers/{seller_id}/case/review",
    tags=["specialist"],
    response_model=Plan,
    responses=SELLER_ACTION,
    summary="Review the plan: accept, or ask for more information (specialist, supervisor)",
)
async def review_plan(
    seller_id: SellerId,
    body: ReviewBody,
    state: State,
    who: Annotated[Identity, Depends(allow("specialist"))],
) -> Plan:
    """`request_info` needs at least one question and makes a call required."""
    review = Review(
        decision=body.decision,
        questions=body.questions,
        reviewer=who.who,
    )
    return await state.within((await state.service()).review_plan(seller_id, review))


@router.post(
    "/sellers/{seller_id}/case/issues/{issue_id}/resolve",
    tags=["specialist"],
    response_model=Issue,
    responses=SELLER_ACTION,
    summary="Resolve one issue directly (specialist, supervisor)",
)
async def resolve_issue(
    seller_id: SellerId,
    issue_id: Annotated[str, Path(max_length=32)],
    body: ResolveBody,
    state: State,
    who: Annotated[Identity, Depends(allow("specialist"))],
) -> Issue:
    resolution = Resolution(issue_id=issue_id, note=body.note, resolved_by=who.who)
    return await state.within((await state.service()).resolve(seller_id, resolution))


@router.get(
    "/cases",
    tags=["cases"],
    response_model=CasePage,
    responses=_errors(*AUTH, 422, 503),
    summary="Cases from Temporal visibility, a page at a time (specialist, supervisor)",
)
async def list_cases(
    state: State,
    who: Annotated[Identity, Depends(allow("specialist"))],
    status: Annotated[str | None, Query(description=" | ".join(CASE_STATUSES))] = None,
    marketplace: Annotated[str | None, Query(max_length=8)] = None,
    overdue_within: Annotated[
        str | None,
        Query(max_length=32, description="open cases whose deadline falls within, e.g. 6h"),
    ] = None,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 50,
    page_token: Annotated[str | None, Query(max_length=4096)] = None,
) -> CasePage:
    # An empty filter (`?status=`) is no filter, as forms and query builders send it.
    status, marketplace = status or None, marketplace or None
    overdue_within, page_token = overdue_within or None, page_token or None
    within = None
    if overdue_within is not None:
        try:
            within = parse_duration(overdue_within)
        except (ValueError, OverflowError) as err:
            raise invalid(
                "overdue_within", f"{overdue_within!r} is not a duration such as 6h or 90m"
            ) from err
        if within > MAX_OVERDUE_WITHIN:
            raise invalid("overdue_within", "at most 3650d")
    # Page tokens are signed: a token we did not give is refused here, not sent to Temporal
    # (which would retry on it for seconds before failing).
    signer = Signer(state.secret, salt="aha-case-page-token")
    visibility_token = None
    if page_token is not None:
        try:
            visibility_token = signer.unsign(page_token).decode()
        except BadSignature as err:
            raise invalid("page_token", "not a token this service gave") from err
    service = await state.service()
    page = await state.within(
        service.case_page(
            status, marketplace, within, page_size=page_size, page_token=visibility_token
        )
    )
    if page.next_page_token:
        page.next_page_token = signer.sign(page.next_page_token).decode()
    return page


@router.get(
    "/calls/pending",
    tags=["calls"],
    response_model=PendingCalls,
    responses=_errors(*AUTH, 422, 503),
    summary="The call work queue: dialled attempts waiting for an outcome, a page at a time "
    "(specialist, supervisor)",
)
async def pending_calls(
    state: State,
    who: Annotated[Identity, Depends(allow("specialist"))],
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
    page_token: Annotated[str | None, Query(max_length=4096)] = None,
) -> PendingCalls:
    """Seller-initiated calls first, then the oldest; every open case's calls, with no cap:
    follow `next_page_token` until it is null."""
    page = await state.reads.pending_calls(page_size, page_token or None)
    return PendingCalls(calls=page.calls, next_page_token=page.next_page_token)


MAX_AT_RISK_WITHIN = timedelta(days=3650)


@router.get(
    "/queue",
    tags=["specialist"],
    response_model=QueuePage,
    responses=_errors(*AUTH, 422, 503),
    summary="The work queue: open cases by time left to the deadline (specialist, supervisor)",
)
async def queue(
    state: State,
    who: Annotated[Identity, Depends(allow("specialist"))],
    mine: Annotated[bool, Query(description="only the cases the caller owns")] = False,
    unassigned: Annotated[bool, Query(description="only the cases nobody owns")] = False,
    owner: Annotated[
        str | None,
        Query(
            max_length=64,
            description="only this specialist's cases (supervisor; a "
            "specialist may name only themselves)",
        ),
    ] = None,
    status: Annotated[
        str | None, Query(max_length=32, description=" | ".join(OPEN_STATUSES))
    ] = None,
    marketplace: Annotated[str | None, Query(max_length=8)] = None,
    at_risk_within: Annotated[
        str | None,
        Query(max_length=32, description="only cases whose deadline falls within, e.g. 6h"),
    ] = None,
    breached: Annotated[bool, Query(description="only cases with a breached SLA")] = False,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    page_token: Annotated[str | None, Query(max_length=4096)] = None,
) -> QueuePage:
    """Complete and in order: every open case that matches, `total` of them on every page;
    follow `next_page_token` until it is null."""
    # An empty filter (`?status=`) is no filter, as forms and query builders send it.
    owner, status, marketplace = owner or None, status or None, marketplace or None
    if owner is not None and owner != who.name and not who.supervisor:
        raise ApiError(403, "forbidden", "only a supervisor may see another specialist's cases")
    if mine:
        if owner is not None and owner != who.name:
            raise invalid("owner", "give `mine` or another `owner`, not both")
        owner = who.name
    if unassigned and owner is not None:
        raise invalid("unassigned", "a case cannot be unassigned and owned; drop one filter")
    if status is not None and status not in OPEN_STATUSES:
        raise invalid(
            "status", f"{status!r} is not an open status; one of: " + ", ".join(OPEN_STATUSES)
        )
    if marketplace is not None and not re.fullmatch(MARKETPLACE_PATTERN, marketplace):
        raise invalid("marketplace", f"{marketplace!r} is not a marketplace code, e.g. US")
    within = None
    if at_risk_within:
        within = _duration("at_risk_within", at_risk_within, MAX_AT_RISK_WITHIN)
    filters = QueueFilter(
        owner=owner,
        unassigned=unassigned,
        status=status,
        marketplace=marketplace,
        at_risk_within=within,
        breached=breached,
    )
    return await state.reads.queue(filters, page_size, page_token or None)


def _duration(field: str, text: str, most: timedelta) -> timedelta:
    try:
        value = parse_duration(text)
    except (ValueError, OverflowError) as err:
        raise invalid(field, f"{text!r} is not a duration such as 6h or 90m") from err
    if value > most:
        raise invalid(field, f"at most {most.days}d")
    return value


@router.post(
    "/sellers/{seller_id}/case/claim",
    tags=["specialist"],
    response_model=Ownership,
    responses=_errors(*AUTH, 404, 409, 503),
    summary="Take the case: the caller owns it (specialist, supervisor)",
)
async def claim_case(
    seller_id: SellerId,
    state: State,
    who: Annotated[Identity, Depends(allow("specialist"))],
) -> Ownership:
    """409 `owned_by_other` while someone else owns it; `changed` is false when the caller
    already did. The caller's SLA warnings go to the tokens file's `email` for them."""
    service = await state.service()
    return await state.within(
        service.claim(seller_id, specialist=who.name, by=who.who, email=who.email)
    )


@router.post(
    "/sellers/{seller_id}/case/release",
    tags=["specialist"],
    response_model=Ownership,
    responses=_errors(*AUTH, 404, 409, 503),
    summary="Give the case back: nobody owns it (specialist: their own; supervisor: anyone's)",
)
async def release_case(
    seller_id: SellerId,
    state: State,
    who: Annotated[Identity, Depends(allow("specialist"))],
) -> Ownership:
    """409 `owned_by_other` (naming the owner) when a specialist releases a case that is
    someone else's; 409 `not_owned` when nobody owns it."""
    service = await state.service()
    return await state.within(
        service.release(seller_id, specialist=who.name, by=who.who, supervisor=who.supervisor)
    )


@router.post(
    "/sellers/{seller_id}/case/issues/{issue_id}/extend",
    tags=["supervisor"],
    response_model=Issue,
    responses=SELLER_ACTION,
    summary="Extend one issue's deadline, with a reason (supervisor)",
)
async def extend_deadline(
    seller_id: SellerId,
    issue_id: Annotated[str, Path(max_length=32)],
    body: ExtendBody,
    state: State,
    who: Annotated[Identity, Depends(allow("supervisor"))],
) -> Issue:
    """`until` must be later than the issue's deadline, timezone-aware, and at most the
    policy's `max_extension` past the issue's original deadline in total (422 naming `until`,
    with what is left); `reason` is required (422). 409 on a closed case or a passed deadline,
    404 for an unknown issue."""
    extension = Extension(
        issue_id=issue_id, until=body.until, reason=body.reason, extended_by=who.who
    )
    return await state.within((await state.service()).extend(seller_id, extension))


@router.post(
    "/sellers/{seller_id}/case/assign",
    tags=["supervisor"],
    response_model=Ownership,
    responses=_errors(400, *AUTH, 404, 409, 413, 422, 503),
    summary="Give the case to a specialist, whoever owns it (supervisor)",
)
async def assign_case(
    seller_id: SellerId,
    body: AssignBody,
    state: State,
    who: Annotated[Identity, Depends(allow("supervisor"))],
) -> Ownership:
    """`specialist` must be the name of a specialist or supervisor in the tokens file (422
    otherwise); their SLA warnings go to that file's `email` for them."""
    member = state.tokens.staff().get(body.specialist)
    if member is None:
        raise invalid(
            "specialist",
            f"{body.specialist!r} is not the name of a specialist or supervisor in the tokens file",
        )
    service = await state.service()
    return await state.within(
        service.assign(seller_id, specialist=member.name, by=who.who, email=member.email)
    )


@router.put(
    "/sellers/{seller_id}/contact",
    tags=["seller"],
    response_model=ContactSaved,
    responses=_errors(400, *AUTH, 404, 413, 422, 503),
    summary="The seller changes its email, emergency phone and time zone",
)
async def put_contact(
    seller_id: SellerId,
    body: ContactBody,
    state: State,
    who: Annotated[Identity, Depends(allow(own_seller=True))],
) -> ContactSaved:
    """The change is saved first; an open case is then told, and enrolment re-run when the
    phone changed. What could not be done after the save is listed in `warnings`."""
    update = await state.change_contact(
        seller_id,
        email=body.email,
        phone=body.emergency_phone,
        timezone=body.timezone,
        changed_by=who.who,
    )
    return ContactSaved(
        seller_id=seller_id,
        email=update.contact.email,
        emergency_phone=update.contact.phone or None,
        timezone=update.contact.timezone,
        case_notified=update.case_notified,
        enrolled_now=update.enrolled_now,
        warnings=update.warnings,
    )


def _windows_view(
    state: ApiState, update: ContactUpdate | None, contact: SellerContact
) -> PreferredWindowsView:
    windows = contact.preferred_windows or PreferredWindows()
    today = local_day(datetime.now(UTC), contact.timezone)
    days = calendar.calling_days(state.policy, contact.marketplace)
    return PreferredWindowsView(
        seller_id=contact.seller_id,
        timezone=contact.timezone,
        windows=windows,
        summary=windows.summary(),
        meets_calendar=None if windows.empty else preferred.meets_calendar(days, windows, today),
        case_notified=update.case_notified if update else False,
        warnings=update.warnings if update else [],
    )


@router.get(
    "/sellers/{seller_id}/preferred-windows",
    tags=["seller"],
    response_model=PreferredWindowsView,
    responses=_errors(*AUTH, 404),
    summary="The seller's preferred contact windows (the seller, specialist, supervisor)",
)
async def get_preferred_windows(
    seller_id: SellerId,
    state: State,
    who: Annotated[Identity, Depends(allow("specialist", own_seller=True))],
) -> PreferredWindowsView:
    contact = state.store.get(seller_id)
    if contact is None:
        raise unknown_seller(seller_id)
    return _windows_view(state, None, contact)


@router.put(
    "/sellers/{seller_id}/preferred-windows",
    tags=["seller"],
    response_model=PreferredWindowsView,
    responses=_errors(400, *AUTH, 404, 413, 422),
    summary="Store the seller's preferred contact windows (the seller, specialist, supervisor)",
)
async def put_preferred_windows(
    seller_id: SellerId,
    body: PreferredWindows,
    state: State,
    who: Annotated[Identity, Depends(allow("specialist", own_seller=True))],
) -> PreferredWindowsView:
    """Windows per seller-local weekday (`mon` ... `sun`, each a list of "HH:MM-HH:MM"); a
    day left out has none, and `{}` clears them all. Proactive calls wait for the calendar's
    hours within these windows, except within the policy's `preferred_windows_until` of the
    deadline. The change is saved first, then an open case is told (`warnings` otherwise)."""
    update = await state.change_preferred_windows(seller_id, body, changed_by=who.who)
    return _windows_view(state, update, update.contact)


@router.put(
    "/sellers/{seller_id}/call-consent",
    tags=["seller"],
    response_model=CallConsent,
    responses=_errors(400, *AUTH, 404, 413, 422),
    summary="Withdraw or give again consent to calls (the seller, specialist, supervisor)",
)
async def put_call_consent(
    seller_id: SellerId,
    body: ConsentBody,
    state: State,
    who: Annotated[Identity, Depends(allow("specialist", own_seller=True))],
) -> CallConsent:
    """Read by the dial just before every call, never kept in the case: a withdrawal stops
    the next proactive call; email goes on, and contact me now still rings."""
    return await asyncio.to_thread(state.consents.set_consent, seller_id, body.consent, who.who)


@router.get(
    "/sellers/{seller_id}/call-consent",
    tags=["seller"],
    response_model=CallConsent,
    responses=_errors(*AUTH, 404),
    summary="The seller's consent to calls (the seller, specialist, supervisor)",
)
async def get_call_consent(
    seller_id: SellerId,
    state: State,
    who: Annotated[Identity, Depends(allow("specialist", own_seller=True))],
) -> CallConsent:
    """A seller never asked has consented (`changed_at` is null)."""
    return await asyncio.to_thread(state.consents.consent, seller_id)


@router.post(
    "/ahr-readings",
    tags=["programme"],
    response_model=AhrReport,
    responses=_errors(400, *AUTH, 404, 413, 422),
    summary="Store AHR readings: one reading, or {readings: [...]} (rating)",
)
async def post_readings(
    body: AhrBody,
    state: State,
    who: Annotated[Identity, Depends(allow("rating"))],
) -> AhrReport:
    """Good readings land and bad ones are listed by position. A single reading that is
    refused is an error (404 for an unknown seller); a batch is one only if nothing landed."""
    readings = body.readings if isinstance(body, AhrBatch) else [body]
    rows = [(r.seller_id, r.date, r.score) for r in readings]
    # A write can wait on a sweep's lock: keep it off the event loop.
    report = await asyncio.to_thread(state.store.record_readings, rows)
    rejected = [RejectedReading(index=i, reason=reason) for i, reason in report.problems]
    if report.accepted == 0:
        unknown = all(r.reason.startswith("unknown seller") for r in rejected)
        if isinstance(body, AhrReading) and unknown:
            raise unknown_seller(body.seller_id)
        raise ApiError(
            422, "invalid_readings", "; ".join(f"{r.index}: {r.reason}" for r in rejected)
        )
    return AhrReport(accepted=report.accepted, rejected=rejected)
