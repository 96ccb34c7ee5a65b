"""Audited deadline extensions and the "contact" reading of the deadline, on the pure `Case`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from aha.catalogue_file import shipped_catalogue
from aha.domain import case_text, deadlines
from aha.domain.case import Case, Edition
from aha.domain.effects import Deactivate, Effect, SendEmail
from aha.domain.emails import Recipient, render
from aha.domain.models import (
    CallReport,
    CaseStart,
    Extension,
    PlanSubmission,
    Resolution,
    Review,
)
from aha.domain.policy import Policy, PolicyError, parse_policy
from aha.domain.refusals import Refusal
from aha.domain.vocabulary import (
    CaseStatus,
    ClosureReason,
    EmailKind,
    RefusalKind,
    TimelineKind,
)
from tests.test_case_rules import SELLER, T0, event, profile

H = timedelta(hours=1)
EXTENDING = Policy(max_extension=72 * H)
CONTACT = Policy(
    deadline_applies_to="contact",
    resolution_window=timedelta(days=14),
    engagement_timeout=72 * H,
    max_extension=72 * H,
)


def new_case(policy: Policy = EXTENDING, edition: Edition = Edition.DEADLINES) -> Case:
    case = Case(CaseStart(seller_id=SELLER, marketplace="CA"), "C", "R")
    case.edition = edition
    case.begin(policy, profile(), T0)
    case.detect(event(), T0)
    return case


def extension(until: datetime, reason: str = "seller travelling, back Monday") -> Extension:
    return Extension(issue_id="I1", until=until, reason=reason, extended_by="supervisor:lee")


def emails(effects: list[Effect], kind: EmailKind) -> list[SendEmail]:
    return [e for e in effects if isinstance(e, SendEmail) and e.request.kind == kind]


def engage(case: Case, now: datetime) -> None:
    """The seller presses contact me now and answers the call."""
    receipt, _ = case.contact_me_now("seller", now)
    case.call_placed(receipt.attempt, now)
    case.report_call_outcome(CallReport(attempt=receipt.attempt, outcome="answered"), now)


def refusal(case: Case, ext: Extension, now: datetime = T0 + H) -> Refusal:
    with pytest.raises(Refusal) as caught:
        case.check_extend(ext, now)
    return caught.value


# ---- extension bounds ---------------------------------------------------------------------


def test_an_extension_moves_the_deadline_keeps_the_original_and_audits_it() -> None:
    case = new_case()
    original = T0 + 72 * H
    case.check_extend(extension(original + 24 * H), T0 + H)
    issue, effects = case.extend(extension(original + 24 * H), T0 + H)

    assert issue.deadline == original + 24 * H
    assert issue.original_deadline == original
    [entry] = issue.extensions
    assert (entry.at, entry.by, entry.from_deadline, entry.to_deadline, entry.reason) == (
        T0 + H,
        "supervisor:lee",
        original,
        original + 24 * H,
        "seller travelling, back Monday",
    )
    assert case.view.deadline == original + 24 * H
    assert case.view.timeline[-1].kind == TimelineKind.DEADLINE_EXTENDED
    assert case.view.timeline[-1].who == "supervisor:lee"
    [mail] = emails(effects, EmailKind.DEADLINE_EXTENDED)
    assert mail.request.issues[0].deadline == original + 24 * H
    summary = case_text.case_summary(case.view)
    assert "extended 2027-01-12 16:00 by supervisor:lee: 2027-01-15 15:00 -> 2027-01-16 15:00" in (
        summary
    )
    assert "- **Extensions:** 1" in case_text.details_markdown(case.view)
    recipient = Recipient(name="S", email="s@x", timezone="America/Toronto", page_url="http://p")
    subject, body = render(mail.request, recipient, shipped_catalogue())
    assert subject == "More time: your account health issue's deadline is now " + (
        "Saturday 16 January 2027, 10:00 EST"
    )
    assert "New deadline: Saturday 16 January 2027, 10:00 EST" in body
    assert "travelling" not in body  # the reason is the team's, for the audit trail


def test_the_total_past_the_original_is_bounded_and_the_refusal_says_what_is_left() -> None:
    case = new_case()
    original = T0 + 72 * H
    case.extend(extension(original + 48 * H), T0 + H)

    refused = refusal(case, extension(original + 73 * H))
    assert refused.kind == RefusalKind.INVALID_EXTENSION
    assert [r.field for r in refused.reasons] == ["until"]
    assert "72h in total, 24h left" in refused.message
    # Exactly the limit is allowed.
    case.check_extend(extension(original + 72 * H), T0 + H)


def test_until_must_be_later_timezone_aware_and_the_reason_given() -> None:
    case = new_case()
    original = T0 + 72 * H
    earlier = refusal(case, extension(original))
    assert earlier.reasons[0].field == "until"
    assert "after the current deadline" in earlier.message

    naive = refusal(case, extension((original + H).replace(tzinfo=None)))
    assert naive.reasons[0].field == "until" and "time zone" in naive.message

    far = datetime.max.replace(tzinfo=timezone(timedelta(hours=-5)))
    assert refusal(case, extension(far)).reasons[0].reason == "until is out of range"

    blank = refusal(case, extension(original + H, reason="   "))
    assert [r.field for r in blank.reasons] == ["reason"]


def test_an_offset_in_until_is_kept_as_the_same_instant_in_utc() -> None:
    case = new_case()
    until = datetime.fromisoformat("2027-01-16T10:00:00-05:00")
    issue, _ = case.extend(extension(until), T0 + H)
    assert issue.deadline == datetime(2027, 1, 16, 15, 0, tzinfo=UTC)
    assert issue.deadline.utcoffset() == timedelta(0)


def test_no_extension_without_a_policy_limit() -> None:
    case = new_case(Policy())
    refused = refusal(case, extension(T0 + 73 * H))
    assert refused.kind == RefusalKind.INVALID_EXTENSION
    assert "allows no deadline extension" in refused.message


def test_refused_on_unknown_resolved_past_deadline_closed_and_older_cases() -> None:
    case = new_case()
    unknown = Extension(issue_id="I9", until=T0 + 80 * H, reason="r")
    assert refusal(case, unknown).kind == RefusalKind.UNKNOWN_ISSUE

    late = refusal(case, extension(T0 + 80 * H), now=T0 + 72 * H)
    assert late.kind == RefusalKind.DEADLINE_PASSED

    case.contact_me_now("seller", T0 + H)
    case.resolve_issue(Resolution(issue_id="I1", note="fixed"), T0 + 2 * H)
    assert refusal(case, extension(T0 + 80 * H)).kind == RefusalKind.ALREADY_RESOLVED

    closing = new_case()
    closing.start_deactivation(ClosureReason.DEADLINE_PASSED, T0 + 72 * H)
    assert refusal(closing, extension(T0 + 80 * H)).kind == RefusalKind.CASE_CLOSED

    older = new_case(edition=Edition.CALENDARS)
    assert refusal(older, extension(T0 + 80 * H)).kind == RefusalKind.NOT_EXTENSIBLE


def test_a_refused_extension_changes_nothing() -> None:
    case = new_case()
    before = case.view.model_copy(deep=True)
    refusal(case, extension(T0 + 200 * H))
    assert case.view == before


# ---- reminders ----------------------------------------------------------------------------


def test_reminders_follow_the_new_deadline_and_sent_ones_are_not_repeated() -> None:
    case = new_case()
    original = T0 + 72 * H
    # The 24-hour reminder of the original deadline goes out.
    effects = case.tick(original - 24 * H)
    assert len(emails(effects, EmailKind.REMINDER)) == 1
    case.extend(extension(original + 48 * H), original - 23 * H)

    # Nothing at the old deadline's 4-hour mark, nor at the old deadline itself.
    assert emails(case.tick(original - 4 * H), EmailKind.REMINDER) == []
    assert not any(isinstance(e, Deactivate) for e in case.tick(original))
    # The new deadline's reminders, once each, under keys of their own.
    new = original + 48 * H
    first = emails(case.tick(new - 24 * H), EmailKind.REMINDER)
    second = emails(case.tick(new - 4 * H), EmailKind.REMINDER)
    assert len(first) == len(second) == 1
    assert first[0].request.key != second[0].request.key
    assert "/x1/" in first[0].request.key
    assert [e.reason for e in case.tick(new) if isinstance(e, Deactivate)] == [
        ClosureReason.DEADLINE_PASSED
    ]


def test_the_reached_sla_clock_keeps_the_deadline_it_started_with() -> None:
    targets = {"reached_by_before_deadline": "24h"}
    policy = parse_policy(
        'max_extension = "72h"\n[sla]\n' + "\n".join(f'{k} = "{v}"' for k, v in targets.items())
    )
    case = Case(CaseStart(seller_id=SELLER, marketplace="CA"), "C", "R")
    case.edition = Edition.DEADLINES
    case.begin(policy, profile(), T0)
    case.detect(event(), T0)
    [clock] = case.view.sla
    due = clock.due_at
    case.extend(extension(T0 + 100 * H), T0 + H)
    assert case.view.sla[0].due_at == due == T0 + 48 * H


def test_extension_keys_and_reminder_times_are_pure() -> None:
    assert deadlines.reminder_key("I1", 4 * H) == "reminder/I1/14400s"
    assert deadlines.reminder_key("I1", 4 * H, "x2") == "reminder/I1/x2/14400s"
    assert deadlines.extension_problem(T0, T0, T0 + H, timedelta(0)) is not None
    assert deadlines.extension_problem(T0, T0, T0 + H, H) is None


# ---- the "contact" mode -------------------------------------------------------------------


def test_resolution_mode_keeps_the_deadline_when_the_seller_is_reached() -> None:
    case = new_case()
    case.contact_me_now("seller", T0 + H)
    assert case.view.deadline == T0 + 72 * H
    assert case.view.deadline_lifted_at is None
    assert [e.reason for e in case.tick(T0 + 72 * H) if isinstance(e, Deactivate)] == [
        ClosureReason.DEADLINE_PASSED
    ]


def test_contact_mode_reaching_the_seller_lifts_the_deadline_for_the_window() -> None:
    case = new_case(CONTACT)
    reached = T0 + 5 * H
    _, effects = case.contact_me_now("seller", reached)

    window_end = reached + timedelta(days=14)
    assert case.view.deadline_lifted_at == reached
    assert case.view.deadline == window_end
    assert case.view.issues[0].deadline == window_end
    assert any(e.kind == TimelineKind.DEADLINE_LIFTED for e in case.view.timeline)
    assert [type(e).__name__ for e in effects] == ["SendEmail", "PlaceCall"]
    [lifted] = emails(effects, EmailKind.DEADLINE_LIFTED)
    assert lifted.request.deadline == window_end
    # No deactivation at the 72-hour mark, even with no plan yet, if the seller keeps in touch.
    case.call_placed(1, reached)
    case.report_call_outcome(CallReport(attempt=1, outcome="answered"), reached + H)
    assert not any(isinstance(e, Deactivate) for e in case.tick(T0 + 72 * H))
    # The reminders are the window's, not the original deadline's.
    assert all("/window/" in key for key in case._reminders if key not in case._reminders_sent)


def test_contact_mode_answered_call_lifts_and_a_later_issue_gets_the_window_from_opening() -> None:
    case = new_case(CONTACT)
    case.plan_calls(T0)
    case.call_placed(1, T0)
    case.report_call_outcome(CallReport(attempt=1, outcome="answered"), T0 + H)
    assert case.view.deadline_lifted_at == T0 + H

    later = T0 + 30 * H
    case.detect(event("E2", at=later - H), later)
    assert case.view.issues[1].deadline == later + timedelta(days=14)
    assert case.view.issues[1].original_deadline == later + timedelta(days=14)


def test_contact_mode_window_passing_unresolved_deactivates_with_its_own_reason() -> None:
    case = new_case(CONTACT)
    engage(case, T0 + H)
    for day in range(1, 15):
        # The seller keeps answering: it never disengages.
        assert not any(isinstance(e, Deactivate) for e in case.tick(T0 + day * 24 * H))
        engage(case, T0 + day * 24 * H)
    window_end = T0 + H + timedelta(days=14)
    assert not any(isinstance(e, Deactivate) for e in case.tick(window_end - H))
    [ending] = [e for e in case.tick(window_end) if isinstance(e, Deactivate)]
    assert ending.reason == ClosureReason.RESOLUTION_WINDOW_PASSED
    case.start_deactivation(ending.reason, window_end)
    [mail] = emails(case.deactivated(window_end), EmailKind.DEACTIVATED)
    assert mail.request.closure_reason == ClosureReason.RESOLUTION_WINDOW_PASSED
    assert case.view.closure_reason == ClosureReason.RESOLUTION_WINDOW_PASSED


def test_contact_mode_a_seller_who_stops_engaging_is_deactivated() -> None:
    case = new_case(CONTACT)
    case.contact_me_now("seller", T0 + H)
    assert case.view.engagement_due_at == T0 + 73 * H
    assert case.next_due() is not None
    assert not any(isinstance(e, Deactivate) for e in case.tick(T0 + 72 * H))
    [ending] = [e for e in case.tick(T0 + 73 * H) if isinstance(e, Deactivate)]
    assert ending.reason == ClosureReason.SELLER_DISENGAGED
    case.start_deactivation(ending.reason, T0 + 73 * H)
    [mail] = emails(case.deactivated(T0 + 73 * H), EmailKind.DEACTIVATED)
    recipient = Recipient(name="S", email="s@x", timezone="UTC", page_url="http://page")
    subject, body = render(mail.request, recipient, shipped_catalogue())
    assert "We stopped hearing from you" in body
    assert subject == "Your account has been deactivated"
    assert "no engagement from the seller" in body


def test_contact_mode_a_plan_under_review_pauses_the_engagement_clock() -> None:
    case = new_case(CONTACT)
    engage(case, T0 + H)
    plan = PlanSubmission(root_cause="r", corrective_actions=["a"], preventive_measures=["p"])
    case.submit_plan(plan, T0 + 2 * H)
    assert case.view.status == CaseStatus.PLAN_UNDER_REVIEW
    assert case.view.engagement_due_at is None
    assert not any(isinstance(e, Deactivate) for e in case.tick(T0 + 200 * H))
    # The review hands the turn back to the seller: the clock restarts from it.
    case.review_plan(Review(decision="request_info", questions=["Invoices?"]), T0 + 200 * H)
    assert case.view.engagement_due_at == T0 + 272 * H


def test_contact_mode_resolved_inside_the_window_closes_resolved() -> None:
    case = new_case(CONTACT)
    case.contact_me_now("seller", T0 + H)
    case.resolve_issue(Resolution(issue_id="I1", note="fixed"), T0 + 100 * H)
    assert [type(e).__name__ for e in case.tick(T0 + 100 * H)] == ["CloseResolved"]


def test_contact_mode_reached_after_the_deadline_lifts_nothing() -> None:
    case = new_case(CONTACT)
    case._lift_deadlines(T0 + 72 * H)
    assert case.view.deadline_lifted_at is None


def test_an_older_edition_ignores_the_contact_mode() -> None:
    case = new_case(CONTACT, edition=Edition.CALENDARS)
    case.contact_me_now("seller", T0 + H)
    assert case.view.deadline_lifted_at is None
    assert case.view.deadline == T0 + 72 * H


# ---- policy -------------------------------------------------------------------------------


def test_policy_keys_are_validated_with_the_key_named() -> None:
    with pytest.raises(PolicyError, match="deadline_applies_to: Input should be"):
        parse_policy('deadline_applies_to = "reply"')
    with pytest.raises(PolicyError, match="resolution_window is required"):
        parse_policy('deadline_applies_to = "contact"')
    with pytest.raises(PolicyError, match="max_extension"):
        parse_policy('max_extension = "-3h"')
    with pytest.raises(PolicyError, match="engagement_timeout must be longer than zero"):
        parse_policy('engagement_timeout = "0s"')
    policy = parse_policy('deadline_applies_to = "contact"\nresolution_window = "14d"')
    assert policy.resolution_window == timedelta(days=14)
    assert policy.engagement_timeout == 72 * H
    assert Policy().max_extension == timedelta(0)
    assert Policy().deadline_applies_to == "resolution"
