"""The console's case screen: the case as a specialist works it, and every action on it.

Each action is a form that posts here, calls the same CaseService method as the CLI and the
/v1 API, and redirects back with a notice; a refusal comes back as a message on the screen
with the status the API would give. What someone typed is kept when their form is refused.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError

from aha.domain import case_text
from aha.domain.appeal_models import AppealReview
from aha.domain.board import case_row, queue_item
from aha.domain.models import (
    SELLER_ID_PATTERN,
    CallbackRequest,
    CallReport,
    CaseView,
    Extension,
    Resolution,
    Review,
)
from aha.domain.sla import TARGET_TEXT
from aha.domain.vocabulary import CallOutcome, ReviewDecision
from aha.service import CaseService, NoOpenCase
from api import console_text
from api.console import (
    Staff,
    live_response,
    render,
    shared_model,
    sign_in_page,
    signed_in,
    signed_out_json,
    staff_names,
    version_of,
)
from api.errors import as_api_error
from api.page import FAILURES, NoSuchPage, seller_local, templates

SECTIONS = ("facts", "ownership", "calls", "plan", "issues", "appeal", "timeline")
NOTICES = {
    "claimed": "You own this case now.",
    "released": "The case is released: it has no owner.",
    "assigned": "The case is reassigned.",
    "reported": "The call's outcome is recorded.",
    "accepted": "The plan is accepted and its issues resolved.",
    "questions": "The questions are sent: the seller must be called before resolving.",
    "resolved": "The issue is resolved.",
    "extended": "The deadline is extended and the seller emailed.",
    "callback": "The callback is scheduled: the case calls the seller then.",
    "callback_cancelled": "The callback is cancelled.",
    "appeal_accepted": "The appeal is accepted: the account is being reactivated.",
    "appeal_rejected": "The appeal is rejected: the seller is emailed the reason.",
}


def _real_seller_id(seller_id: str) -> None:
    if not re.fullmatch(SELLER_ID_PATTERN, seller_id):
        raise NoSuchPage


router = APIRouter(
    prefix="/console/cases/{seller_id}",
    include_in_schema=False,
    dependencies=[Depends(_real_seller_id)],
)


def _case_url(seller_id: str) -> str:
    return f"/console/cases/{seller_id}"


def _sections_model(
    staff: Staff, view: CaseView, kept: dict[str, str] | None = None
) -> dict[str, Any]:
    state = staff.state
    now = datetime.now(UTC)
    item = queue_item(case_row(view, 0), now)
    placed = [a for a in view.pending_calls() if a.placed_at is not None and not view.closed]
    contact = state.store.get(view.seller_id)
    return {
        "case": view,
        "item": item,
        "contact": contact,
        "pending": placed,
        "owned_by_me": view.assigned_to == staff.name,
        "staff": staff_names(state) if staff.supervisor else [],
        "supervisor": staff.supervisor,
        "outcomes": [(o.value, console_text.OUTCOME_TEXT[o.value]) for o in CallOutcome],
        "label": lambda issue: case_text.issue_label(issue, state.catalogue),
        "steps": lambda issue: case_text.issue_steps(issue, state.catalogue),
        "target_text": TARGET_TEXT,
        "text": console_text,
        "local": lambda moment: console_text.local(moment, view.timezone),
        "url": _case_url(view.seller_id),
        # What a refused form had in it, to show again (a refresh has none).
        "kept": kept or {},
    }


def _render_sections(shared: dict[str, Any]) -> dict[str, str]:
    template = templates.get_template("_console_case.html")
    return {f"case-{name}": template.render(shared | {"section": name}) for name in SECTIONS}


async def _view(staff: Staff, seller_id: str) -> CaseView:
    service = await staff.state.service()
    return await staff.state.within(service.status(seller_id))


async def case_screen(
    request: Request,
    staff: Staff,
    seller_id: str,
    error: str | None = None,
    status: int = 200,
    kept: dict[str, str] | None = None,
) -> Response:
    try:
        view = await _view(staff, seller_id)
    except NoOpenCase:
        return render(
            request,
            staff,
            "console_message.html",
            {"title": "No case", "message": f"Seller {seller_id} has no case."},
            404,
        )
    except FAILURES as err:
        api_error = as_api_error(err)
        return render(
            request,
            staff,
            "console_message.html",
            {"title": "Case unavailable", "message": api_error.detail},
            api_error.status,
        )
    model = _sections_model(staff, view, kept)
    sections = _render_sections(shared_model(staff) | model)
    notice = NOTICES.get(request.query_params.get("notice", "")) if error is None else None
    return render(
        request,
        staff,
        "console_case.html",
        model
        | {
            "sections": {name: Markup(html) for name, html in sections.items()},
            "versions": {name: version_of(html) for name, html in sections.items()},
            "error": error,
            "notice": notice,
            "nav": "queue",
        },
        status,
    )


@router.get("", response_class=HTMLResponse)
async def case_page(request: Request, seller_id: str) -> Response:
    staff = signed_in(request)
    if staff is None:
        return sign_in_page(request)
    return await case_screen(request, staff, seller_id)


@router.get("/live.json")
async def case_live(request: Request, seller_id: str) -> Response:
    staff = signed_in(request)
    if staff is None:
        return signed_out_json()
    try:
        view = await _view(staff, seller_id)
    except FAILURES as err:
        api_error = as_api_error(err)
        return JSONResponse(
            {"error": api_error.error, "detail": api_error.detail}, api_error.status
        )
    sections = _render_sections(shared_model(staff) | _sections_model(staff, view))
    summary = f"Case {view.status.replace('_', ' ')}; updated {datetime.now(UTC):%H:%M} UTC."
    return live_response(sections, summary)


# ---- actions ---------------------------------------------------------------------------------


async def _gate(request: Request, seller_id: str, csrf: str) -> Staff | Response:
    """The signed-in person, or the answer that refuses their form before anything happens."""
    staff = signed_in(request)
    if staff is None:
        return sign_in_page(request, "Please sign in again.", 401, _case_url(seller_id))
    if not staff.csrf_ok(csrf):
        return await case_screen(
            request, staff, seller_id, "The form expired: please try again.", 403
        )
    return staff


async def _refused(
    request: Request,
    staff: Staff,
    seller_id: str,
    err: Exception,
    kept: dict[str, str] | None = None,
) -> Response:
    if isinstance(err, ValidationError):
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        return await case_screen(request, staff, seller_id, reasons, 422, kept)
    api_error = as_api_error(err)
    return await case_screen(request, staff, seller_id, api_error.detail, api_error.status, kept)


def _back(seller_id: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{_case_url(seller_id)}?notice={notice}", status_code=303)


Csrf = Annotated[str, Form()]
REFUSALS = (*FAILURES, ValidationError)


async def _carry_out(
    request: Request,
    staff: Staff,
    seller_id: str,
    action: Callable[[CaseService], Awaitable[object]],
    notice: str,
    kept: dict[str, str] | None = None,
) -> Response:
    """Do `action` through the service, then back to the case screen with `notice`; a
    refusal (or input its models refuse) comes back on the screen with what was typed."""
    try:
        service = await staff.state.service()
        await staff.state.within(action(service))
    except REFUSALS as err:
        return await _refused(request, staff, seller_id, err, kept)
    return _back(seller_id, notice)


@router.post("/claim")
async def claim(request: Request, seller_id: str, csrf: Csrf = "") -> Response:
    gate = await _gate(request, seller_id, csrf)
    if isinstance(gate, Response):
        return gate
    staff = gate
    return await _carry_out(
        request,
        staff,
        seller_id,
        lambda service: service.claim(seller_id, staff.name, by=staff.who, email=staff.email),
        "claimed",
    )


@router.post("/release")
async def release(request: Request, seller_id: str, csrf: Csrf = "") -> Response:
    gate = await _gate(request, seller_id, csrf)
    if isinstance(gate, Response):
        return gate
    staff = gate
    return await _carry_out(
        request,
        staff,
        seller_id,
        lambda service: service.release(
            seller_id, staff.name, by=staff.who, supervisor=staff.supervisor
        ),
        "released",
    )


@router.post("/assign")
async def assign(
    request: Request,
    seller_id: str,
    csrf: Csrf = "",
    specialist: Annotated[str, Form()] = "",
) -> Response:
    gate = await _gate(request, seller_id, csrf)
    if isinstance(gate, Response):
        return gate
    staff = gate
    if not staff.supervisor:
        return await case_screen(
            request, staff, seller_id, "Only a supervisor can reassign a case.", 403
        )
    member = staff.state.tokens.staff().get(specialist.strip())
    if member is None:
        why = f"{specialist!r} is not on the staff list." if specialist else "Choose a person."
        return await case_screen(request, staff, seller_id, why, 422)
    return await _carry_out(
        request,
        staff,
        seller_id,
        lambda service: service.assign(seller_id, member.name, by=staff.who, email=member.email),
        "assigned",
    )


@router.post("/calls/{attempt}/outcome")
async def report_outcome(
    request: Request,
    seller_id: str,
    attempt: str,
    csrf: Csrf = "",
    outcome: Annotated[str, Form()] = "",
) -> Response:
    gate = await _gate(request, seller_id, csrf)
    if isinstance(gate, Response):
        return gate
    staff = gate
    fields = {"attempt": attempt, "outcome": outcome, "reported_by": staff.who}
    return await _carry_out(
        request,
        staff,
        seller_id,
        lambda service: service.report_call_outcome(seller_id, CallReport.model_validate(fields)),
        "reported",
    )


@router.post("/review")
async def review_plan(
    request: Request,
    seller_id: str,
    csrf: Csrf = "",
    decision: Annotated[str, Form()] = "",
    questions: Annotated[str, Form()] = "",
) -> Response:
    gate = await _gate(request, seller_id, csrf)
    if isinstance(gate, Response):
        return gate
    staff = gate
    # One question a line; blank lines are the textarea's, not questions.
    asked = [line.strip() for line in questions.splitlines() if line.strip()]
    fields = {"decision": decision, "questions": asked, "reviewer": staff.who}
    return await _carry_out(
        request,
        staff,
        seller_id,
        lambda service: service.review_plan(seller_id, Review.model_validate(fields)),
        "accepted" if decision == ReviewDecision.ACCEPT else "questions",
        kept={"questions": questions},
    )


@router.post("/issues/{issue_id}/resolve")
async def resolve(
    request: Request,
    seller_id: str,
    issue_id: str,
    csrf: Csrf = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    gate = await _gate(request, seller_id, csrf)
    if isinstance(gate, Response):
        return gate
    staff = gate
    fields = {"issue_id": issue_id, "note": note, "resolved_by": staff.who}
    return await _carry_out(
        request,
        staff,
        seller_id,
        lambda service: service.resolve(seller_id, Resolution.model_validate(fields)),
        "resolved",
        kept={f"note:{issue_id}": note},
    )


@router.post("/issues/{issue_id}/extend")
async def extend(
    request: Request,
    seller_id: str,
    issue_id: str,
    csrf: Csrf = "",
    until: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    gate = await _gate(request, seller_id, csrf)
    if isinstance(gate, Response):
        return gate
    staff = gate
    kept = {f"until:{issue_id}": until, f"reason:{issue_id}": reason}
    if not staff.supervisor:
        return await case_screen(
            request, staff, seller_id, "Only a supervisor can extend a deadline.", 403, kept
        )
    try:
        moment = datetime.fromisoformat(until.strip().replace("Z", "+00:00"))
    except ValueError:
        why = f"until: {until!r} is not a date and time such as 2027-01-16T15:00Z"
        return await case_screen(request, staff, seller_id, why, 422, kept)
    # The form says UTC: a time without an offset is read as UTC.
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    fields = {"issue_id": issue_id, "until": moment, "reason": reason, "extended_by": staff.who}
    return await _carry_out(
        request,
        staff,
        seller_id,
        lambda service: service.extend(seller_id, Extension.model_validate(fields)),
        "extended",
        kept=kept,
    )


@router.post("/callback")
async def schedule_callback(
    request: Request, seller_id: str, csrf: Csrf = "", at: Annotated[str, Form()] = ""
) -> Response:
    """A callback the seller asked for (on the phone, say), in the seller's own time."""
    gate = await _gate(request, seller_id, csrf)
    if isinstance(gate, Response):
        return gate
    staff = gate
    kept = {"callback": at}
    contact = staff.state.store.get(seller_id)
    try:
        moment = seller_local(at, contact.timezone if contact else "UTC")
    except ValueError:
        why = f"at: {at!r} is not a date and time"
        return await case_screen(request, staff, seller_id, why, 422, kept)
    asked = CallbackRequest(at=moment, requested_by=staff.who)
    return await _carry_out(
        request,
        staff,
        seller_id,
        lambda service: service.schedule_callback(seller_id, asked),
        "callback",
        kept=kept,
    )


@router.post("/callback/cancel")
async def cancel_callback(request: Request, seller_id: str, csrf: Csrf = "") -> Response:
    gate = await _gate(request, seller_id, csrf)
    if isinstance(gate, Response):
        return gate
    staff = gate
    return await _carry_out(
        request,
        staff,
        seller_id,
        lambda service: service.cancel_callback(seller_id, cancelled_by=staff.who),
        "callback_cancelled",
    )


@router.post("/appeal/review")
async def review_appeal(
    request: Request,
    seller_id: str,
    csrf: Csrf = "",
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    gate = await _gate(request, seller_id, csrf)
    if isinstance(gate, Response):
        return gate
    staff = gate
    fields = {"decision": decision, "reason": reason, "reviewer": staff.who}
    return await _carry_out(
        request,
        staff,
        seller_id,
        lambda service: service.review_appeal(seller_id, AppealReview.model_validate(fields)),
        "appeal_accepted" if decision == "accept" else "appeal_rejected",
        kept={"appeal_reason": reason},
    )
