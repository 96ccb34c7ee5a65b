"""The specialists' console: sign-in, the work queue, and what every console page shares.

Same design as the seller's page (api.page): server-rendered, plain forms that post and
redirect back, a session cookie scoped to /console, CSRF on every form, no token in a URL,
and a little script that refreshes parts of a page without touching a form being typed in.
The case screen is api.console_case, the dashboard api.console_dashboard.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.datastructures import QueryParams

from aha.board_reads import QueuePage
from aha.domain.board import OPEN_STATUSES, QueueFilter
from aha.domain.models import SPECIALIST_NAME_PATTERN
from aha.service import MARKETPLACE_PATTERN
from api import console_text
from api.auth import Identity
from api.errors import as_api_error
from api.page import FAILURES, templates, with_page_headers
from api.sessions import CONSOLE, Session, Sessions
from api.state import ApiState, state_of

router = APIRouter(prefix="/console", include_in_schema=False)
QUEUE_PAGE_SIZE = 50
MAX_WITHIN_HOURS = 24 * 30
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


def console_sessions(state: ApiState) -> Sessions:
    return Sessions(state.secret, state.tokens, state.signed_out, CONSOLE)


@dataclass(frozen=True)
class Staff:
    """A signed-in specialist or supervisor, with what their pages need."""

    state: ApiState
    session: Session

    @property
    def identity(self) -> Identity:
        return self.session.identity

    @property
    def name(self) -> str:
        """Who owns a case they claim: the name in the tokens file."""
        return self.identity.name

    @property
    def who(self) -> str:
        """How the timeline names them: "specialist:dana", "supervisor:lee"."""
        return self.identity.who

    @property
    def supervisor(self) -> bool:
        return self.identity.supervisor

    @property
    def email(self) -> str | None:
        """Where their SLA warnings go, from the tokens file (never from the cookie)."""
        member = self.state.tokens.staff().get(self.name)
        return member.email if member is not None else None

    @property
    def csrf(self) -> str:
        return console_sessions(self.state).csrf_token(self.session.nonce)

    def csrf_ok(self, presented: str) -> bool:
        return console_sessions(self.state).csrf_ok(self.session.nonce, presented)


def signed_in(request: Request) -> Staff | None:
    state = state_of(request)
    session = console_sessions(state).current(request)
    return Staff(state, session) if session is not None else None


def staff_names(state: ApiState) -> list[str]:
    """The people a case can be given to: the specialists and supervisors of the tokens file."""
    return sorted(state.tokens.staff())


def shared_model(staff: Staff) -> dict[str, Any]:
    """What every console template may use: who is signed in, and their forms' CSRF token."""
    return {"me": staff.identity, "supervisor": staff.supervisor, "csrf": staff.csrf}


def render(
    request: Request, staff: Staff, template: str, model: dict[str, Any], status: int = 200
) -> Response:
    response = templates.TemplateResponse(
        request, template, shared_model(staff) | model, status_code=status
    )
    return with_page_headers(response)


def message_page(request: Request, staff: Staff, title: str, message: str, status: int) -> Response:
    return render(
        request, staff, "console_message.html", {"title": title, "message": message}, status
    )


def safe_next(path: str) -> str:
    """Where to go after signing in: a console page of this site, nowhere else."""
    after = path[len(CONSOLE.path) : len(CONSOLE.path) + 1]
    if path.startswith(CONSOLE.path) and after in ("", "/", "?") and not _CONTROL.search(path):
        return path
    return CONSOLE.path


def sign_in_page(
    request: Request, error: str | None = None, status: int = 200, next_path: str | None = None
) -> Response:
    sessions = console_sessions(state_of(request))
    nonce = sessions.sign_in_nonce(request)
    fresh = nonce is None
    nonce = nonce or secrets.token_urlsafe(16)
    if next_path is None:
        query = f"?{request.url.query}" if request.url.query else ""
        next_path = request.url.path + query if request.method == "GET" else CONSOLE.path
    response = templates.TemplateResponse(
        request,
        "console_sign_in.html",
        {
            "csrf": sessions.csrf_token(nonce, "sign-in"),
            "error": error,
            "next": safe_next(next_path),
        },
        status_code=status,
    )
    if fresh:
        sessions.keep_sign_in_nonce(response, request, nonce)
    return with_page_headers(response)


