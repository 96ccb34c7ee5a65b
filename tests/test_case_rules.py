"""Every transition and every refusal of the pure `Case`, without a server.

Times are explicit: 15:00 UTC on a January Tuesday is 10:00 in Toronto, inside the default
calling hours (08:00 to 21:00 local), whatever the hour these tests run at.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from aha.domain import appeals
from aha.domain.appeal_models import AppealReview
from aha.domain.appeals import AppealCase, AppealStart
from aha.domain.case import DIALER_FAILED, NO_REPORT, Case, Edition
from aha.domain.effects import CloseResolved, Deactivate, Effect, PlaceCall, SendEmail
from aha.domain.models import (
    CallbackRequest,
    CallReport,
    CaseStart,
    DetectionEvent,
    Extension,
    OwnershipChange,
    PlanSubmission,
    Resolution,
    Review,
    SellerProfile,
)
from aha.domain.policy import Policy
from aha.domain.refusals import Refusal
from aha.domain.vocabulary import (
    CallOutcome,
    CaseStatus,
    ClosureReason,
    EmailKind,
    IssueStatus,
    RefusalKind,
    ReviewState,
    TimelineKind,
)

T0 = datetime(2027, 1, 12, 15, 0, tzinfo=UTC)  # Tuesday 10:00 in Toronto
EVENING = datetime(2027, 1, 13, 3, 0, tzinfo=UTC)  # Tuesday 22:00 in Toronto
POLICY = Policy()
SELLER = "S1"


def profile(
    phone: bool = True, version: int = 1, timezone: str = "America/Toronto"
) -> SellerProfile:
    return SellerProfile(
        seller_id=SELLER,
        marketplace="CA",
        timezone=timezone,
        has_phone=phone,
        phone_version=version,
        account_status="active",
    )


def new_case(
    edition: Edition = Edition.ORDERED,
    protected: bool = True,
    phone: bool = True,
    now: datetime = T0,
) -> Case:
    case = Case(CaseStart(seller_id=SELLER, marketplace="CA", protected=protected), "C", "R")
    case.edition = edition
    case.begin(POLICY, profile(phone), now)
    return case


def event(
    event_id: str = "E1", issue_type: str = "listing_policy_violation", at: datetime = T0
) -> DetectionEvent:
    return DetectionEvent(
        event_id=event_id,
        seller_id=SELLER,
        issue_type=issue_type,
        severity="high",
        detected_at=at,
        label="Listing policy violation",
        guidance=["Open the flagged listings.", "Fix them."],
    )


def kinds(case: Case) -> list[str]:
    return [entry.kind for entry in case.view.timeline]


def emails(effects: list[Effect]) -> list[EmailKind]:
    return [e.request.kind for e in effects if isinstance(e, SendEmail)]


def calls(effects: list[Effect]) -> list[int]:
    return [e.attempt.number for e in effects if isinstance(e, PlaceCall)]


def opened(edition: Edition = Edition.ORDERED, now: datetime = T0, **kw: bool) -> Case:
    case = new_case(edition, now=now, **kw)
    case.detect(event(at=now), now)
    return case


def placed_call(case: Case, now: datetime = T0) -> int:
    """A proactive call planned and placed at `now`; returns its number."""
    (number,) = calls(case.plan_calls(now))
    case.call_placed(number, now)
    return number


def reached(now: datetime = T0) -> Case:
    case = opened(now=now)
    number = placed_call(case, now)
    case.report_call_outcome(CallReport(attempt=number, outcome="answered"), now)
    return case


PLAN = PlanSubmission(
    root_cause="supplier mix-up",
    corrective_actions=["removed the listings"],
    preventive_measures=["authorised suppliers only"],
)


def refusal(check: object, *args: object) -> Refusal:
    with pytest.raises(Refusal) as caught:
        check(*args)  # type: ignore[operator]
    return caught.value


# ---- detection ---------------------------------------------------------------------------


def test_a_first_detection_opens_the_case_and_emails_the_seller() -> None:
    case = new_case()
    receipt, effects = case.detect(event(), T0)
    assert (receipt.created, receipt.issue_id, receipt.duplicate) == (True, "I1", False)
    (issue,) = case.view.issues
    assert issue.deadline == T0 + POLICY.deadline
    assert case.view.status == CaseStatus.AWAITING_CONTACT
    assert case.view.deadline == issue.deadline
    assert kinds(case) == [TimelineKind.CASE_OPENED]
    (email,) = [e.request for e in effects if isinstance(e, SendEmail)]
    assert email.kind == EmailKind.ISSUE_OPENED
    assert email.key == "C/R/email/issue-opened/I1"
    assert email.deadline == issue.deadline
    assert email.fence is None  # an issue_opened email carries consequences: never fenced


def test_a_later_detection_adds_an_issue_and_the_earliest_deadline_wins() -> None:
    case = opened()
    later = T0 + timedelta(hours=5)
    receipt, effects = case.detect(event("E2", at=later), later)
    assert (receipt.created, receipt.issue_id) == (False, "I2")
    assert kinds(case)[-1] == TimelineKind.ISSUE_ADDED
    assert emails(effects) == [EmailKind.ISSUE_OPENED]
    assert case.deadline() == T0 + POLICY.deadline


def test_a_redelivered_event_is_answered_and_changes_nothing() -> None:
    case = opened()
    before = case.view.model_copy(deep=True)
    receipt, effects = case.detect(event(), T0 + timedelta(minutes=1))
    assert (receipt.duplicate, receipt.created, receipt.issue_id) == (True, True, "I1")
    assert effects == []
    assert case.view == before
    refused = refusal(case.check_detect, event(), T0)
    assert refused.kind == RefusalKind.DUPLICATE_EVENT
    assert refused.receipt == receipt


@pytest.mark.parametrize(
    ("issue_type", "protected", "reason"),
    [
        ("fraud", True, ClosureReason.IMMEDIATE_POLICY),
        ("listing_policy_violation", False, ClosureReason.NOT_ENROLLED),
    ],
)
def test_some_detections_deactivate_at_once(
    issue_type: str, protected: bool, reason: ClosureReason
) -> None:
    case = new_case(protected=protected)
    _, effects = case.detect(event(issue_type=issue_type), T0)
    assert effects == []  # no "work with us" email for a case that cannot be worked
    assert case.closing
    assert kinds(case)[-1] == TimelineKind.IMMEDIATE_DEACTIVATION
    assert case.tick(T0) == [Deactivate(reason)]
    assert refusal(case.check_detect, event("E2"), T0).kind == RefusalKind.CASE_CLOSED


def test_an_event_for_another_seller_is_refused() -> None:
    case = opened()
    other = event("E9").model_copy(update={"seller_id": "S2"})
    assert refusal(case.check_detect, other, T0).kind == RefusalKind.WRONG_SELLER


# ---- the clock ---------------------------------------------------------------------------


def test_the_deadline_deactivates_with_the_overdue_issues() -> None:
    case = opened()
    deadline = T0 + POLICY.deadline
    # Just before, only the reminders that fell due (both of them, late) go out.
    assert emails(case.tick(deadline - timedelta(seconds=1))) == [EmailKind.REMINDER] * 2
    assert case.tick(deadline) == [Deactivate(ClosureReason.DEADLINE_PASSED)]
    case.start_deactivation(ClosureReason.DEADLINE_PASSED, deadline)
    assert case.view.closure_reason == ClosureReason.DEADLINE_PASSED
    (email,) = [e.request for e in case.deactivated(deadline) if isinstance(e, SendEmail)]
    assert email.kind == EmailKind.DEACTIVATED
    assert email.reason == "deadline passed with unresolved issue(s) I1"
    assert [i.id for i in email.issues] == ["I1"]
    assert case.view.status == CaseStatus.DEACTIVATED
    assert case.view.closed_at == deadline
    assert kinds(case)[-1] == TimelineKind.ACCOUNT_DEACTIVATED


def test_reminders_fall_due_before_the_deadline_once_each() -> None:
    case = opened()
    deadline = T0 + POLICY.deadline
    first_reminder = deadline - max(POLICY.reminders_before_deadline)
    effects = case.tick(first_reminder)
    (email,) = [e.request for e in effects if isinstance(e, SendEmail)]
    assert email.kind == EmailKind.REMINDER
    assert email.fence == "C/R"  # the end of the run makes a reminder pointless
    assert case.tick(first_reminder + timedelta(minutes=1)) == []
    assert TimelineKind.REMINDER_SENT not in kinds(case)  # edition 3 records it when sent


def test_edition_one_records_a_reminder_as_it_is_queued() -> None:
    case = opened(Edition.SEQUENTIAL)
    deadline = T0 + POLICY.deadline
    effects = case.tick(deadline - max(POLICY.reminders_before_deadline))
    assert emails(effects) == [EmailKind.REMINDER]
    assert effects[0].request.fence is None  # type: ignore[union-attr]
    assert kinds(case)[-1] == TimelineKind.REMINDER_SENT


def test_no_reminder_for_a_resolved_issue() -> None:
    case = reached()
    case.detect(event("E2"), T0)  # keeps the case open once I1 is resolved
    case.resolve_issue(Resolution(issue_id="I1", note="fixed"), T0)
    effects = case.tick(T0 + POLICY.deadline - max(POLICY.reminders_before_deadline))
    assert [e.request.issues[0].id for e in effects if isinstance(e, SendEmail)] == ["I2"]


def test_next_due_names_the_earliest_thing() -> None:
    case = opened(now=EVENING)
    case.plan_calls(EVENING)
    due = case.next_due()
    assert due is not None
    assert due == (datetime(2027, 1, 13, 13, 0, tzinfo=UTC), "next proactive call")


# ---- proactive calls ---------------------------------------------------------------------


def test_inside_calling_hours_a_call_is_placed_at_once() -> None:
    case = opened()
    effects = case.plan_calls(T0)
    assert calls(effects) == [1]
    attempt = case.view.call_attempts[0]
    assert attempt.scheduled_for == T0
    assert not attempt.seller_initiated
    assert attempt.guidance == ["I1: Open the flagged listings.", "I1: Fix them."]


def test_an_event_without_guidance_takes_the_fallback_for_its_type() -> None:
    start = CaseStart(seller_id=SELLER, marketplace="CA")
    case = Case(start, "C", "R", guidance_for=lambda issue_type: [f"read about {issue_type}"])
    case.edition = Edition.ORDERED
    case.begin(POLICY, profile(), T0)
    case.detect(event().model_copy(update={"guidance": [], "label": ""}), T0)
    assert calls(case.plan_calls(T0)) == [1]
    assert case.view.call_attempts[0].guidance == ["I1: read about listing_policy_violation"]


def test_outside_calling_hours_the_call_waits_for_the_morning() -> None:
    case = opened(now=EVENING)
    assert case.plan_calls(EVENING) == []
    assert case.view.next_call_at == datetime(2027, 1, 13, 13, 0, tzinfo=UTC)  # 08:00 local


def test_one_call_at_a_time() -> None:
    case = opened()
    placed_call(case)
    assert case.plan_calls(T0 + timedelta(minutes=1)) == []


@pytest.mark.parametrize(
    ("edition", "planned"),
    [(Edition.SEQUENTIAL, [3]), (Edition.BACKGROUND, []), (Edition.ORDERED, [])],
    ids=lambda value: value.name if isinstance(value, Edition) else None,
)
def test_edition_one_rings_again_while_a_seller_call_is_pending(
    edition: Edition, planned: list[int]
) -> None:
    """A reached seller still needs a call after a request for information; edition 1
    places it beside the seller's own pending call, later editions wait for that call."""
    case = opened(edition)
    placed_call(case)
    case.report_call_outcome(CallReport(attempt=1, outcome="answered"), T0)
    case.submit_plan(PLAN, T0)
    later = T0 + timedelta(hours=1)  # 11:00 in Toronto
    case.review_plan(Review(decision="request_info", questions=["Which supplier?"]), later)
    case.contact_me_now("seller", later)
    case.call_placed(2, later)
    assert case.view.status == CaseStatus.CALL_REQUIRED
    assert [a.number for a in case.view.pending_calls()] == [2]
    assert calls(case.plan_calls(later)) == planned


