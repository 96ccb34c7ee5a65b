"""The seller's account-health page: server-rendered, plain forms, a little script on top.

Every form works without script (post, then redirect back); the script adds the countdown,
plan rows, and a poll that redraws the case when it changes without touching a form the
seller is typing in. Whatever goes wrong, the answer is a page, never JSON or a 500.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, available_timezones

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from temporalio.service import RPCError

from aha.domain import appeals, case_text
from aha.domain.contact import InvalidContact, SellerContact
from aha.domain.models import SELLER_ID_PATTERN, CallbackRequest, CaseView, PlanSubmission
from aha.domain.policy import WEEKDAYS
from aha.domain.preferred import PreferredWindows
from aha.service import CaseError, CaseService, NoOpenCase
from api.errors import ApiError, as_api_error, contact_field
from api.sessions import Session, Sessions, seller_page
from api.state import ApiState, state_of

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
ZONES = sorted(available_timezones())

NOTICES = {
    "calling": "A specialist will call you now.",
    "already": "A specialist is already calling you.",
    "plan": "Your plan was submitted. A specialist will review it.",
    "appeal": "Your appeal was submitted. A specialist will review it.",
    "contact": "Your contact details were saved.",
    "windows": "Your preferred call times were saved.",
    "no-calls": "We will not call you; we keep writing to you by email. Contact me now still "
    "calls you.",
    "calls": "We may call you again.",
    "callback": "We will call you at the time you chose.",
    "callback-cancelled": "Your callback was cancelled.",
}
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CONSENT_CHOICES = {"withdraw": False, "give": True}
# What can go wrong while the page talks to the case: each becomes a message on the page.
FAILURES = (CaseError, ApiError, RPCError)


class NoSuchPage(Exception):
    """A seller id that cannot exist: answered before any cookie names it in its Path."""


def _real_seller_id(seller_id: str) -> None:
    if not re.fullmatch(SELLER_ID_PATTERN, seller_id):
        raise NoSuchPage


router = APIRouter(
    prefix="/account-health/{seller_id}",
    include_in_schema=False,
    dependencies=[Depends(_real_seller_id)],
)


def not_found_page(request: Request, err: Exception) -> Response:
    return HTMLResponse("<!doctype html><title>Not found</title><p>No such page.</p>", 404)


def _sessions(state: ApiState, seller_id: str) -> Sessions:
    return Sessions(state.secret, state.tokens, state.signed_out, seller_page(seller_id))


@dataclass
class PageForms:
    """What the seller typed and what was wrong with it, when a form comes back."""

    plan: dict[str, Any] = field(default_factory=dict)
    plan_errors: dict[str, list[str]] = field(default_factory=dict)
    contact: dict[str, str] = field(default_factory=dict)
    contact_errors: dict[str, str] = field(default_factory=dict)
    windows: dict[str, str] = field(default_factory=dict)
    windows_errors: dict[str, str] = field(default_factory=dict)
    # The callback time as typed (the form's datetime-local value), and why it was refused.
    callback: str = ""
    callback_error: str | None = None
    error: str | None = None


async def _case(state: ApiState, seller_id: str) -> CaseView | None:
    try:
        return await state.within((await state.service()).status(seller_id))
    except NoOpenCase:
        return None


def _plan_mode(view: CaseView | None, appeal_open: bool = False) -> str:
    if view is not None and view.status in APPEALABLE:
        count = len(view.appeal.appeals) if view.appeal else 0
        return f"appeal:{view.status}:{count}:{'open' if appeal_open else 'shut'}"
    if view is None or view.closed:
        return "none"
    if view.status in ("awaiting_contact", "engaged"):
        return "form"
    return f"{view.status}:{view.plan.review_state if view.plan else ''}"


APPEALABLE = ("deactivated", "appeal_under_review", "reinstated")


def _appeal_window_ends(state: ApiState, view: CaseView | None) -> datetime | None:
    """Until when a deactivated case may be appealed: its appeal's own window once it has
    one, else the case's recorded window (or the policy in force's) from its closing."""
    if view is None or view.status not in APPEALABLE or view.closed_at is None:
        return None
    if view.appeal is not None and view.appeal.window_ends is not None:
        return view.appeal.window_ends
    return view.closed_at + appeals.window_for(appeals.recorded_window(view), state.policy)


def _page_model(
    state: ApiState, contact: SellerContact, view: CaseView | None, session: Session
) -> dict[str, Any]:
    enrollment = state.store.enrollment(contact.seller_id)
    window_ends = _appeal_window_ends(state, view)
    appeal_open = (
        view is not None
        and view.status == "deactivated"
        and window_ends is not None
        and datetime.now(UTC) < window_ends
    )
    pending_seller_call = None
    policy = view.policy if view is not None and view.policy is not None else state.policy
    if view is not None:
        pending_seller_call = next((a for a in view.pending_calls() if a.seller_initiated), None)
    return {
        "contact": contact,
        "case": view,
        "enrolled": enrollment is not None and enrollment.state == "enrolled",
        "enrollment": enrollment,
        "status_text": case_text.STATUS_TEXT,
        "pending_seller_call": pending_seller_call,
        "plan_mode": _plan_mode(view, appeal_open),
        "appeal_open": appeal_open,
        "appeal_window_ends": window_ends,
        "local": lambda moment: case_text.page_time(moment, contact.timezone),
        "remaining": lambda deadline: case_text.countdown(deadline, datetime.now(UTC)),
        "label": lambda issue: case_text.issue_label(issue, state.catalogue),
        "steps": lambda issue: case_text.issue_steps(issue, state.catalogue),
        # The time the team has, as the policy of the seller's case (or the one in force) says.
        "deadline_span": case_text.duration_text(policy.deadline),
        "csrf": _sessions(state, contact.seller_id).csrf_token(session.nonce),
        "call_consent": state.consents.consent(contact.seller_id),
        "zones": ZONES,
        "preferred_days": _preferred_days(contact),
        # A datetime-local field's value for a moment, in the seller's time.
        "field_time": lambda moment: _field_time(moment, contact.timezone),
        "now": datetime.now(UTC),
    }


def _preferred_days(contact: SellerContact) -> list[tuple[str, str, str]]:
    """Each weekday's key, name and stored windows as the form shows them."""
    windows = contact.preferred_windows or PreferredWindows()
    return [
        (day, name, ", ".join(getattr(windows, day)))
        for day, name in zip(WEEKDAYS, DAY_NAMES, strict=True)
    ]


