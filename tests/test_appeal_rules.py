"""The appeal's rules without Temporal: who may appeal, the window, one review at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aha.domain import appeals
from aha.domain.appeal_models import AppealReview
from aha.domain.appeals import AppealCase, AppealStart
from aha.domain.board import CaseRow
from aha.domain.models import CaseView, PlanSubmission
from aha.domain.policy import Policy, PolicyError, parse_policy
from aha.domain.refusals import Refusal
from aha.domain.vocabulary import CaseStatus, ClosureReason, RefusalKind

DEACTIVATED_AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def plan(**changes: object) -> PlanSubmission:
    fields: dict[str, object] = {
        "root_cause": "A supplier shipped counterfeit goods",
        "corrective_actions": ["Removed the listings"],
        "preventive_measures": ["Buy from authorised distributors only"],
        "submitted_by": "seller:s1",
    }
    fields.update(changes)
    return PlanSubmission.model_validate(fields)


def row() -> CaseRow:
    return CaseRow(
        case_id="at-risk-case-s1",
        run_id="run-1",
        version=7,
        seller_id="s1",
        marketplace="US",
        status="deactivated",
        opened_at=DEACTIVATED_AT - timedelta(hours=72),
        deadline=DEACTIVATED_AT,
        closed_at=DEACTIVATED_AT,
        closure_reason="deadline_passed",
    )


def appeal_case(window: timedelta | None = timedelta(days=17)) -> AppealCase:
    start = AppealStart(
        case_id="at-risk-case-s1",
        case_run_id="run-1",
        seller_id="s1",
        marketplace="US",
        deactivated_at=DEACTIVATED_AT,
        closure_reason="deadline_passed",
        window=window,
        row=row(),
    )
    return AppealCase(start, appeals.appeal_id_for("at-risk-case-s1", "run-1"))


def refused(kind: RefusalKind) -> pytest.RaisesExc[Refusal]:
    return pytest.raises(Refusal, check=lambda r: r.kind == kind)


def test_the_appeal_id_names_the_case_run() -> None:
    assert appeals.appeal_id_for("at-risk-case-s1", "abc") == "at-risk-case-s1/appeal/abc"


def test_the_window_comes_from_the_case_then_the_policy_in_force_then_17_days() -> None:
    current = Policy(appeal_window=timedelta(days=30))
    assert appeals.window_for(timedelta(days=5), current) == timedelta(days=5)
    assert appeals.window_for(None, current) == timedelta(days=30)
    assert appeals.window_for(None, Policy()) == timedelta(days=17)
    assert appeals.window_for(None, None) == timedelta(days=17)


def test_the_policy_key_parses_and_refuses_bad_values_naming_it() -> None:
    assert parse_policy('appeal_window = "17d"').appeal_window == timedelta(days=17)
    assert parse_policy("").appeal_window is None
    with pytest.raises(PolicyError, match="appeal_window"):
        parse_policy('appeal_window = "soon"')
    with pytest.raises(PolicyError, match="appeal_window must be longer than zero"):
        parse_policy('appeal_window = "0s"')


def test_a_recorded_policy_without_the_key_has_no_window_of_its_own() -> None:
    old = Policy.model_validate_json(Policy().model_dump_json(exclude={"appeal_window"}))
    view = CaseView(case_id="c", seller_id="s1", marketplace="US", policy=old)
    assert appeals.recorded_window(view) is None
    view.policy = Policy(appeal_window=timedelta(days=3))
    assert appeals.recorded_window(view) == timedelta(days=3)


@pytest.mark.parametrize(
    "reason",
    [ClosureReason.DEADLINE_PASSED, ClosureReason.NOT_ENROLLED, ClosureReason.IMMEDIATE_POLICY],
)
def test_every_deactivation_may_be_appealed(reason: ClosureReason) -> None:
    view = CaseView(
        case_id="c",
        seller_id="s1",
        marketplace="US",
        status=CaseStatus.DEACTIVATED,
        closed_at=DEACTIVATED_AT,
        closure_reason=reason,
    )
    appeals.check_appealable(view)


def test_an_open_or_resolved_case_is_not_appealable() -> None:
    open_case = CaseView(case_id="c", seller_id="s1", marketplace="US")
    with refused(RefusalKind.NOT_DEACTIVATED):
        appeals.check_appealable(open_case)
    resolved = open_case.model_copy(
        update={"status": CaseStatus.RESOLVED, "closed_at": DEACTIVATED_AT}
    )
    with refused(RefusalKind.NOT_DEACTIVATED):
        appeals.check_appealable(resolved)


def test_a_plan_with_empty_parts_is_refused_field_by_field() -> None:
    with pytest.raises(Refusal) as refusal:
        appeals.check_plan(plan(root_cause=" ", corrective_actions=[], preventive_measures=[""]))
    assert refusal.value.kind == RefusalKind.INVALID_PLAN
    assert [r.field for r in refusal.value.reasons] == [
        "root_cause",
        "corrective_actions",
        "preventive_measures",
    ]


def test_the_window_is_open_until_its_last_instant() -> None:
    case = appeal_case(timedelta(days=17))
    case.check_appeal(plan(), DEACTIVATED_AT + timedelta(days=17) - timedelta(seconds=1))
    with refused(RefusalKind.APPEAL_WINDOW_CLOSED):
        case.check_appeal(plan(), DEACTIVATED_AT + timedelta(days=17))


def test_one_appeal_under_review_at_a_time_and_a_repeat_is_recognised() -> None:
    case = appeal_case()
    now = DEACTIVATED_AT + timedelta(days=1)
    first = case.appeal(plan(), now)
    assert case.view.status == CaseStatus.APPEAL_UNDER_REVIEW
    assert case.duplicate_of(plan()) == first
    assert case.duplicate_of(plan(root_cause="Something else")) is None
    with refused(RefusalKind.APPEAL_UNDER_REVIEW):
        case.check_appeal(plan(root_cause="Something else"), now)


def test_a_rejection_needs_a_reason_and_lets_the_seller_appeal_again() -> None:
    case = appeal_case()
    now = DEACTIVATED_AT + timedelta(days=1)
    with refused(RefusalKind.NO_APPEAL):
        case.check_review(AppealReview(decision="accept"))
    case.appeal(plan(), now)
    with refused(RefusalKind.INVALID_APPEAL_REVIEW):
        case.check_review(AppealReview(decision="reject", reason="  "))
    no_invoices = AppealReview(decision="reject", reason="No invoices", reviewer="sp")
    rejected = case.review(no_invoices, now)
    assert (rejected.state, rejected.reason, rejected.decided_by) == (
        "rejected",
        "No invoices",
        "sp",
    )
    assert case.view.status == CaseStatus.DEACTIVATED
    assert not case.done(now)
    case.check_appeal(plan(root_cause="Invoices attached"), now)
    case.appeal(plan(root_cause="Invoices attached"), now)
    accepted = case.review(AppealReview(decision="accept"), now + timedelta(hours=1))
    assert accepted.number == 2
    assert case.view.status == CaseStatus.REINSTATED
    assert case.done(now)
    with refused(RefusalKind.ALREADY_REINSTATED):
        case.check_appeal(plan(root_cause="Again"), now)


def test_the_appeal_ends_when_the_window_passes_with_nothing_under_review() -> None:
    case = appeal_case(timedelta(days=17))
    ends = DEACTIVATED_AT + timedelta(days=17)
    assert not case.done(ends - timedelta(seconds=1))
    assert case.done(ends)
    # An appeal sent in time is still reviewed after the window.
    late = appeal_case(timedelta(days=17))
    late.appeal(plan(), ends - timedelta(hours=1))
    assert not late.done(ends + timedelta(days=3))


def test_an_unknown_window_is_learnt_before_the_end_is_judged() -> None:
    case = appeal_case(window=None)
    assert case.view.window_ends is None
    assert not case.done(DEACTIVATED_AT + timedelta(days=400))
    case.set_window(timedelta(days=2))
    assert case.view.window_ends == DEACTIVATED_AT + timedelta(days=2)


def test_the_board_row_is_open_while_under_review_and_closed_again_after() -> None:
    case = appeal_case()
    case.appeal(plan(), DEACTIVATED_AT + timedelta(days=1))
    reviewing = case.board_row(1)
    assert reviewing is not None
    assert (reviewing.status, reviewing.closed_at, reviewing.deadline) == (
        "appeal_under_review",
        None,
        None,
    )
    assert reviewing.version > row().version
    case.review(AppealReview(decision="accept"), DEACTIVATED_AT + timedelta(days=2))
    reinstated = case.board_row(2)
    assert reinstated is not None
    assert (reinstated.status, reinstated.closed_at) == ("reinstated", DEACTIVATED_AT)
    assert reinstated.version > reviewing.version


def test_the_overlay_shows_the_appeal_on_the_closed_case() -> None:
    case = appeal_case()
    view = CaseView(
        case_id="at-risk-case-s1",
        seller_id="s1",
        marketplace="US",
        status=CaseStatus.DEACTIVATED,
        closed_at=DEACTIVATED_AT,
    )
    assert appeals.overlay(view, case.view).status == CaseStatus.DEACTIVATED
    case.appeal(plan(), DEACTIVATED_AT + timedelta(days=1))
    shown = appeals.overlay(view, case.view)
    assert shown.status == CaseStatus.APPEAL_UNDER_REVIEW
    assert shown.closed
    assert shown.appeal is not None and len(shown.appeal.appeals) == 1
    assert view.status == CaseStatus.DEACTIVATED  # the case's own record is not changed
