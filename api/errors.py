"""One error shape everywhere: `{error, detail}` (and `fields` when a body field is at fault)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError

from aha.domain.contact import InvalidContact
from aha.domain.vocabulary import RefusalKind
from aha.service import (
    CaseClosed,
    CaseClosing,
    CaseError,
    InvalidInput,
    NoOpenCase,
    StillClosing,
    UnknownIssueType,
    UnknownSeller,
    refusal_kind,
)

log = structlog.get_logger(__name__)


class FieldProblem(BaseModel):
    field: str
    reason: str


class ErrorBody(BaseModel):
    error: str
    detail: str
    fields: list[FieldProblem] = []


class ApiError(Exception):
    def __init__(
        self, status: int, error: str, detail: str, fields: list[FieldProblem] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.fields = fields or []


class TemporalUnavailable(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(503, "temporal_unavailable", detail)


@dataclass(frozen=True)
class Answer:
    """The HTTP status and error code a failed action gets. A 422 also names the fields."""

    status: int
    error: str


# Every way an action on a case can fail, and its answer: the service's own errors by class
# (a subclass's row wins over its parent's), then each refusal a case can give, by kind.
# tests/test_api_errors.py fails when a RefusalKind has no row.
ANSWERS: dict[RefusalKind | type[CaseError], Answer] = {
    UnknownSeller: Answer(404, "unknown_seller"),
    NoOpenCase: Answer(404, "no_open_case"),
    # The code the body's own validation gave an unknown type before types were data.
    UnknownIssueType: Answer(422, "invalid_request"),
    InvalidInput: Answer(422, "invalid_input"),
    StillClosing: Answer(503, "previous_case_closing"),
    CaseClosed: Answer(409, "case_closed"),
    CaseClosing: Answer(409, "case_closed"),
    # The input is wrong:
    RefusalKind.WRONG_SELLER: Answer(422, "wrong_seller"),
    RefusalKind.INVALID_PLAN: Answer(422, "invalid_plan"),
    RefusalKind.INVALID_REVIEW: Answer(422, "invalid_review"),
    RefusalKind.INVALID_RESOLUTION: Answer(422, "invalid_resolution"),
    # What it names does not exist:
    RefusalKind.UNKNOWN_ATTEMPT: Answer(404, "unknown_attempt"),
    RefusalKind.UNKNOWN_ISSUE: Answer(404, "unknown_issue"),
    # The case has moved on, or is not there yet:
    RefusalKind.CASE_CLOSED: Answer(409, "case_closed"),
    RefusalKind.DUPLICATE_EVENT: Answer(409, "duplicate_event"),
    RefusalKind.NO_WORKING_PHONE: Answer(409, "no_working_phone"),
    RefusalKind.NOT_PLACED: Answer(409, "not_placed"),
    RefusalKind.ALREADY_REPORTED: Answer(409, "already_reported"),
    RefusalKind.PLAN_UNDER_REVIEW: Answer(409, "plan_under_review"),
    RefusalKind.CALL_REQUIRED: Answer(409, "call_required"),
    RefusalKind.NO_PLAN: Answer(409, "no_plan"),
    RefusalKind.ALREADY_RESOLVED: Answer(409, "already_resolved"),
    RefusalKind.DEADLINE_PASSED: Answer(409, "deadline_passed"),
    RefusalKind.NOT_REACHED: Answer(409, "not_reached"),
    # Someone else owns the case (named in the detail), or nobody owns what is given back:
    RefusalKind.OWNED_BY_OTHER: Answer(409, "owned_by_other"),
    RefusalKind.NOT_OWNED: Answer(409, "not_owned"),
    RefusalKind.INVALID_OWNER: Answer(422, "invalid_owner"),
    RefusalKind.INVALID_EXTENSION: Answer(422, "invalid_extension"),
    # A case from before deadline extensions:
    RefusalKind.NOT_EXTENSIBLE: Answer(409, "not_extensible"),
    RefusalKind.NOT_DEACTIVATED: Answer(409, "not_deactivated"),
    RefusalKind.APPEAL_WINDOW_CLOSED: Answer(409, "appeal_window_closed"),
    RefusalKind.APPEAL_UNDER_REVIEW: Answer(409, "appeal_under_review"),
    RefusalKind.DUPLICATE_APPEAL: Answer(409, "duplicate_appeal"),
    RefusalKind.INVALID_CALLBACK: Answer(422, "invalid_callback"),
    RefusalKind.NO_CALLBACK: Answer(409, "no_callback"),
    # A case from before scheduled callbacks:
    RefusalKind.CALLBACKS_UNAVAILABLE: Answer(409, "callbacks_unavailable"),
    RefusalKind.ALREADY_REINSTATED: Answer(409, "already_reinstated"),
    RefusalKind.NO_APPEAL: Answer(409, "no_appeal"),
    RefusalKind.INVALID_APPEAL_REVIEW: Answer(422, "invalid_appeal_review"),
}


def answer_for(err: CaseError) -> Answer:
    for cls in type(err).__mro__:
        if cls in ANSWERS:
            return ANSWERS[cls]
    kind = refusal_kind(err.kind)
    if isinstance(kind, RefusalKind):
        return ANSWERS[kind]
    if err.kind:
        # A refusal this code's vocabulary lacks (a worker on other code): say it, as a 409.
        log.warning("refusal kind without an HTTP answer", kind=err.kind)
        return Answer(409, _snake(err.kind))
    return Answer(409, "conflict")


def from_case_error(err: CaseError) -> ApiError:
    answer = answer_for(err)
    fields = []
    if answer.status == 422:
        fields = [FieldProblem.model_validate(d) for d in err.details if isinstance(d, dict)]
    return ApiError(answer.status, answer.error, str(err), fields)


def as_api_error(err: Exception) -> ApiError:
    """What a surface tells its caller about a failed action on a case."""
    if isinstance(err, ApiError):
        return err
    if isinstance(err, CaseError):
        return from_case_error(err)
    if isinstance(err, RPCError):
        return TemporalUnavailable(f"Temporal did not answer: {err.message}")
    raise TypeError(f"not an action's failure: {err!r}") from err


def contact_field(err: InvalidContact) -> str:
    """The field a contact form or body calls it: the directory's phone is the emergency one."""
    return "emergency_phone" if err.field == "phone" else err.field