def _windows_errors(err: ValidationError) -> dict[str, str]:
    """Each refusal under the weekday it is about."""
    errors: dict[str, str] = {}
    for error in err.errors():
        day = str(error["loc"][0]) if error["loc"] else ""
        errors.setdefault(day, error["msg"].removeprefix("Value error, "))
    return errors


def _field_time(moment: datetime, timezone: str) -> str:
    return f"{moment.astimezone(ZoneInfo(timezone)):%Y-%m-%dT%H:%M}"


def seller_local(text: str, timezone: str) -> datetime:
    """A datetime-local value ("2027-01-16T15:00") read in the seller's time zone; a time
    that names its own offset keeps it. ValueError for anything else."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        # In a DST gap or overlap, the earlier reading of the wall-clock time (fold 0).
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment


async def _signed_in(
    request: Request, seller_id: str
) -> tuple[ApiState, SellerContact, Session] | None:
    state = state_of(request)
    session = _sessions(state, seller_id).current(request)
    contact = state.store.get(seller_id)
    if session is None or contact is None:
        return None
    return state, contact, session


def with_page_headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    )
    return response


def _sign_in_page(
    request: Request, seller_id: str, error: str | None = None, status: int = 200
) -> Response:
    sessions = _sessions(state_of(request), seller_id)
    nonce = sessions.sign_in_nonce(request)
    fresh = nonce is None
    nonce = nonce or secrets.token_urlsafe(16)
    response = templates.TemplateResponse(
        request,
        "sign_in.html",
        {"seller_id": seller_id, "csrf": sessions.csrf_token(nonce, "sign-in"), "error": error},
        status_code=status,
    )
    if fresh:
        sessions.keep_sign_in_nonce(response, request, nonce)
    return with_page_headers(response)


async def _render(
    request: Request, seller_id: str, forms: PageForms | None = None, status: int = 200
) -> Response:
    signed_in = await _signed_in(request, seller_id)
    if signed_in is None:
        return _sign_in_page(request, seller_id)
    state, contact, session = signed_in
    forms = forms or PageForms()
    try:
        view = await _case(state, seller_id)
    except FAILURES as err:
        view = None
        forms.error = forms.error or f"Your case cannot be shown right now: {err}"
        status = 503
    model = _page_model(state, contact, view, session) | {
        "forms": forms,
        "notice": NOTICES.get(request.query_params.get("notice", "")),
    }
    return with_page_headers(
        templates.TemplateResponse(request, "account_health.html", model, status_code=status)
    )


async def _failed(
    request: Request, seller_id: str, err: Exception, forms: PageForms | None = None
) -> Response:
    api_error = as_api_error(err)
    forms = forms or PageForms()
    forms.error = api_error.detail
    return await _render(request, seller_id, forms, api_error.status)


def _back(seller_id: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"/account-health/{seller_id}?notice={notice}", status_code=303)


async def _checked_form(
    request: Request, seller_id: str, csrf: str
) -> tuple[ApiState, Session] | Response:
    """The signed-in seller's state and session, or the response that refuses the form."""
    signed_in = await _signed_in(request, seller_id)
    if signed_in is None:
        return _sign_in_page(request, seller_id, "Please sign in again.", status=401)
    state, _, session = signed_in
    if not _sessions(state, seller_id).csrf_ok(session.nonce, csrf):
        return await _render(
            request, seller_id, PageForms(error="The form expired: please try again."), 403
        )
    return state, session