def test_no_call_without_a_phone() -> None:
    case = opened(phone=False)
    assert case.plan_calls(T0) == []
    assert case.view.calling_stopped_reason == "no emergency phone on file"


def test_no_call_planned_past_the_deadline() -> None:
    late = T0 + POLICY.deadline - timedelta(hours=1)
    case = new_case(now=late)
    case.detect(event(at=T0), late)
    case.plan_calls(late)  # first attempt at once
    case.call_placed(1, late)
    case.report_call_outcome(CallReport(attempt=1, outcome="voicemail"), late)
    assert case.plan_calls(late) == []  # the retry (24 h) would fall after the deadline
    assert case.view.next_call_at is None


def test_a_busy_line_is_retried_after_the_policy_delay() -> None:
    case = opened()
    placed_call(case)
    case.report_call_outcome(CallReport(attempt=1, outcome="busy"), T0)
    assert case.plan_calls(T0) == []
    assert case.view.next_call_at == T0 + POLICY.call_retry_after.busy


def test_an_unreported_call_counts_as_unanswered_after_the_report_timeout() -> None:
    case = opened()
    placed_call(case)
    expiry = T0 + POLICY.call_report_timeout
    assert case.next_due() == (expiry, "outcome of call attempt 1")
    case.tick(expiry)
    attempt = case.view.call_attempts[0]
    assert (attempt.outcome, attempt.reported_by) == (CallOutcome.NO_ANSWER, NO_REPORT)
    # A person's late report still tells the truth.
    case.check_call_outcome(CallReport(attempt=1, outcome="answered"), expiry)
    case.report_call_outcome(CallReport(attempt=1, outcome="answered"), expiry)
    assert case.view.reached


