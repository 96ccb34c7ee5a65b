"""Seller-scheduled callbacks on the pure `Case`: their bounds, one pending at a time, the call
placed at its time (outside calling hours, after a call in progress), and older editions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from aha.domain import case_text
from aha.domain.case import Case, Edition
from aha.domain.effects import PlaceCall
from aha.domain.models import CallbackRequest, CallReport
from aha.domain.refusals import Refusal
from aha.domain.vocabulary import CaseStatus, ClosureReason, RefusalKind, TimelineKind
from tests.test_case_rules import EVENING, POLICY, T0, calls, kinds, opened, placed_call

H = timedelta(hours=1)


def with_callback(at: datetime, now: datetime = T0) -> Case:
    """A callback-edition case whose first proactive call went unanswered, with a callback."""
    case = opened(Edition.CALLBACKS, now=now)
    number = placed_call(case, now)
    case.report_call_outcome(CallReport(attempt=number, outcome="no_answer"), now)
    case.check_callback(CallbackRequest(at=at), now)
    case.schedule_callback(CallbackRequest(at=at, requested_by="seller:S1"), now)
    return case


def refused(case: Case, at: datetime, now: datetime = T0) -> Refusal:
    with pytest.raises(Refusal) as caught:
        case.check_callback(CallbackRequest(at=at), now)
    return caught.value


def test_a_callback_is_placed_at_its_time_as_a_seller_initiated_call() -> None:
    at = T0 + 5 * H
    case = with_callback(at)
    assert case.view.callback is not None and case.view.callback.at == at
    assert case.next_due() == (at, "the seller's scheduled callback")
    # Proactive calls wait for the seller's time; nothing is placed before it.
    assert calls(case.plan_calls(at - timedelta(seconds=1))) == []
    assert case.view.next_call_at is None

    effects = case.plan_calls(at)
    [place] = [e for e in effects if isinstance(e, PlaceCall)]
    attempt = place.attempt
    assert (attempt.number, attempt.seller_initiated, attempt.callback) == (2, True, True)
    assert attempt.scheduled_for == at
    assert case.view.callback is None
    assert kinds(case)[-1] == TimelineKind.CALLBACK_DUE
    case.call_placed(attempt.number, at)
    assert case.view.timeline[-1].detail == "attempt 2 placed (seller (scheduled callback))"


def test_an_answered_callback_reaches_the_seller() -> None:
    case = with_callback(T0 + 2 * H)
    [attempt] = calls(case.plan_calls(T0 + 2 * H))
    case.call_placed(attempt, T0 + 2 * H)
    case.report_call_outcome(CallReport(attempt=attempt, outcome="answered"), T0 + 3 * H)
    assert case.view.reached and case.view.status == CaseStatus.ENGAGED


def test_a_callback_is_not_bound_by_calling_hours() -> None:
    # 22:00 in Toronto: the policy's 08:00-21:00 keeps proactive calls out, not the callback.
    case = with_callback(EVENING)
    assert calls(case.plan_calls(EVENING)) == [2]


def test_a_callback_waits_for_a_call_in_progress_to_end() -> None:
    at = T0 + 2 * H
    case = opened(Edition.CALLBACKS)
    number = placed_call(case, T0)
    case.schedule_callback(CallbackRequest(at=at), T0)
    assert calls(case.plan_calls(at)) == []
    # No timer for a callback that waits on a call: the call's outcome wakes the case.
    report_due = T0 + POLICY.call_report_timeout
    assert case.next_due() == (report_due, "outcome of call attempt 1")
    case.report_call_outcome(CallReport(attempt=number, outcome="busy"), at + H)
    assert calls(case.plan_calls(at + H)) == [2]


def test_a_new_callback_replaces_the_pending_one_and_cancelling_drops_it() -> None:
    case = with_callback(T0 + 5 * H)
    case.schedule_callback(CallbackRequest(at=T0 + 9 * H, requested_by="seller:S1"), T0 + H)
    assert case.view.callback is not None and case.view.callback.at == T0 + 9 * H
    assert kinds(case)[-1] == TimelineKind.CALLBACK_REPLACED
    assert calls(case.plan_calls(T0 + 5 * H)) == []

    case.check_cancel_callback(T0 + 2 * H)
    cancelled = case.cancel_callback("seller:S1", T0 + 2 * H)
    assert cancelled.at == T0 + 9 * H and case.view.callback is None
    assert case.view.timeline[-1].who == "seller:S1"
    with pytest.raises(Refusal) as caught:
        case.check_cancel_callback(T0 + 3 * H)
    assert caught.value.kind == RefusalKind.NO_CALLBACK
    # Proactive calling resumes: the unanswered first call's retry falls due.
    assert calls(case.plan_calls(T0 + 9 * H)) == [2]


def test_an_offset_time_is_kept_as_the_same_instant_in_utc() -> None:
    toronto = timezone(timedelta(hours=-5))
    case = with_callback(datetime(2027, 1, 12, 14, 30, tzinfo=toronto))
    assert case.view.callback is not None
    assert case.view.callback.at == T0 + 4.5 * H
    assert case.view.callback.at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        (T0 - timedelta(minutes=1), "at is in the past (it is 2027-01-12 15:00 UTC now)"),
        (
            T0 + 72 * H + timedelta(minutes=1),
            "at is not before the case's deadline (2027-01-15 15:00 UTC)",
        ),
        (datetime(2027, 1, 12, 18, 0), "at needs a time zone, e.g. 2027-01-16T15:00:00Z"),
    ],
    ids=["past", "after the deadline", "no time zone"],
)
def test_a_callback_in_the_past_after_the_deadline_or_without_a_zone_is_refused(
    at: datetime, reason: str
) -> None:
    case = opened(Edition.CALLBACKS)
    refusal = refused(case, at)
    assert refusal.kind == RefusalKind.INVALID_CALLBACK
    assert [(r.field, r.reason) for r in refusal.reasons] == [("at", reason)]
    assert case.view.callback is None


def test_the_bounds_themselves_are_allowed() -> None:
    case = opened(Edition.CALLBACKS)
    case.check_callback(CallbackRequest(at=T0), T0)
    case.check_callback(CallbackRequest(at=T0 + 72 * H - timedelta(minutes=1)), T0)


def test_a_callback_at_the_deadline_itself_is_refused() -> None:
    # The deadline deactivates the case before a call at that minute could be dialled.
    refusal = refused(opened(Edition.CALLBACKS), T0 + 72 * H)
    assert refusal.kind == RefusalKind.INVALID_CALLBACK
    assert refusal.reasons[0].reason.startswith("at is not before the case's deadline")


def test_a_callback_close_to_the_deadline_holds_back_no_proactive_call() -> None:
    # Within preferred_windows_until (24 h) of the deadline, waiting for the seller's time
    # would leave too little to work the case: proactive calls go on meanwhile.
    late = T0 + 72 * H - POLICY.preferred_windows_until
    case = with_callback(late)
    assert calls(case.plan_calls(T0)) == []
    assert case.view.next_call_at is not None and case.view.next_call_at < late
    early = with_callback(late - timedelta(minutes=1))
    assert calls(early.plan_calls(T0)) == [] and early.view.next_call_at is None


def test_older_editions_closed_cases_and_cases_without_a_phone_refuse_callbacks() -> None:
    assert refused(opened(Edition.DEADLINES), T0 + H).kind == RefusalKind.CALLBACKS_UNAVAILABLE
    with pytest.raises(Refusal) as caught:
        opened(Edition.DEADLINES).check_cancel_callback(T0)
    assert caught.value.kind == RefusalKind.CALLBACKS_UNAVAILABLE
    assert refused(opened(Edition.CALLBACKS, phone=False), T0 + H).kind == (
        RefusalKind.NO_WORKING_PHONE
    )
    case = with_callback(T0 + 5 * H)
    case.start_deactivation(ClosureReason.DEADLINE_PASSED, T0 + 72 * H)
    case.deactivated(T0 + 72 * H)
    assert refused(case, T0 + 73 * H, T0 + 72 * H).kind == RefusalKind.CASE_CLOSED
    # Closing dropped the pending callback, on the record.
    assert case.view.callback is None
    assert TimelineKind.CALLBACK_CANCELLED in kinds(case)


def test_a_callback_whose_phone_went_invalid_is_recorded_and_not_placed() -> None:
    at = T0 + 5 * H
    case = opened(Edition.CALLBACKS)
    number = placed_call(case, T0)
    case.schedule_callback(CallbackRequest(at=at), T0)
    case.report_call_outcome(CallReport(attempt=number, outcome="invalid_number"), T0 + H)
    assert calls(case.plan_calls(at)) == []
    assert kinds(case)[-1] == TimelineKind.CALLBACK_NOT_PLACED
    assert case.view.callback is None


def test_aha_status_and_the_ui_details_show_the_callback_and_its_call() -> None:
    case = with_callback(EVENING)
    summary = case_text.case_summary(case.view)
    assert "callback: 2027-01-13 03:00 UTC (Tue 22:00 EST seller time) (asked by seller:S1)" in (
        summary.splitlines()
    )
    details = case_text.details_markdown(case.view).splitlines()
    assert "- **Seller's callback:** 2027-01-13 03:00 UTC (Tuesday 12 January 2027, 22:00 EST)" in (
        details
    )
    case.plan_calls(EVENING)
    assert (
        "  #2 seller-initiated (callback) dialling pending"
        in case_text.case_summary(case.view).splitlines()
    )
    assert "- #2 (seller callback) dialling: pending" in case_text.details_markdown(case.view)
    assert "callback:" not in case_text.case_summary(case.view)


def test_an_unanswered_callback_spaces_the_next_proactive_call_by_the_policy() -> None:
    at = T0 + 5 * H
    case = with_callback(at)
    [number] = calls(case.plan_calls(at))
    case.call_placed(number, at)
    case.report_call_outcome(CallReport(attempt=number, outcome="busy"), at + H)
    assert calls(case.plan_calls(at + H)) == []
    assert case.view.next_call_at == at + H + POLICY.call_retry_after.busy


def test_a_call_answered_at_the_callbacks_time_stands_for_it() -> None:
    at = T0 + 2 * H
    case = opened(Edition.CALLBACKS)
    number = placed_call(case, T0)
    case.schedule_callback(CallbackRequest(at=at), T0)
    case.report_call_outcome(CallReport(attempt=number, outcome="answered"), at + H)
    assert calls(case.plan_calls(at + H)) == []
    assert case.view.callback is None
    assert case.view.timeline[-1].kind == TimelineKind.CALLBACK_CANCELLED
    assert case.view.timeline[-1].detail.endswith("call attempt 1 was answered at its time")


def test_a_call_answered_before_the_callbacks_time_keeps_it() -> None:
    at = T0 + 2 * H
    case = opened(Edition.CALLBACKS)
    number = placed_call(case, T0)
    case.schedule_callback(CallbackRequest(at=at), T0)
    case.report_call_outcome(CallReport(attempt=number, outcome="answered"), T0 + H)
    assert calls(case.plan_calls(at)) == [2]