# ---- routes ----------------------------------------------------------------------------------
# Form fields carry no length limits here: an oversize value is the case's or the directory's
# to refuse, so that the refusal comes back as a reason on the page (the body limit bounds all).


@router.get("", response_class=HTMLResponse)
async def page(request: Request, seller_id: str) -> Response:
    return await _render(request, seller_id)


@router.post("/sign-in")
async def sign_in(
    request: Request,
    seller_id: str,
    token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    state = state_of(request)
    sessions = _sessions(state, seller_id)
    if not sessions.csrf_ok(sessions.sign_in_nonce(request), csrf, "sign-in"):
        return _sign_in_page(request, seller_id, "The form expired: please try again.", 403)
    token = token.strip()
    identity = state.tokens.identify(token) if token else None
    if identity is None or identity.seller_id != seller_id or state.store.get(seller_id) is None:
        # The same words whether the seller exists or not.
        return _sign_in_page(request, seller_id, "That token does not open this page.", 401)
    response = RedirectResponse(f"/account-health/{seller_id}", status_code=303)
    sessions.start(response, request, identity, token)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, seller_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    checked = await _checked_form(request, seller_id, csrf)
    if isinstance(checked, Response):
        return checked
    state, session = checked
    response = RedirectResponse(f"/account-health/{seller_id}", status_code=303)
    _sessions(state, seller_id).end(response, session)
    return response


@router.post("/contact-me-now")
async def contact_me_now(
    request: Request, seller_id: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    checked = await _checked_form(request, seller_id, csrf)
    if isinstance(checked, Response):
        return checked
    state, _ = checked
    try:
        service = await state.service()
        receipt = await state.within(service.contact_me_now(seller_id, requested_by="seller"))
    except FAILURES as err:
        return await _failed(request, seller_id, err)
    return _back(seller_id, "calling" if receipt.created else "already")


@router.post("/callback")
async def schedule_callback(
    request: Request,
    seller_id: str,
    csrf: Annotated[str, Form()] = "",
    at: Annotated[str, Form()] = "",
) -> Response:
    checked = await _checked_form(request, seller_id, csrf)
    if isinstance(checked, Response):
        return checked
    state, _ = checked
    forms = PageForms(callback=at)
    contact = state.store.get(seller_id)
    assert contact is not None  # a signed-in seller is in the directory
    try:
        moment = seller_local(at, contact.timezone)
    except ValueError:
        forms.callback_error = "at: choose a date and a time to be called"
        return await _render(request, seller_id, forms, 422)
    try:
        service = await state.service()
        await state.within(
            service.schedule_callback(seller_id, CallbackRequest(at=moment, requested_by="seller"))
        )
    except FAILURES as err:
        api_error = as_api_error(err)
        reasons = [p.reason for p in api_error.fields if p.field == "at"]
        if reasons:
            forms.callback_error = "; ".join(reasons)
        else:
            forms.error = api_error.detail
        return await _render(request, seller_id, forms, api_error.status)
    return _back(seller_id, "callback")


@router.post("/callback/cancel")
async def cancel_callback(
    request: Request, seller_id: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    checked = await _checked_form(request, seller_id, csrf)
    if isinstance(checked, Response):
        return checked
    state, _ = checked
    try:
        service = await state.service()
        await state.within(service.cancel_callback(seller_id, cancelled_by="seller"))
    except FAILURES as err:
        return await _failed(request, seller_id, err)
    return _back(seller_id, "callback-cancelled")


@router.post("/plan")
async def submit_plan(
    request: Request,
    seller_id: str,
    csrf: Annotated[str, Form()] = "",
    root_cause: Annotated[str, Form()] = "",
    corrective_actions: Annotated[list[str], Form()] = [],  # noqa: B006
    preventive_measures: Annotated[list[str], Form()] = [],  # noqa: B006
) -> Response:
    form = (root_cause, corrective_actions, preventive_measures)
    return await _send_plan(request, seller_id, csrf, form, CaseService.submit_plan, "plan")


@router.post("/appeal")
async def submit_appeal(
    request: Request,
    seller_id: str,
    csrf: Annotated[str, Form()] = "",
    root_cause: Annotated[str, Form()] = "",
    corrective_actions: Annotated[list[str], Form()] = [],  # noqa: B006
    preventive_measures: Annotated[list[str], Form()] = [],  # noqa: B006
) -> Response:
    """A deactivated seller's appeal: the plan form's fields, the appeal route's answers."""
    form = (root_cause, corrective_actions, preventive_measures)
    return await _send_plan(request, seller_id, csrf, form, CaseService.appeal, "appeal")


async def _send_plan(
    request: Request,
    seller_id: str,
    csrf: str,
    form: tuple[str, list[str], list[str]],
    send: Callable[[CaseService, str, PlanSubmission], Awaitable[object]],
    notice: str,
) -> Response:
    """The plan form, sent as a plan or as an appeal: refusals shown field by field."""
    checked = await _checked_form(request, seller_id, csrf)
    if isinstance(checked, Response):
        return checked
    state, _ = checked
    root_cause, corrective_actions, preventive_measures = form
    # Rows left blank are the form's spare rows, not entries.
    actions = [a for a in corrective_actions if a.strip()]
    measures = [m for m in preventive_measures if m.strip()]
    forms = PageForms(
        plan={
            "root_cause": root_cause,
            "corrective_actions": actions,
            "preventive_measures": measures,
        }
    )
    try:
        submission = PlanSubmission(
            root_cause=root_cause,
            corrective_actions=actions,
            preventive_measures=measures,
            submitted_by="seller",
        )
    except ValidationError as err:
        for error in err.errors():
            name = str(error["loc"][0]) if error["loc"] else "root_cause"
            forms.plan_errors.setdefault(name, []).append(f"{name}: {error['msg']}")
        return await _render(request, seller_id, forms, 422)
    try:
        service = await state.service()
        await state.within(send(service, seller_id, submission))
    except FAILURES as err:
        api_error = as_api_error(err)
        for problem in api_error.fields:
            forms.plan_errors.setdefault(problem.field, []).append(problem.reason)
        if not api_error.fields:
            forms.error = api_error.detail
        return await _render(request, seller_id, forms, api_error.status)
    return _back(seller_id, notice)


@router.post("/contact")
async def update_contact(
    request: Request,
    seller_id: str,
    csrf: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    emergency_phone: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "",
) -> Response:
    checked = await _checked_form(request, seller_id, csrf)
    if isinstance(checked, Response):
        return checked
    state, _ = checked
    forms = PageForms(
        contact={"email": email, "emergency_phone": emergency_phone, "timezone": timezone}
    )
    try:
        await state.change_contact(
            seller_id,
            email=email,
            phone=emergency_phone or None,
            timezone=timezone,
            changed_by="seller",
        )
    except InvalidContact as err:
        forms.contact_errors[contact_field(err)] = str(err)
        return await _render(request, seller_id, forms, 422)
    except FAILURES as err:
        return await _failed(request, seller_id, err, forms)
    return _back(seller_id, "contact")


@router.post("/preferred-windows")
async def update_preferred_windows(request: Request, seller_id: str) -> Response:
    """One field per weekday, "09:00-12:00, 14:00-16:00" or empty; all empty clears them."""
    form = await request.form()
    checked = await _checked_form(request, seller_id, str(form.get("csrf", "")))
    if isinstance(checked, Response):
        return checked
    state, _ = checked
    typed = {day: str(form.get(day, "")) for day in WEEKDAYS}
    forms = PageForms(windows=typed)
    days = {day: [w for w in text.split(",") if w.strip()] for day, text in typed.items()}
    try:
        windows = PreferredWindows.model_validate(days)
    except ValidationError as err:
        forms.windows_errors = _windows_errors(err)
        return await _render(request, seller_id, forms, 422)
    try:
        await state.change_preferred_windows(seller_id, windows, changed_by="seller")
    except FAILURES as err:
        return await _failed(request, seller_id, err, forms)
    return _back(seller_id, "windows")


@router.post("/call-consent")
async def call_consent(
    request: Request,
    seller_id: str,
    csrf: Annotated[str, Form()] = "",
    consent: Annotated[str, Form()] = "",
) -> Response:
    checked = await _checked_form(request, seller_id, csrf)
    if isinstance(checked, Response):
        return checked
    state, _ = checked
    if consent not in CONSENT_CHOICES:
        error = f"consent: {consent!r} must be withdraw or give"
        return await _render(request, seller_id, PageForms(error=error), 422)
    state.consents.set_consent(seller_id, CONSENT_CHOICES[consent], "seller")
    return _back(seller_id, "calls" if CONSENT_CHOICES[consent] else "no-calls")


@router.get("/live")
async def live(request: Request, seller_id: str) -> Response:
    """The case part of the page, for the page's poll, with a version that changes only when
    the case does (the countdown's text changes every second and is not part of it)."""
    signed_in = await _signed_in(request, seller_id)
    if signed_in is None:
        return JSONResponse({"error": "unauthorized", "detail": "sign in again"}, 401)
    state, contact, session = signed_in
    try:
        view = await _case(state, seller_id)
    except FAILURES as err:
        return JSONResponse({"error": "unavailable", "detail": str(err)}, 503)
    model = _page_model(state, contact, view, session) | {"forms": PageForms(), "notice": None}
    fingerprint = (view.model_dump_json() if view else "") + model["plan_mode"]
    body = {
        "version": hashlib.sha256(fingerprint.encode()).hexdigest()[:16],
        "status": view.status if view else None,
        "live_html": templates.get_template("_live.html").render(model),
        "plan_mode": model["plan_mode"],
        "plan_html": templates.get_template("_plan.html").render(model),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