def test_an_answered_call_reaches_the_seller_once() -> None:
    case = reached()
    assert case.view.status == CaseStatus.ENGAGED
    assert kinds(case).count(TimelineKind.SELLER_REACHED) == 1


def test_an_invalid_number_stops_calling_and_asks_for_a_new_one() -> None:
    case = opened()
    placed_call(case)
    _, effects = case.report_call_outcome(CallReport(attempt=1, outcome="invalid_number"), T0)
    (email,) = [e.request for e in effects if isinstance(e, SendEmail)]
    assert email.kind == EmailKind.INVALID_NUMBER
    assert (email.phone_version, email.fence) == (1, "C/R")
    assert case.plan_calls(T0) == []
    assert case.view.calling_stopped_reason is not None
    assert refusal(case.check_contact_me_now, T0).kind == RefusalKind.NO_WORKING_PHONE
    # A new number resumes calling at once.
    case.profile_refreshed(profile(version=2), "seller", T0 + timedelta(hours=1))
    assert kinds(case)[-1] == TimelineKind.PHONE_UPDATED
    assert calls(case.plan_calls(T0 + timedelta(hours=1))) == [2]
    assert case.stale_reason(EmailKind.INVALID_NUMBER, email) == (
        "the emergency phone number was changed first"
    )


