"""Every refusal a case can give has its HTTP answer in one table, and the answers stay put."""

from __future__ import annotations

import pytest

from aha.domain.vocabulary import RefusalKind
from aha.ports import UpdateRefused
from aha.service import (
    CaseClosed,
    CaseClosing,
    CaseError,
    InvalidInput,
    NoOpenCase,
    Rejected,
    StillClosing,
    UnknownIssueType,
    UnknownSeller,
    _as_case_error,
)
from api.errors import ANSWERS, from_case_error

# The answers the API gives today: a change here is a change to the API's contract.
REFUSALS = {
    "WrongSeller": (422, "wrong_seller"),
    "DuplicateEvent": (409, "duplicate_event"),
    "CaseClosed": (409, "case_closed"),
    "NoWorkingPhone": (409, "no_working_phone"),
    "UnknownAttempt": (404, "unknown_attempt"),
    "NotPlaced": (409, "not_placed"),
    "AlreadyReported": (409, "already_reported"),
    "PlanUnderReview": (409, "plan_under_review"),
    "CallRequired": (409, "call_required"),
    "InvalidPlan": (422, "invalid_plan"),
    "NoPlan": (409, "no_plan"),
    "InvalidReview": (422, "invalid_review"),
    "UnknownIssue": (404, "unknown_issue"),
    "AlreadyResolved": (409, "already_resolved"),
    "InvalidResolution": (422, "invalid_resolution"),
    "DeadlinePassed": (409, "deadline_passed"),
    "NotReached": (409, "not_reached"),
    "OwnedByOther": (409, "owned_by_other"),
    "NotOwned": (409, "not_owned"),
    "InvalidOwner": (422, "invalid_owner"),
    "InvalidExtension": (422, "invalid_extension"),
    "NotExtensible": (409, "not_extensible"),
    "NotDeactivated": (409, "not_deactivated"),
    "AppealWindowClosed": (409, "appeal_window_closed"),
    "AppealUnderReview": (409, "appeal_under_review"),
    "DuplicateAppeal": (409, "duplicate_appeal"),
    "AlreadyReinstated": (409, "already_reinstated"),
    "NoAppeal": (409, "no_appeal"),
    "InvalidAppealReview": (422, "invalid_appeal_review"),
    "InvalidCallback": (422, "invalid_callback"),
    "NoCallback": (409, "no_callback"),
    "CallbacksUnavailable": (409, "callbacks_unavailable"),
}
REASON = {"field": "note", "reason": "cannot be empty"}


def test_every_refusal_kind_has_an_http_answer() -> None:
    missing = [kind for kind in RefusalKind if kind not in ANSWERS]
    assert not missing, f"add these refusal kinds to api.errors.ANSWERS: {missing}"
    assert set(REFUSALS) == {str(kind) for kind in RefusalKind}, "and to REFUSALS above"


@pytest.mark.parametrize("kind", list(RefusalKind))
def test_a_refusal_gets_its_status_and_code(kind: RefusalKind) -> None:
    answer = from_case_error(Rejected("refused", kind, [REASON]))
    assert (answer.status, answer.error) == REFUSALS[kind]
    assert answer.detail == "refused"
    # Only a 422 says which field is wrong.
    assert [f.model_dump() for f in answer.fields] == ([REASON] if answer.status == 422 else [])


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (UnknownSeller("who?"), 404, "unknown_seller"),
        (NoOpenCase("none"), 404, "no_open_case"),
        (InvalidInput("bad", "detected_at"), 422, "invalid_input"),
        (UnknownIssueType("unknown issue type 'x'; known: a"), 422, "invalid_request"),
        (StillClosing("wait"), 503, "previous_case_closing"),
        (CaseClosed("closed", RefusalKind.CASE_CLOSED), 409, "case_closed"),
        (CaseClosing("closing"), 409, "case_closed"),
        (CaseError("the case keeps changing"), 409, "conflict"),
        (Rejected("no reason given"), 409, "conflict"),
        # A name this vocabulary lacks (a worker on other code) keeps today's answer.
        (Rejected("new", "BrandNewRefusal"), 409, "brand_new_refusal"),
    ],
)
def test_the_services_own_errors_keep_their_answers(
    error: CaseError, status: int, code: str
) -> None:
    answer = from_case_error(error)
    assert (answer.status, answer.error, answer.detail) == (status, code, str(error))


def test_unknown_input_names_its_field() -> None:
    answer = from_case_error(UnknownIssueType("unknown issue type 'x'; known: a"))
    assert [(f.field, f.reason) for f in answer.fields] == [
        ("issue_type", "unknown issue type 'x'; known: a")
    ]


def test_the_service_carries_the_refusal_as_its_kind() -> None:
    rejected = _as_case_error(UpdateRefused("bad plan", "InvalidPlan", [[REASON]]))
    assert isinstance(rejected, Rejected)
    assert rejected.kind is RefusalKind.INVALID_PLAN
    assert rejected.details == [REASON]
    closed = _as_case_error(UpdateRefused("closed", "CaseClosed"))
    assert isinstance(closed, CaseClosed) and closed.kind is RefusalKind.CASE_CLOSED
    assert _as_case_error(UpdateRefused("odd", "BrandNewRefusal")).kind == "BrandNewRefusal"
    assert _as_case_error(UpdateRefused("?", None)).kind == ""
