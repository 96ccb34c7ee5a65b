"""Pure rules of consent and the do-not-call list: numbers, reasons, what a dial may do, and
how a case records a call not placed (fast, no server)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aha.domain import case_text
from aha.domain.case import Case, Edition
from aha.domain.consent import (
    InvalidDoNotCall,
    NotPlaced,
    call_verdict,
    dnc_number,
    dnc_reason,
    overridden,
)
from aha.domain.models import CallReport, CaseStart
from aha.domain.vocabulary import RefusalKind
from tests.test_case_rules import POLICY, SELLER, T0, calls, event, opened, profile, refusal

SLA_POLICY = POLICY.model_copy(
    update={"sla": POLICY.sla.model_copy(update={"first_attempt_within": timedelta(minutes=16)})}
)


@pytest.mark.parametrize(
    "raw", ["+14155550123", "+1 415 555 0123", "+1-415-555-0123", " +14155550123 "]
)
def test_numbers_are_stored_in_e164(raw: str) -> None:
    assert dnc_number(raw) == "+14155550123"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("4155550123", "must be in E.164 form"),
        ("+1415", "not a valid number"),
        ("+1 abc", "not"),
        ("", "must be in E.164 form"),
    ],
)
def test_an_invalid_number_is_refused_naming_the_field(raw: str, says: str) -> None:
    with pytest.raises(InvalidDoNotCall) as caught:
        dnc_number(raw)
    assert caught.value.field == "number"
    assert says in str(caught.value) and str(caught.value).startswith("number ")


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_a_reason_is_required(raw: str | None) -> None:
    with pytest.raises(InvalidDoNotCall) as caught:
        dnc_reason(raw)
    assert caught.value.field == "reason" and "required" in str(caught.value)


def test_a_reason_is_bounded_and_trimmed() -> None:
    assert dnc_reason("  asked in writing ") == "asked in writing"
    with pytest.raises(InvalidDoNotCall):
        dnc_reason("x" * 501)


@pytest.mark.parametrize(
    ("consent", "listed", "seller", "verdict"),
    [
        (True, False, False, None),
        (False, False, False, NotPlaced.CONSENT_WITHDRAWN),
        (True, True, False, NotPlaced.DO_NOT_CALL),
        (False, True, False, NotPlaced.CONSENT_WITHDRAWN),
        (False, True, True, None),
        (True, True, True, None),
    ],
)
def test_what_a_dial_may_do(
    consent: bool, listed: bool, seller: bool, verdict: NotPlaced | None
) -> None:
    assert call_verdict(consent, listed, seller) == verdict


def test_a_seller_initiated_call_says_what_it_went_ahead_despite() -> None:
    assert overridden(True, False) is None
    assert overridden(True, True) == NotPlaced.DO_NOT_CALL


def test_a_call_not_placed_is_recorded_with_a_note_to_use_email() -> None:
    case = opened(Edition.CONSENT)
    (number,) = calls(case.plan_calls(T0))
    attempt = case.view.call_attempts[number - 1]
    case.call_not_placed(attempt, NotPlaced.CONSENT_WITHDRAWN, T0)
    assert attempt.not_placed == "consent withdrawn" and attempt.placed_at is None
    assert case.view.use_email_because == "consent withdrawn"
    assert case.view.timeline[-1].detail == (
        "attempt 1 not placed: consent withdrawn; use email to reach the seller"
    )
    assert not case.view.pending_calls()
    # Not placed again, reported or not: nothing more to record.
    case.call_not_placed(attempt, NotPlaced.DO_NOT_CALL, T0)
    assert attempt.not_placed == "consent withdrawn"
    report = CallReport(attempt=1, outcome="answered")
    caught = refusal(case.check_call_outcome, report, T0)
    assert caught.kind == RefusalKind.NOT_PLACED and "was not placed (consent withdrawn)" in str(
        caught
    )


def test_the_next_proactive_check_waits_the_no_answer_spacing_and_the_cap_is_untouched() -> None:
    policy = POLICY.model_copy(update={"max_call_attempts_per_day": 1})
    case = opened(Edition.CONSENT)
    case.policy = policy
    calls(case.plan_calls(T0))
    case.call_not_placed(case.view.call_attempts[0], NotPlaced.DO_NOT_CALL, T0)
    later = T0 + policy.call_retry_after.no_answer
    assert calls(case.plan_calls(later - timedelta(minutes=1))) == []
    assert case.view.next_call_at == later
    # A day's cap of one: the call that did not ring leaves today's call to be made.
    (second,) = calls(case.plan_calls(later))
    case.call_placed(second, later)
    assert case.view.use_email_because is None


def test_a_call_not_placed_meets_the_first_attempt_clock() -> None:
    case = Case(CaseStart(seller_id=SELLER, marketplace="CA", protected=True), "C", "R")
    case.edition = Edition.CONSENT
    case.begin(SLA_POLICY, profile(), T0)
    case.detect(event(), T0)
    calls(case.plan_calls(T0))
    at = T0 + timedelta(minutes=2)
    case.call_not_placed(case.view.call_attempts[0], NotPlaced.CONSENT_WITHDRAWN, at)
    clock = next(c for c in case.view.sla if c.target == "first_attempt")
    assert clock.met_at == at and clock.state == "met"


def test_a_re_granted_call_is_recorded_once() -> None:
    case = opened(Edition.CONSENT)
    receipt, _ = case.contact_me_now("seller", T0)
    attempt = case.view.call_attempts[receipt.attempt - 1]
    case.dial_completed(attempt, T0)
    case.consent_regranted(attempt, NotPlaced.DO_NOT_CALL, T0)
    case.consent_regranted(attempt, NotPlaced.DO_NOT_CALL, T0)
    assert attempt.consent_regranted == "number on do-not-call list"
    assert [e.kind for e in case.view.timeline].count("consent_regranted") == 1


def test_nothing_is_recorded_once_the_case_is_closing() -> None:
    case = opened(Edition.CONSENT)
    calls(case.plan_calls(T0))
    case.closing = True
    case.call_not_placed(case.view.call_attempts[0], NotPlaced.CONSENT_WITHDRAWN, T0)
    assert case.view.call_attempts[0].not_placed is None


def test_aha_status_and_the_temporal_ui_say_a_call_was_not_placed() -> None:
    case = opened(Edition.CONSENT)
    calls(case.plan_calls(T0))
    case.call_not_placed(case.view.call_attempts[0], NotPlaced.CONSENT_WITHDRAWN, T0)
    receipt, _ = case.contact_me_now("seller", T0)
    called = case.view.call_attempts[receipt.attempt - 1]
    case.dial_completed(called, T0)
    case.consent_regranted(called, NotPlaced.CONSENT_WITHDRAWN, T0)
    summary = case_text.case_summary(case.view)
    assert "  #1 proactive not placed: consent withdrawn" in summary
    assert "  #2 seller-initiated 2027-01-12 15:00 pending (despite consent withdrawn" in summary
    details = case_text.details_markdown(case.view)
    assert "- #1 (proactive) not placed: consent withdrawn" in details
    # The call the seller asked for keeps the note: the next proactive one would not ring.
    assert "use email: the last proactive call was not placed (consent withdrawn)" in summary
    assert "- **Use email:** the last proactive call was not placed" in (
        case_text.details_markdown(case.view)
    )


def test_the_note_to_use_email_stays_through_a_call_the_seller_asked_for() -> None:
    case = opened(Edition.CONSENT)
    (number,) = calls(case.plan_calls(T0))
    case.call_not_placed(case.view.call_attempts[number - 1], NotPlaced.CONSENT_WITHDRAWN, T0)
    receipt, _ = case.contact_me_now("seller", T0 + timedelta(minutes=5))
    case.call_placed(receipt.attempt, T0 + timedelta(minutes=5))
    assert case.view.call_attempts[receipt.attempt - 1].placed_at is not None
    # The next proactive call would still not ring: the specialist keeps the note.
    assert case.view.use_email_because == "consent withdrawn"