def test_edition_one_lets_a_seller_without_a_working_phone_press_contact_me_now() -> None:
    case = opened(Edition.SEQUENTIAL, phone=False)
    case.check_contact_me_now(T0)


def test_a_new_time_zone_is_recorded() -> None:
    case = opened()
    case.profile_refreshed(profile(timezone="Europe/Berlin"), "seller", T0)
    assert case.view.timezone == "Europe/Berlin"
    assert kinds(case)[-1] == TimelineKind.TIMEZONE_UPDATED


def test_an_unavailable_profile_keeps_the_last_one() -> None:
    case = opened()
    case.profile_unavailable("directory down", T0)
    assert case.view.timeline[-1].detail == "kept the last contact profile: directory down"
    assert case.profile == profile()


def test_placement_is_recorded_once_and_not_after_an_outcome() -> None:
    case = opened()
    (number,) = calls(case.plan_calls(T0))
    case.call_placed(number, T0)
    case.call_placed(number, T0 + timedelta(seconds=5))
    assert case.view.call_attempts[0].placed_at == T0
    assert kinds(case).count(TimelineKind.CALL_PLACED) == 1


def test_edition_three_records_a_completed_dial_like_its_placement_signal() -> None:
    case = opened()
    (number,) = calls(case.plan_calls(T0))
    attempt = case.view.call_attempts[0]
    case.dial_completed(attempt, T0)
    assert attempt.placed_at == T0
    assert kinds(case).count(TimelineKind.CALL_PLACED) == 1
    # A repeated completion, or the placement signal arriving late, adds nothing.
    case.dial_completed(attempt, T0 + timedelta(seconds=5))
    case.call_placed(number, T0 + timedelta(seconds=6))
    assert attempt.placed_at == T0
    assert kinds(case).count(TimelineKind.CALL_PLACED) == 1


def test_edition_three_ignores_a_completed_dial_after_the_outcome() -> None:
    case = opened()
    (number,) = calls(case.plan_calls(T0))
    case.call_placed(number, T0)
    case.report_call_outcome(CallReport(attempt=number, outcome="answered"), T0)
    before = case.view.model_copy(deep=True)
    case.dial_completed(case.view.call_attempts[0], T0 + timedelta(minutes=1))
    assert case.view == before


def test_edition_three_ignores_a_completed_dial_once_the_case_closed() -> None:
    case = reached()
    case.contact_me_now("seller", T0)  # attempt 2, still being dialled
    case.resolve_issue(Resolution(issue_id="I1", note="fixed"), T0)
    case.close_resolved(T0)
    before = case.view.model_copy(deep=True)
    case.dial_completed(case.view.call_attempts[1], T0 + timedelta(minutes=1))
    assert case.view == before
    assert case.view.call_attempts[1].placed_at is None