def live_response(sections: dict[str, str], summary: str) -> JSONResponse:
    """A refresh's answer: each part's HTML, with a version that changes when its text does."""
    body = {
        "summary": summary,
        "sections": {
            name: {"version": version_of(html), "html": html} for name, html in sections.items()
        },
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def version_of(html: str) -> str:
    return hashlib.sha256(html.encode()).hexdigest()[:16]


def signed_out_json() -> JSONResponse:
    return JSONResponse({"error": "unauthorized", "detail": "sign in again"}, 401)


# ---- sign-in ---------------------------------------------------------------------------------


@router.post("/sign-in")
async def sign_in(
    request: Request,
    token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next_path: Annotated[str, Form(alias="next")] = "",
) -> Response:
    state = state_of(request)
    sessions = console_sessions(state)
    if not sessions.csrf_ok(sessions.sign_in_nonce(request), csrf, "sign-in"):
        return sign_in_page(request, "The form expired: please try again.", 403, next_path)
    token = token.strip()
    identity = state.tokens.identify(token) if token else None
    if identity is None or not CONSOLE.admits(identity):
        # The same words for an unknown token and for one of another role.
        return sign_in_page(request, "That token does not open the console.", 401, next_path)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    sessions.start(response, request, identity, token)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    staff = signed_in(request)
    if staff is None:
        return sign_in_page(request, "Please sign in again.", 401)
    if not staff.csrf_ok(csrf):
        return message_page(
            request, staff, "Not signed out", "The form expired: please try again.", 403
        )
    response = RedirectResponse(CONSOLE.path, status_code=303)
    console_sessions(staff.state).end(response, staff.session)
    return response


# ---- the queue -------------------------------------------------------------------------------


@dataclass
class QueueForm:
    """The queue's filters as typed (to show them again) and as the board reads them."""

    values: dict[str, str]
    filters: QueueFilter
    errors: list[str] = field(default_factory=list)
    page_token: str | None = None


def _checked(params: QueryParams, name: str) -> bool:
    return params.get(name, "") in ("1", "on", "true")


def queue_form(params: QueryParams, staff: Staff) -> QueueForm:
    """The filters in a queue URL, each checked; what is wrong is said, never guessed."""
    values = {
        name: params.get(name, "").strip() for name in ("status", "marketplace", "within", "owner")
    }
    mine, unassigned, breached = (_checked(params, n) for n in ("mine", "unassigned", "breached"))
    values |= {
        "mine": "1" if mine else "",
        "unassigned": "1" if unassigned else "",
        "breached": "1" if breached else "",
    }
    errors = []
    status = values["status"] or None
    if status is not None and status not in OPEN_STATUSES:
        errors.append(f"Status: choose one of {', '.join(OPEN_STATUSES)}.")
        status = None
    marketplace = values["marketplace"] or None
    if marketplace is not None and not re.fullmatch(MARKETPLACE_PATTERN, marketplace):
        errors.append("Marketplace: a marketplace code of 2 to 8 letters, such as US.")
        marketplace = None
    within = None
    if values["within"]:
        try:
            hours = float(values["within"])
        except ValueError:
            hours = -1.0
        if not 0 < hours <= MAX_WITHIN_HOURS:
            errors.append(f"At risk within: a number of hours above 0, up to {MAX_WITHIN_HOURS}.")
        else:
            within = timedelta(hours=hours)
    owner = None
    if values["owner"]:
        if not staff.supervisor:
            errors.append("Owner: only supervisors filter by another person's cases.")
        elif not re.fullmatch(SPECIALIST_NAME_PATTERN, values["owner"]):
            errors.append("Owner: a name as the tokens file gives it.")
        else:
            owner = values["owner"]
    if mine:
        if owner is not None:
            errors.append("Choose either My cases or an owner, not both.")
        owner = staff.name
    if unassigned and owner is not None:
        errors.append("A case cannot be unassigned and owned: choose one.")
    filters = QueueFilter(
        owner=owner,
        unassigned=unassigned,
        status=status,
        marketplace=marketplace,
        at_risk_within=within,
        breached=breached,
    )
    return QueueForm(values, filters, errors, params.get("page") or None)


def queue_link(form: QueueForm, page_token: str | None = None) -> str:
    query = {name: value for name, value in form.values.items() if value}
    if page_token:
        query["page"] = page_token
    return f"{CONSOLE.path}?{urlencode(query)}" if query else CONSOLE.path


def _queue_summary(page: QueuePage | None) -> str:
    if page is None:
        return "The queue cannot be shown right now."
    shown = len(page.cases)
    cases = "case" if page.total == 1 else "cases"
    return (
        f"{page.total} open {cases} match; {shown} shown. "
        f"Updated {page.at.astimezone(UTC):%H:%M} UTC."
    )


async def _queue_model(staff: Staff, form: QueueForm) -> tuple[dict[str, Any], int]:
    page, error, status = None, None, 200
    if form.errors:
        error, status = " ".join(form.errors), 422
    else:
        try:
            page = await staff.state.reads.queue(form.filters, QUEUE_PAGE_SIZE, form.page_token)
        except FAILURES as err:
            api_error = as_api_error(err)
            error, status = api_error.detail, api_error.status
    model = {
        "form": form,
        "page": page,
        "error": error,
        "summary": _queue_summary(page) if error is None else error,
        "statuses": OPEN_STATUSES,
        "staff": staff_names(staff.state) if staff.supervisor else [],
        "next_link": queue_link(form, page.next_page_token)
        if page and page.next_page_token
        else None,
        "first_link": queue_link(form) if form.page_token else None,
        "text": console_text,
        "now": datetime.now(UTC),
    }
    return model, status


@router.get("", response_class=HTMLResponse)
async def queue(request: Request) -> Response:
    staff = signed_in(request)
    if staff is None:
        return sign_in_page(request)
    form = queue_form(request.query_params, staff)
    model, status = await _queue_model(staff, form)
    rows = _rows_html(staff, model)
    query = f"?{request.url.query}" if request.url.query else ""
    model |= {
        "rows_html": Markup(rows),
        "rows_version": version_of(rows),
        "live_url": f"{CONSOLE.path}/queue.json{query}",
        "nav": "queue",
    }
    return render(request, staff, "console_queue.html", model, status)


@router.get("/queue.json")
async def queue_live(request: Request) -> Response:
    """The queue's rows for the page's refresh, with the same filters as the page."""
    staff = signed_in(request)
    if staff is None:
        return signed_out_json()
    form = queue_form(request.query_params, staff)
    model, status = await _queue_model(staff, form)
    if status != 200:
        return JSONResponse({"error": "unavailable", "detail": model["error"]}, status)
    return live_response({"queue-results": _rows_html(staff, model)}, model["summary"])


def _rows_html(staff: Staff, model: dict[str, Any]) -> str:
    return templates.get_template("_console_rows.html").render(shared_model(staff) | model)
