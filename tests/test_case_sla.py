"""Internal SLA clocks and case ownership in the pure `Case`, and the working-time arithmetic
under them; without a server. Times are explicit UTC instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aha.domain.board import case_row, percentile, queue_item
from aha.domain.case import Case, Edition
from aha.domain.effects import AlertStaff, Effect
from aha.domain.models import (
    CallReport,
    CaseStart,
    DetectionEvent,
    OwnershipChange,
    PlanSubmission,
    Review,
    SellerProfile,
)
from aha.domain.policy import CallingHours, Policy, PolicyError, SpecialistHours, parse_policy
from aha.domain.refusals import Refusal
from aha.domain.sla import add_working_time, calling_windows, case_sla_state, specialist_windows
from aha.domain.vocabulary import (
    ClockState,
    RefusalKind,
    SlaState,
    SlaTarget,
    StaffAlertKind,
    TimelineKind,
)

# Tuesday 12 January 2027, 15:00 UTC: 10:00 in Toronto, inside 08:00-21:00 calling hours.
T0 = datetime(2027, 1, 12, 15, 0, tzinfo=UTC)
SLA_POLICY = parse_policy(
    """
[sla]
first_attempt_within = "15m"
reached_by_before_deadline = "24h"
plan_review_within = "8h"
warn_at = 0.5