@pytest.mark.parametrize("edition", [Edition.SEQUENTIAL, Edition.BACKGROUND], ids=lambda e: e.name)
def test_before_edition_three_every_completed_dial_records_a_placement(edition: Edition) -> None:
    """No placement signal before edition 3: the completion is the word, and unguarded."""
    case = opened(edition)
    (number,) = calls(case.plan_calls(T0))
    attempt = case.view.call_attempts[0]
    case.dial_completed(attempt, T0)
    assert attempt.placed_at == T0
    assert kinds(case)[-1] == TimelineKind.CALL_PLACED
    case.report_call_outcome(CallReport(attempt=number, outcome="answered"), T0)
    case.resolve_issue(Resolution(issue_id="I1", note="fixed"), T0)
    case.close_resolved(T0)
    # After the outcome and the closure, a repeated completion is recorded all the same.
    later = T0 + timedelta(minutes=1)
    case.dial_completed(attempt, later)
    assert attempt.placed_at == later
    assert kinds(case).count(TimelineKind.CALL_PLACED) == 2
    assert kinds(case)[-1] == TimelineKind.CALL_PLACED


@pytest.mark.parametrize(
    ("edition", "recorded"),
    [(Edition.ORDERED, False), (Edition.BACKGROUND, True)],
    ids=lambda value: value.name if isinstance(value, Edition) else None,
)
def test_a_failed_dial_while_closing(edition: Edition, recorded: bool) -> None:
    """Edition 3 closes without the attempt's outcome; edition 2 still records it."""
    case = opened(edition)
    assert calls(case.plan_calls(T0)) == [1]
    deadline = T0 + POLICY.deadline
    case.start_deactivation(ClosureReason.DEADLINE_PASSED, deadline)
    before = case.view.model_copy(deep=True)
    case.dial_failed(case.view.call_attempts[0], "dialer down", deadline)
    attempt = case.view.call_attempts[0]
    if recorded:
        assert (attempt.outcome, attempt.reported_by) == (CallOutcome.NO_ANSWER, DIALER_FAILED)
        assert kinds(case)[-2:] == [TimelineKind.CALL_FAILED, TimelineKind.CALL_OUTCOME]
    else:
        assert case.view == before
        assert attempt.outcome is None


def test_a_failed_dial_counts_as_unanswered() -> None:
    case = opened()
    assert calls(case.plan_calls(T0)) == [1]
    case.dial_failed(case.view.call_attempts[0], "dialer down", T0)
    attempt = case.view.call_attempts[0]
    assert (attempt.outcome, attempt.reported_by) == (CallOutcome.NO_ANSWER, DIALER_FAILED)
    assert kinds(case)[-2:] == [TimelineKind.CALL_FAILED, TimelineKind.CALL_OUTCOME]


# ---- contact me now ----------------------------------------------------------------------


def test_contact_me_now_calls_at_once_and_counts_as_reaching_the_seller() -> None:
    case = opened()
    receipt, effects = case.contact_me_now("seller", T0)
    assert (receipt.attempt, receipt.created) == (1, True)
    assert calls(effects) == [1]
    assert case.view.reached and case.view.status == CaseStatus.ENGAGED
    again, more = case.contact_me_now("seller", T0)
    assert (again.attempt, again.created, more) == (1, False, [])


# ---- call outcome refusals ---------------------------------------------------------------


def test_call_outcome_refusals() -> None:
    case = opened()
    report = CallReport(attempt=1, outcome="answered")
    assert refusal(case.check_call_outcome, report, T0).kind == RefusalKind.UNKNOWN_ATTEMPT
    case.plan_calls(T0)
    assert refusal(case.check_call_outcome, report, T0).kind == RefusalKind.NOT_PLACED
    case.call_placed(1, T0)
    case.report_call_outcome(report, T0)
    assert refusal(case.check_call_outcome, report, T0).kind == RefusalKind.ALREADY_REPORTED


# ---- the plan of action ------------------------------------------------------------------