def _snake(kind: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in kind).lstrip("_")


def error_response(err: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorBody(error=err.error, detail=err.detail, fields=err.fields)
    return JSONResponse(body.model_dump(mode="json"), status_code=err.status, headers=headers)


def invalid(field: str, reason: str) -> ApiError:
    return ApiError(
        422, "invalid_input", f"{field}: {reason}", [FieldProblem(field=field, reason=reason)]
    )


def _field_name(loc: tuple[Any, ...]) -> str:
    # ("body", "readings", 3, "score") -> "readings.3.score": where the value sits is said by
    # the route, and union branches are tagged with model names (CamelCase), never fields.
    parts = [
        str(p)
        for p in loc
        if p not in ("body", "query", "path", "header") and not str(p)[:1].isupper()
    ]
    return ".".join(parts) or str(loc[0] if loc else "body")


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
        return error_response(err, headers)

    @app.exception_handler(CaseError)
    async def case_error(request: Request, err: CaseError) -> JSONResponse:
        return error_response(from_case_error(err))

    @app.exception_handler(InvalidContact)
    async def invalid_contact(request: Request, err: InvalidContact) -> JSONResponse:
        problem = FieldProblem(field=contact_field(err), reason=str(err))
        return error_response(ApiError(422, "invalid_contact", str(err), [problem]))

    @app.exception_handler(RPCError)
    async def temporal_error(request: Request, err: RPCError) -> JSONResponse:
        return error_response(as_api_error(err))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        # A bug, not bad input; still the one error shape, and nothing internal in `detail`.
        log.exception("unexpected error", path=request.url.path)
        return error_response(ApiError(500, "internal_error", "something went wrong on our side"))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, err: RequestValidationError) -> JSONResponse:
        problems = err.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            return error_response(ApiError(400, "malformed_json", "the body is not valid JSON"))
        fields = [
            FieldProblem(field=_field_name(tuple(p.get("loc", ()))), reason=str(p.get("msg")))
            for p in problems
        ]
        detail = "; ".join(f"{f.field}: {f.reason}" for f in fields)
        return error_response(ApiError(422, "invalid_request", detail, fields))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        names = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}
        error = names.get(err.status_code, "http_error")
        return error_response(ApiError(err.status_code, error, str(err.detail)))