[specialist_hours]
timezone = "Europe/Dublin"
"""
)
PLAN = PlanSubmission(
    root_cause="supplier mix-up",
    corrective_actions=["removed the listings"],
    preventive_measures=["authorised suppliers only"],
)


def opened(
    policy: Policy = SLA_POLICY, now: datetime = T0, edition: Edition = Edition.CONSOLE
) -> Case:
    case = Case(CaseStart(seller_id="S1", marketplace="CA", protected=True), "C", "R")
    case.edition = edition
    profile = SellerProfile(
        seller_id="S1",
        marketplace="CA",
        timezone="America/Toronto",
        has_phone=True,
        phone_version=1,
        account_status="active",
    )
    case.begin(policy, profile, now)
    event = DetectionEvent(
        event_id="E1", seller_id="S1", issue_type="ip_complaint", severity="high", detected_at=now
    )
    case.detect(event, now)
    return case


def clock(case: Case, target: SlaTarget):  # type: ignore[no-untyped-def]
    return next(c for c in reversed(case.view.sla) if c.target == target)


def alerts(effects: list[Effect]) -> list[tuple[StaffAlertKind, SlaTarget]]:
    return [(e.alert.kind, e.alert.target) for e in effects if isinstance(e, AlertStaff)]


# ---- working time ------------------------------------------------------------------------


def test_working_time_skips_the_weekend_in_the_specialists_zone() -> None:
    hours = SpecialistHours(timezone="Europe/Dublin")
    friday_3pm = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # Dublin is on UTC in December
    due = add_working_time(
        friday_3pm, timedelta(hours=8), hours.timezone, specialist_windows(hours)
    )
    # Two hours on Friday, six on Monday from 09:00.
    assert due == datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def test_working_time_started_out_of_hours_starts_at_the_next_window() -> None:
    hours = SpecialistHours(timezone="America/New_York")
    saturday = datetime(2027, 1, 16, 12, 0, tzinfo=UTC)
    due = add_working_time(saturday, timedelta(hours=1), hours.timezone, specialist_windows(hours))
    assert due == datetime(2027, 1, 18, 15, 0, tzinfo=UTC)  # Monday 10:00 New York


def test_working_time_keeps_local_hours_across_a_dst_change() -> None:
    hours = SpecialistHours(timezone="Europe/Dublin")
    # Friday 27 March 2026, 16:00 Dublin (UTC); clocks go forward on Sunday 29 March.
    friday = datetime(2026, 3, 27, 16, 0, tzinfo=UTC)
    due = add_working_time(friday, timedelta(hours=2), hours.timezone, specialist_windows(hours))
    assert due == datetime(2026, 3, 30, 9, 0, tzinfo=UTC)  # Monday 10:00 IST is 09:00 UTC


def test_working_time_in_several_windows_a_day() -> None:
    hours = SpecialistHours(timezone="UTC", mon=("09:00-12:00", "13:00-17:00"))
    monday_11 = datetime(2027, 1, 11, 11, 0, tzinfo=UTC)
    due = add_working_time(monday_11, timedelta(hours=2), "UTC", specialist_windows(hours))
    assert due == datetime(2027, 1, 11, 14, 0, tzinfo=UTC)  # one hour before lunch, one after


def test_callable_time_waits_for_the_sellers_morning() -> None:
    hours = CallingHours(start="08:00", end="21:00")
    toronto_10pm = datetime(2027, 1, 13, 3, 0, tzinfo=UTC)
    due = add_working_time(
        toronto_10pm, timedelta(minutes=15), "America/Toronto", calling_windows(hours)
    )
    assert due == datetime(2027, 1, 13, 13, 15, tzinfo=UTC)  # 08:15 Toronto


def test_sla_policy_keys_are_checked_and_named() -> None:
    with pytest.raises(PolicyError, match=r"sla\.warn_at"):
        parse_policy("[sla]\nwarn_at = 1.5")
    with pytest.raises(PolicyError, match="reached_by_before_deadline must be shorter"):
        parse_policy('[sla]\nreached_by_before_deadline = "72h"')
    with pytest.raises(PolicyError, match=r"specialist_hours\.mon: .9-5. is not a window"):
        parse_policy('[specialist_hours]\nmon = ["9-5"]')
    with pytest.raises(PolicyError, match=r"specialist_hours\.timezone"):
        parse_policy('[specialist_hours]\ntimezone = "Mars/Olympus"')
    with pytest.raises(PolicyError, match="at least one weekday"):
        parse_policy("[specialist_hours]\nmon = []\ntue = []\nwed = []\nthu = []\nfri = []")
    with pytest.raises(PolicyError, match=r"sla\.first_attempt_within"):
        parse_policy("[sla]\nfirst_attempt_within = 15")


# ---- clocks in a case --------------------------------------------------------------------


def test_a_case_opens_with_its_contact_clocks() -> None:
    case = opened()
    first = clock(case, SlaTarget.FIRST_ATTEMPT)
    assert (first.warn_at, first.due_at) == (
        T0 + timedelta(minutes=7, seconds=30),
        T0 + timedelta(minutes=15),
    )
    reach = clock(case, SlaTarget.REACHED)
    assert reach.due_at == T0 + timedelta(hours=48)  # 72 h deadline less 24 h
    assert reach.warn_at == T0 + timedelta(hours=24)
    assert case.view.sla_state == SlaState.OK


def test_met_first_attempt_is_recorded_and_never_warns() -> None:
    case = opened()
    (attempt,) = [e.attempt for e in case.plan_calls(T0) if hasattr(e, "attempt")]
    case.call_placed(attempt.number, T0 + timedelta(minutes=4))
    first = clock(case, SlaTarget.FIRST_ATTEMPT)
    assert first.state == ClockState.MET and first.met_at == T0 + timedelta(minutes=4)
    assert "met within target, after 4m" in case.view.timeline[-1].detail
    assert alerts(case.tick(T0 + timedelta(minutes=20))) == []
    assert case.view.sla_state == SlaState.OK


def test_warning_tells_the_owner_then_breach_tells_supervisors() -> None:
    case = opened()
    case.claim(
        OwnershipChange(specialist="dana", email="dana@team.example", by="specialist:dana"), T0
    )
    assert case.next_due() == (T0 + timedelta(minutes=7, seconds=30), "SLA warning or breach")
    warned = case.tick(T0 + timedelta(minutes=8))
    assert alerts(warned) == [(StaffAlertKind.SLA_WARNING, SlaTarget.FIRST_ATTEMPT)]
    (alert,) = [e.alert for e in warned if isinstance(e, AlertStaff)]
    assert alert.owner_email == "dana@team.example"
    assert case.view.sla_state == SlaState.WARNING
    assert alerts(case.tick(T0 + timedelta(minutes=9))) == []  # told once
    breached = case.tick(T0 + timedelta(minutes=15))
    assert alerts(breached) == [(StaffAlertKind.SLA_BREACHED, SlaTarget.FIRST_ATTEMPT)]
    assert case.view.sla_state == SlaState.BREACHED
    assert TimelineKind.SLA_BREACHED in [e.kind for e in case.view.timeline]


def test_a_warning_with_no_owner_is_shown_but_emails_nobody() -> None:
    case = opened()
    assert alerts(case.tick(T0 + timedelta(minutes=8))) == []
    assert case.view.timeline[-1].detail.endswith("no owner to tell")
    assert case.view.sla_state == SlaState.WARNING


def test_a_late_first_attempt_keeps_the_breach() -> None:
    case = opened()
    case.tick(T0 + timedelta(minutes=16))
    (attempt,) = [
        e.attempt for e in case.plan_calls(T0 + timedelta(minutes=16)) if hasattr(e, "attempt")
    ]
    case.call_placed(attempt.number, T0 + timedelta(minutes=17))
    assert clock(case, SlaTarget.FIRST_ATTEMPT).state == ClockState.BREACHED
    assert "met late" in case.view.timeline[-1].detail
    assert case.view.sla_state == SlaState.BREACHED


def test_reaching_the_seller_meets_the_reach_target() -> None:
    case = opened()
    (attempt,) = [e.attempt for e in case.plan_calls(T0) if hasattr(e, "attempt")]
    case.call_placed(attempt.number, T0)
    case.report_call_outcome(
        CallReport(attempt=attempt.number, outcome="answered"), T0 + timedelta(hours=1)
    )
    assert clock(case, SlaTarget.REACHED).state == ClockState.MET


def test_plan_review_is_timed_in_specialist_hours_over_a_weekend() -> None:
    friday_3pm = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    case = opened(now=friday_3pm)
    receipt, _ = case.contact_me_now("seller", friday_3pm)
    case.call_placed(receipt.attempt, friday_3pm)
    case.submit_plan(PLAN, friday_3pm)
    review = clock(case, SlaTarget.PLAN_REVIEW)
    assert review.due_at == datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    assert review.warn_at == datetime(2026, 12, 7, 11, 0, tzinfo=UTC)  # 4 working hours in
    assert alerts(case.tick(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))) == []  # Sunday: no count
    case.review_plan(
        Review(decision="request_info", questions=["Which supplier?"]),
        datetime(2026, 12, 7, 10, 0, tzinfo=UTC),
    )
    assert clock(case, SlaTarget.PLAN_REVIEW).state == ClockState.MET


def test_a_closing_case_raises_no_alert() -> None:
    case = opened()
    case.start_deactivation("deadline_passed", T0 + timedelta(hours=72))  # type: ignore[arg-type]
    assert alerts(case.tick(T0 + timedelta(hours=72))) == []


def test_older_editions_keep_no_clocks() -> None:
    case = opened(edition=Edition.ORDERED)
    assert case.view.sla == [] and case.view.sla_state is None
    assert case.next_due() is not None and "SLA" not in case.next_due()[1]  # type: ignore[index]


def test_no_targets_no_clocks() -> None:
    case = opened(policy=Policy())
    assert case.view.sla == [] and case.view.sla_state == SlaState.OK


def test_case_sla_state_is_the_worst_standing_clock() -> None:
    case = opened()
    assert case_sla_state(case.view.sla) == SlaState.OK
    case.view.sla[0].state = ClockState.WARNING
    assert case_sla_state(case.view.sla) == SlaState.WARNING
    case.view.sla[1].state = ClockState.BREACHED
    assert case_sla_state(case.view.sla) == SlaState.BREACHED


# ---- ownership ---------------------------------------------------------------------------


def change(name: str | None, by: str = "", supervisor: bool = False) -> OwnershipChange:
    return OwnershipChange(specialist=name, by=by or f"specialist:{name}", supervisor=supervisor)


def test_claim_release_and_assign_are_in_the_timeline_with_who() -> None:
    case = opened()
    assert case.claim(change("dana"), T0).changed
    assert case.claim(change("dana"), T0).changed is False  # again: nothing new recorded
    with pytest.raises(Refusal) as taken:
        case.check_claim(change("lee"), T0)
    assert taken.value.kind == RefusalKind.OWNED_BY_OTHER and "dana" in taken.value.message
    with pytest.raises(Refusal) as not_yours:
        case.check_release(change("lee"), T0)
    assert not_yours.value.kind == RefusalKind.OWNED_BY_OTHER
    case.assign(change("lee", by="supervisor:sam", supervisor=True), T0)
    assert case.view.assigned_to == "lee"
    case.check_release(change("sam", by="supervisor:sam", supervisor=True), T0)
    case.release(change("sam", by="supervisor:sam", supervisor=True), T0)
    assert case.view.assigned_to is None
    with pytest.raises(Refusal) as nobody:
        case.check_release(change("lee"), T0)
    assert nobody.value.kind == RefusalKind.NOT_OWNED
    entries = [(e.kind, e.detail, e.who) for e in case.view.timeline if "case_" in e.kind][1:]
    assert entries == [
        (TimelineKind.CASE_CLAIMED, "claimed by dana", "specialist:dana"),
        (TimelineKind.CASE_ASSIGNED, "assigned to lee (was dana)", "supervisor:sam"),
        (TimelineKind.CASE_RELEASED, "released (was lee)", "supervisor:sam"),
    ]


def test_ownership_of_a_closed_case_is_refused() -> None:
    case = opened()
    case.start_deactivation("deadline_passed", T0)  # type: ignore[arg-type]
    with pytest.raises(Refusal) as closed:
        case.check_claim(change("dana"), T0)
    assert closed.value.kind == RefusalKind.CASE_CLOSED


# ---- the board's row and the queue's reading of it -----------------------------------------


def test_the_row_carries_what_the_queue_shows() -> None:
    case = opened()
    case.claim(change("dana"), T0)
    (attempt,) = [e.attempt for e in case.plan_calls(T0) if hasattr(e, "attempt")]
    case.call_placed(attempt.number, T0 + timedelta(minutes=2))
    row = case_row(case.view, version=3)
    assert (row.version, row.assigned_to, row.attempts) == (3, "dana", 1)
    assert row.first_attempt_at == T0 + timedelta(minutes=2)
    assert row.sla_first_attempt == ClockState.MET and row.sla_reached == ClockState.RUNNING
    assert [c.attempt for c in row.pending_calls] == [1]
    item = queue_item(row, T0 + timedelta(hours=1))
    assert item.seconds_left == pytest.approx(71 * 3600)
    assert item.seller_local_time == "Tue 11:00" and item.callable_now


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0, 1.0, 3.0], 0.5) == 3.0
    assert percentile([float(n) for n in range(1, 11)], 0.9) == 9.0


def test_overlapping_specialist_windows_are_refused() -> None:
    with pytest.raises(PolicyError, match="mon: working windows overlap"):
        parse_policy('[specialist_hours]\nmon = ["09:00-17:00", "12:00-18:00"]')


def test_a_case_detected_too_late_for_the_reach_target_pages_nobody() -> None:
    case = Case(CaseStart(seller_id="S1", marketplace="CA", protected=True), "C", "R")
    case.edition = Edition.CONSOLE
    profile = SellerProfile(
        seller_id="S1",
        marketplace="CA",
        timezone="America/Toronto",
        has_phone=True,
        phone_version=1,
        account_status="active",
    )
    case.begin(SLA_POLICY, profile, T0)
    late = DetectionEvent(
        event_id="E1",
        seller_id="S1",
        issue_type="ip_complaint",
        severity="high",
        detected_at=T0 - timedelta(hours=60),  # 12 h left, the target wants 24 h
    )
    case.detect(late, T0)
    assert [c.target for c in case.view.sla] == [SlaTarget.FIRST_ATTEMPT]
    assert case.view.timeline[-1].kind == TimelineKind.SLA_NOT_TRACKED
    assert alerts(case.tick(T0 + timedelta(minutes=1))) == []
    assert case.view.sla_state == SlaState.OK


def test_a_plan_back_in_review_starts_a_new_review_clock() -> None:
    case = opened()
    (attempt,) = [e.attempt for e in case.plan_calls(T0) if hasattr(e, "attempt")]
    case.call_placed(attempt.number, T0)
    case.report_call_outcome(CallReport(attempt=attempt.number, outcome="answered"), T0)
    case.submit_plan(PLAN, T0)
    case.review_plan(Review(decision="request_info", questions=["Which supplier?"]), T0)
    (second,) = [e.attempt for e in case.plan_calls(T0) if hasattr(e, "attempt")]
    case.call_placed(second.number, T0 + timedelta(hours=1))
    later = T0 + timedelta(hours=2)
    case.report_call_outcome(CallReport(attempt=second.number, outcome="answered"), later)
    reviews = [c for c in case.view.sla if c.target == SlaTarget.PLAN_REVIEW]
    assert [c.state for c in reviews] == [ClockState.MET, ClockState.RUNNING]
    assert reviews[1].started_at == later