def test_a_plan_goes_under_review_and_its_acceptance_resolves_the_case() -> None:
    case = reached()
    case.check_plan(PLAN, T0)
    plan = case.submit_plan(PLAN, T0)
    assert plan.issue_ids == ["I1"]
    assert case.view.status == CaseStatus.PLAN_UNDER_REVIEW
    assert refusal(case.check_plan, PLAN, T0).kind == RefusalKind.PLAN_UNDER_REVIEW
    case.check_review(Review(decision="accept"), T0)
    case.review_plan(Review(decision="accept", reviewer="ana"), T0)
    assert case.view.issues[0].status == IssueStatus.RESOLVED
    assert case.view.issues[0].resolved_by == "ana"
    assert case.tick(T0) == [CloseResolved()]
    effects = case.close_resolved(T0)
    assert emails(effects) == [EmailKind.RESOLVED]
    assert case.view.status == CaseStatus.RESOLVED
    assert case.view.closure_reason == ClosureReason.RESOLVED
    assert refusal(case.check_review, Review(decision="accept"), T0).kind == RefusalKind.CASE_CLOSED


def test_a_request_for_information_requires_an_answered_call() -> None:
    case = reached()
    case.submit_plan(PLAN, T0)
    later = T0 + timedelta(hours=1)
    case.review_plan(Review(decision="request_info", questions=["Which supplier?"]), later)
    assert case.view.status == CaseStatus.CALL_REQUIRED
    assert refusal(case.check_plan, PLAN, later).kind == RefusalKind.CALL_REQUIRED
    review = Review(decision="accept")
    assert refusal(case.check_review, review, later).kind == RefusalKind.CALL_REQUIRED
    note = Resolution(issue_id="I1", note="fixed")
    assert refusal(case.check_resolution, note, later).kind == RefusalKind.CALL_REQUIRED
    (number,) = calls(case.plan_calls(later))  # called again at once, though reached
    case.call_placed(number, later)
    case.report_call_outcome(CallReport(attempt=number, outcome="answered"), later)
    assert case.view.plan is not None
    assert case.view.plan.review_state == ReviewState.UNDER_REVIEW
    assert kinds(case)[-1] == TimelineKind.PLAN_BACK_IN_REVIEW


def test_an_invalid_plan_is_refused_with_a_reason_per_field() -> None:
    case = reached()
    bad = PlanSubmission(
        root_cause=" ", corrective_actions=[], preventive_measures=[""], issue_ids=["I7"]
    )
    refused = refusal(case.check_plan, bad, T0)
    assert refused.kind == RefusalKind.INVALID_PLAN
    assert [(r.field, r.reason) for r in refused.reasons] == [
        ("root_cause", "root_cause is empty"),
        ("corrective_actions", "corrective_actions needs at least one entry"),
        ("preventive_measures", "preventive_measures has an empty entry"),
        ("issue_ids", "unknown issue I7"),
    ]


def test_review_refusals() -> None:
    case = reached()
    assert refusal(case.check_review, Review(decision="accept"), T0).kind == RefusalKind.NO_PLAN
    case.submit_plan(PLAN, T0)
    empty = Review(decision="request_info", questions=[" "])
    refused = refusal(case.check_review, empty, T0)
    assert refused.kind == RefusalKind.INVALID_REVIEW
    assert [r.field for r in refused.reasons] == ["questions"]


def test_nothing_is_accepted_after_an_issue_deadline() -> None:
    case = reached()
    case.submit_plan(PLAN, T0)
    late = T0 + POLICY.deadline
    refused = refusal(case.check_review, Review(decision="accept"), late)
    assert refused.kind == RefusalKind.DEADLINE_PASSED
    assert refused.message == "the deadline of issue I1 has passed"


# ---- resolution --------------------------------------------------------------------------


def test_resolution_refusals_and_resolution() -> None:
    case = opened()
    note = Resolution(issue_id="I1", note="fixed together")
    assert refusal(case.check_resolution, note, T0).kind == RefusalKind.NOT_REACHED
    case = reached()
    unknown = Resolution(issue_id="I9", note="x")
    assert refusal(case.check_resolution, unknown, T0).kind == RefusalKind.UNKNOWN_ISSUE
    blank = Resolution(issue_id="I1", note="  ")
    refused = refusal(case.check_resolution, blank, T0)
    assert refused.kind == RefusalKind.INVALID_RESOLUTION
    assert [r.field for r in refused.reasons] == ["note"]
    late = T0 + POLICY.deadline
    assert refusal(case.check_resolution, note, late).kind == RefusalKind.DEADLINE_PASSED
    case.detect(event("E2"), T0)
    issue = case.resolve_issue(note, T0)
    assert (issue.status, issue.resolution) == (IssueStatus.RESOLVED, "fixed together")
    assert refusal(case.check_resolution, note, T0).kind == RefusalKind.ALREADY_RESOLVED


# ---- closing -----------------------------------------------------------------------------


def test_closing_refuses_actions_and_says_why() -> None:
    case = opened()
    case.closing = True
    refused = refusal(case.check_contact_me_now, T0)
    assert (refused.kind, refused.message) == (RefusalKind.CASE_CLOSED, "the case is closing")
    late = refusal(case.check_contact_me_now, T0 + POLICY.deadline)
    assert late.message == "the case is closing: its deadline has passed"
    older = opened(Edition.BACKGROUND)
    older.closing = True
    assert refusal(older.check_contact_me_now, T0).message == (
        "the case is closing: its deadline has passed"
    )


def test_closing_abandons_the_pending_calls_and_makes_reminders_stale() -> None:
    case = reached()
    case.detect(event("E2"), T0)
    reminders = case.tick(T0 + POLICY.deadline - max(POLICY.reminders_before_deadline))
    request = next(e.request for e in reminders if isinstance(e, SendEmail))
    assert case.stale_reason(EmailKind.REMINDER, request) is None
    case.contact_me_now("seller", T0)
    case.start_deactivation(ClosureReason.DEADLINE_PASSED, T0 + POLICY.deadline)
    case.deactivated(T0 + POLICY.deadline)
    assert TimelineKind.CALL_ABANDONED in kinds(case)
    assert case.view.next_call_at is None
    assert case.stale_reason(EmailKind.REMINDER, request) == "the case closed first"
    assert case.stale_reason(EmailKind.DEACTIVATED, request) is None


def test_a_reminder_is_stale_once_its_issue_is_resolved() -> None:
    case = reached()
    case.detect(event("E2"), T0)
    reminders = case.tick(T0 + POLICY.deadline - max(POLICY.reminders_before_deadline))
    first = next(e.request for e in reminders if isinstance(e, SendEmail))
    case.resolve_issue(Resolution(issue_id=first.issues[0].id, note="done"), T0)
    assert case.stale_reason(EmailKind.REMINDER, first) == "its issue was resolved first"


# ---- the refusals, all of them -----------------------------------------------------------


def _closed() -> Case:
    case = reached()
    case.resolve_issue(Resolution(issue_id="I1", note="fixed"), T0)
    case.close_resolved(T0)
    return case


def _under_review() -> Case:
    case = reached()
    case.submit_plan(PLAN, T0)
    return case


def _info_requested() -> Case:
    case = _under_review()
    case.review_plan(Review(decision="request_info", questions=["Which supplier?"]), T0)
    return case


def _invalid_number() -> Case:
    case = opened()
    placed_call(case)
    case.report_call_outcome(CallReport(attempt=1, outcome="invalid_number"), T0)
    return case


def _dialling() -> Case:
    case = opened()
    case.plan_calls(T0)
    return case


def _answered() -> Case:
    return reached()


ANSWERED = CallReport(attempt=1, outcome="answered")
NOTE = Resolution(issue_id="I1", note="fixed")
LATE = T0 + POLICY.deadline

# One way to provoke each refusal; a refusal kind missing here fails the test below.
PROVOKE: dict[RefusalKind, Callable[[], None]] = {
    RefusalKind.WRONG_SELLER: lambda: opened().check_detect(
        event("E9").model_copy(update={"seller_id": "S2"}), T0
    ),
    RefusalKind.DUPLICATE_EVENT: lambda: opened().check_detect(event(), T0),
    RefusalKind.CASE_CLOSED: lambda: _closed().check_contact_me_now(T0),
    RefusalKind.NO_WORKING_PHONE: lambda: _invalid_number().check_contact_me_now(T0),
    RefusalKind.UNKNOWN_ATTEMPT: lambda: opened().check_call_outcome(ANSWERED, T0),
    RefusalKind.NOT_PLACED: lambda: _dialling().check_call_outcome(ANSWERED, T0),
    RefusalKind.ALREADY_REPORTED: lambda: _answered().check_call_outcome(ANSWERED, T0),
    RefusalKind.PLAN_UNDER_REVIEW: lambda: _under_review().check_plan(PLAN, T0),
    RefusalKind.CALL_REQUIRED: lambda: _info_requested().check_plan(PLAN, T0),
    RefusalKind.INVALID_PLAN: lambda: reached().check_plan(
        PLAN.model_copy(update={"root_cause": ""}), T0
    ),
    RefusalKind.NO_PLAN: lambda: reached().check_review(Review(decision="accept"), T0),
    RefusalKind.INVALID_REVIEW: lambda: _under_review().check_review(
        Review(decision="request_info"), T0
    ),
    RefusalKind.UNKNOWN_ISSUE: lambda: reached().check_resolution(
        Resolution(issue_id="I9", note="x"), T0
    ),
    RefusalKind.ALREADY_RESOLVED: lambda: _closed_issue().check_resolution(NOTE, T0),
    RefusalKind.INVALID_RESOLUTION: lambda: reached().check_resolution(
        Resolution(issue_id="I1", note=""), T0
    ),
    RefusalKind.DEADLINE_PASSED: lambda: reached().check_resolution(NOTE, LATE),
    RefusalKind.NOT_REACHED: lambda: opened().check_resolution(NOTE, T0),
    RefusalKind.OWNED_BY_OTHER: lambda: _owned().check_claim(_owner("lee"), T0),
    RefusalKind.NOT_OWNED: lambda: opened().check_release(_owner("dana"), T0),
    RefusalKind.INVALID_OWNER: lambda: opened().check_assign(_owner(None), T0),
    RefusalKind.INVALID_EXTENSION: lambda: _extensible().check_extend(
        Extension(issue_id="I1", until=LATE + timedelta(hours=1), reason=""), T0
    ),
    RefusalKind.NOT_EXTENSIBLE: lambda: opened().check_extend(
        Extension(issue_id="I1", until=LATE + timedelta(hours=1), reason="r"), T0
    ),
    RefusalKind.NOT_DEACTIVATED: lambda: appeals.check_appealable(opened().view),
    RefusalKind.APPEAL_WINDOW_CLOSED: lambda: _raise(
        appeals.window_closed(T0, timedelta(days=17), T0 + timedelta(days=17))
    ),
    RefusalKind.APPEAL_UNDER_REVIEW: lambda: _appealed().check_appeal(PLAN, T0),
    RefusalKind.NO_APPEAL: lambda: _appeal().check_review(AppealReview(decision="accept")),
    RefusalKind.INVALID_APPEAL_REVIEW: lambda: _appealed().check_review(
        AppealReview(decision="reject", reason=" ")
    ),
    RefusalKind.ALREADY_REINSTATED: lambda: _reinstated().check_appeal(PLAN, T0),
    RefusalKind.INVALID_CALLBACK: lambda: opened(Edition.CALLBACKS).check_callback(
        CallbackRequest(at=T0 - timedelta(minutes=1)), T0
    ),
    RefusalKind.NO_CALLBACK: lambda: opened(Edition.CALLBACKS).check_cancel_callback(T0),
    RefusalKind.CALLBACKS_UNAVAILABLE: lambda: opened(Edition.DEADLINES).check_callback(
        CallbackRequest(at=T0 + timedelta(hours=1)), T0
    ),
}
# A repeated appeal is recognised by the appeal workflow, which answers with the first one
# (tests/test_appeal_workflow.py), not by a rule.
WORKFLOW_REFUSALS = {RefusalKind.DUPLICATE_APPEAL}


def _raise(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise refusal


def _appeal() -> AppealCase:
    start = AppealStart(
        case_id="c",
        case_run_id="run-1",
        seller_id="S1",
        marketplace="US",
        deactivated_at=T0,
        closure_reason="deadline_passed",
        window=timedelta(days=17),
        row=None,
    )
    return AppealCase(start, appeals.appeal_id_for("c", "run-1"))


def _appealed() -> AppealCase:
    case = _appeal()
    case.appeal(PLAN, T0)
    return case


def _reinstated() -> AppealCase:
    case = _appealed()
    case.review(AppealReview(decision="accept"), T0)
    return case


def _extensible() -> Case:
    case = new_case(edition=Edition.DEADLINES)
    case.detect(event(), T0)
    return case


def _owner(name: str | None) -> OwnershipChange:
    return OwnershipChange(specialist=name, by=f"specialist:{name}")


def _owned() -> Case:
    case = opened()
    case.claim(_owner("dana"), T0)
    return case


def _closed_issue() -> Case:
    case = reached()
    case.detect(event("E2"), T0)
    case.resolve_issue(NOTE, T0)
    return case


def test_every_refusal_kind_can_be_provoked() -> None:
    assert set(PROVOKE) == set(RefusalKind) - WORKFLOW_REFUSALS


@pytest.mark.parametrize("kind", list(PROVOKE), ids=[k.value for k in PROVOKE])
def test_each_refusal_comes_from_its_rule(kind: RefusalKind) -> None:
    with pytest.raises(Refusal) as caught:
        PROVOKE[kind]()
    assert caught.value.kind == kind
    assert caught.value.message
