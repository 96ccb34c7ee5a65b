"""Every path a case can take, on a real server with time skipping, through the service."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from aha import search_attributes as sa
from aha.models import CallReport, PlanSubmission, Resolution, Review
from aha.service import CaseClosed, InvalidInput, NoOpenCase, Rejected, UnknownSeller
from tests.conftest import ALWAYS_CALLABLE, Cases


async def test_answered_call_then_direct_resolution(cases: Cases) -> None:
    seller = cases.new_seller()
    receipt = await cases.detect(seller)
    assert receipt.created and receipt.case_id == f"at-risk-case-{seller}"

    view = await cases.wait_for(
        seller, lambda v: bool(v.call_attempts and v.call_attempts[0].placed_at)
    )
    assert view.status == "awaiting_contact"
    assert view.call_attempts[0].guidance, "the specialist's call task carries the guidance"

    [opened] = await cases.wait_for_emails(seller, 1)
    body = opened.get_content()
    assert opened["X-Aha-Kind"] == "issue_opened"
    assert "Contact me now" in body and "plan of action" in body
    assert "EST" in body or "EDT" in body, "deadline shown in the seller's local time"

    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    view = await cases.view(seller)
    assert view.status == "engaged" and view.next_call_at is None

    await cases.service.resolve(seller, Resolution(issue_id="I1", note="listings fixed"))
    view = await cases.wait_for(seller, lambda v: v.status == "resolved")
    assert view.issues[0].resolution == "listings fixed"
    emails = await cases.wait_for_emails(seller, 2)
    assert emails[-1]["X-Aha-Kind"] == "resolved"
    assert len(view.call_attempts) == 1


async def test_never_reached_is_deactivated_at_the_deadline(cases: Cases) -> None:
    seller = cases.new_seller()
    await cases.detect(seller)
    view = await cases.run_to_end(seller)
    assert view.status == "deactivated"
    deadline = view.issues[0].deadline
    deactivated = next(e for e in view.timeline if e.kind == "account_deactivated")
    assert deadline <= deactivated.at < deadline + timedelta(seconds=5)
    assert cases.store.get(seller).account_status == "deactivated"
    kinds = [m["X-Aha-Kind"] for m in cases.emails(seller)]
    assert kinds[0] == "issue_opened" and kinds[-1] == "deactivated"
    assert kinds.count("reminder") == 2

    attempts = view.call_attempts
    assert attempts and all(a.outcome == "no_answer" for a in attempts)
    assert all(a.placed_at and a.placed_at < deadline for a in attempts)
    per_day = Counter(a.placed_at.astimezone(ZoneInfo("America/New_York")).date() for a in attempts)
    assert max(per_day.values()) <= 4, "at most max_call_attempts_per_day per local day"
    for earlier, later in itertools.pairwise(attempts):
        assert later.placed_at - earlier.outcome_at >= timedelta(hours=3), "no_answer spacing"


async def test_contact_me_now_reaches_the_seller_and_pressing_twice_makes_one_call(
    cases: Cases,
) -> None:
    seller = cases.new_seller()
    await cases.detect(seller)
    await cases.wait_for(seller, lambda v: len(v.call_attempts) == 1)

    first = await cases.service.contact_me_now(seller)
    second = await cases.service.contact_me_now(seller)
    assert first.created and not second.created and second.attempt == first.attempt

    view = await cases.wait_for(seller, lambda v: v.call_attempts[-1].placed_at is not None)
    assert view.status == "engaged" and view.reached
    assert [a.seller_initiated for a in view.call_attempts] == [False, True]
    assert view.next_call_at is None, "reaching the seller stops scheduled calls"

    await cases.service.report_call_outcome(
        seller, CallReport(attempt=first.attempt, outcome="answered", reported_by="specialist")
    )
    await cases.service.resolve(seller, Resolution(issue_id="I1", note="fixed on the call"))
    view = await cases.wait_for(seller, lambda v: v.status == "resolved")
    assert any(e.kind == "contact_me_now" and e.who == "seller" for e in view.timeline)


async def test_accepted_plan_resolves_without_a_call(cases: Cases) -> None:
    seller = cases.new_seller()
    await cases.detect(seller)
    plan = await cases.service.submit_plan(seller, a_plan())
    assert plan.issue_ids == ["I1"], "a plan covers every open issue by default"
    assert (await cases.view(seller)).status == "plan_under_review"

    await cases.service.review_plan(seller, Review(decision="accept", reviewer="specialist-ana"))
    view = await cases.wait_for(seller, lambda v: v.status == "resolved")
    assert view.issues[0].resolved_by == "specialist-ana"
    assert view.plan is not None and view.plan.review_state == "accepted"
    kinds = [m["X-Aha-Kind"] for m in await cases.wait_for_emails(seller, 2)]
    assert kinds == ["issue_opened", "resolved"]


async def test_plan_needing_more_information_waits_for_an_answered_call(cases: Cases) -> None:
    seller = cases.new_seller()
    await cases.detect(seller)
    await cases.wait_for(seller, lambda v: len(v.call_attempts) == 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    await cases.service.submit_plan(seller, a_plan())
    await cases.service.review_plan(
        seller, Review(decision="request_info", questions=["Which supplier?"])
    )
    view = await cases.wait_for(seller, lambda v: len(v.call_attempts) == 2)
    assert view.status == "call_required"
    assert view.plan is not None and view.plan.questions == ["Which supplier?"]

    with pytest.raises(Rejected, match="answered call"):
        await cases.service.resolve(seller, Resolution(issue_id="I1", note="too early"))
    with pytest.raises(Rejected, match="call must be answered"):
        await cases.service.review_plan(seller, Review(decision="accept"))
    with pytest.raises(Rejected, match="speak with you first"):
        await cases.service.submit_plan(seller, a_plan())

    await cases.service.report_call_outcome(seller, CallReport(attempt=2, outcome="answered"))
    assert (await cases.view(seller)).status == "plan_under_review"
    await cases.service.review_plan(seller, Review(decision="accept"))
    view = await cases.wait_for(seller, lambda v: v.status == "resolved")
    assert [e.kind for e in view.timeline if e.kind.startswith("plan")] == [
        "plan_submitted",
        "plan_back_in_review",
        "plan_accepted",
    ]


async def test_reached_but_unresolved_is_deactivated_and_calls_stop(
    cases_with: Any,
) -> None:
    async with cases_with(ONE_CALL_A_DAY) as cases:
        seller = cases.new_seller()
        await cases.detect(seller)
        await cases.wait_for(seller, lambda v: len(v.call_attempts) == 1)
        await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
        view = await cases.run_to_end(seller)
        assert view.status == "deactivated"
        assert len(view.call_attempts) == 1, "no proactive call after the seller was reached"
        assert cases.store.get(seller).account_status == "deactivated"


async def test_second_issue_joins_and_the_earliest_deadline_rules(cases: Cases) -> None:
    seller = cases.new_seller()
    first = await cases.detect(seller)
    earlier = datetime.now(UTC) - timedelta(hours=10)
    second = await cases.detect(seller, issue_type="review_policy_violation", detected_at=earlier)
    assert first.created and not second.created and second.issue_id == "I2"

    view = await cases.view(seller)
    assert [i.id for i in view.issues] == ["I1", "I2"]
    assert view.deadline == view.issues[1].deadline == earlier + timedelta(hours=72)
    kinds = [m["X-Aha-Kind"] for m in await cases.wait_for_emails(seller, 2)]
    assert kinds == ["issue_opened", "issue_opened"]

    await cases.wait_for(seller, lambda v: len(v.call_attempts) == 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    await cases.service.resolve(seller, Resolution(issue_id="I2", note="reviews removed"))
    view = await cases.view(seller)
    assert view.status == "engaged" and view.deadline == view.issues[0].deadline
    await cases.service.resolve(seller, Resolution(issue_id="I1", note="listings fixed"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")


async def test_duplicate_event_changes_nothing_even_after_the_case_closed(cases: Cases) -> None:
    seller = cases.new_seller()
    event = cases.event(seller)
    with cases.env.with_time_skipping_disabled():  # type: ignore[attr-defined]
        first = await cases.service.detect(event)
    await cases.wait_for_emails(seller, 1)
    handle = cases.client.get_workflow_handle(first.case_id)
    before = await handle.fetch_history()

    again = await cases.service.detect(event)
    assert again.duplicate and again.created and again.issue_id == first.issue_id
    after = await handle.fetch_history()
    assert len(after.events) == len(before.events), "a redelivery writes no history"
    view = await cases.view(seller)
    assert len(view.issues) == 1 and view.deadline == view.issues[0].deadline

    await cases.service.submit_plan(seller, a_plan())
    await cases.service.review_plan(seller, Review(decision="accept"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")
    closed_run = (await handle.describe()).run_id
    late = await cases.service.detect(event)
    assert late.duplicate and late.case_id == first.case_id
    assert (await handle.describe()).run_id == closed_run, "no second case was opened"
    assert [m["X-Aha-Kind"] for m in cases.emails(seller)].count("issue_opened") == 1

    fresh = await cases.detect(seller)
    assert fresh.created and not fresh.duplicate, "a new event after closure opens a new case"
    assert (await handle.describe()).run_id != closed_run


async def test_invalid_number_stops_calls_until_the_seller_fixes_it(cases: Cases) -> None:
    seller = cases.new_seller()
    await cases.detect(seller)
    await cases.wait_for(seller, lambda v: len(v.call_attempts) == 1)
    await cases.service.report_call_outcome(
        seller, CallReport(attempt=1, outcome="invalid_number", reported_by="telephony")
    )
    emails = await cases.wait_for_emails(seller, 2)
    assert emails[-1]["X-Aha-Kind"] == "invalid_number"

    await cases.advance(seller, timedelta(hours=8))
    view = await cases.view(seller)
    assert len(view.call_attempts) == 1 and view.next_call_at is None
    assert view.calling_stopped_reason and "invalid" in view.calling_stopped_reason

    cases.store.upsert(
        seller,
        email=f"{seller}@sellers.example",
        phone="+13125550100",
        timezone="America/New_York",
    )
    assert await cases.service.contact_changed(seller)
    view = await cases.wait_for(seller, lambda v: len(v.call_attempts) == 2)
    assert any(e.kind == "phone_updated" for e in view.timeline)
    assert view.calling_stopped_reason is None


async def test_unreported_call_counts_as_no_answer_and_retry_waits(cases: Cases) -> None:
    seller = cases.new_seller()
    await cases.detect(seller)
    await cases.wait_for(seller, lambda v: len(v.call_attempts) == 1)
    await cases.advance(seller, timedelta(minutes=31))
    view = await cases.view(seller)
    first = view.call_attempts[0]
    assert first.outcome == "no_answer" and first.reported_by.startswith("system")
    assert first.outcome_at is not None and first.placed_at is not None
    assert first.outcome_at - first.placed_at >= timedelta(minutes=30)
    assert view.next_call_at == first.outcome_at + timedelta(hours=3)


async def test_reminders_go_out_before_the_deadline_once_each(cases: Cases) -> None:
    seller = cases.new_seller()
    await cases.detect(seller)
    await cases.wait_for(seller, lambda v: len(v.call_attempts) == 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    await cases.advance(seller, timedelta(hours=49))
    emails = await cases.wait_for_emails(seller, 2)
    assert [m["X-Aha-Kind"] for m in emails] == ["issue_opened", "reminder"]
    assert "Deadline:" in emails[-1].get_content()
    await cases.advance(seller, timedelta(hours=20))
    emails = await cases.wait_for_emails(seller, 3)
    assert [m["X-Aha-Kind"] for m in emails] == ["issue_opened", "reminder", "reminder"]


async def test_calls_wait_for_local_hours_but_contact_me_now_does_not(
    cases_with: Any,
) -> None:
    async with cases_with(
        ALWAYS_CALLABLE.replace('"00:00"', '"08:00"').replace('"24:00"', '"21:00"')
    ) as cases:
        now = datetime.now(UTC)
        night_zone = next(z for z in NIGHT_ZONE_CANDIDATES if not _daytime(now, z))
        seller = cases.new_seller(timezone=night_zone)
        await cases.detect(seller)
        view = await cases.wait_for(seller, lambda v: v.next_call_at is not None)
        assert view.call_attempts == []
        local = view.next_call_at.astimezone(ZoneInfo(night_zone))
        assert (local.hour, local.minute) == (8, 0)

        receipt = await cases.service.contact_me_now(seller)
        view = await cases.wait_for(
            seller, lambda v: v.call_attempts and v.call_attempts[0].placed_at
        )
        assert receipt.attempt == 1 and view.call_attempts[0].seller_initiated


async def test_bad_input_is_refused_and_changes_nothing(cases: Cases) -> None:
    with pytest.raises(UnknownSeller):
        await cases.detect("nobody-knows-me")
    with pytest.raises(NoOpenCase):
        await cases.service.status("nobody-knows-me")

    seller = cases.new_seller()
    with pytest.raises(NoOpenCase):
        await cases.service.contact_me_now(seller)
    await cases.detect(seller)
    await cases.wait_for_emails(seller, 1)
    handle = cases.client.get_workflow_handle(f"at-risk-case-{seller}")
    before = len((await handle.fetch_history()).events)

    bad_plans = [
        (
            PlanSubmission(root_cause=" ", corrective_actions=["a"], preventive_measures=["b"]),
            "root_cause is empty",
        ),
        (
            PlanSubmission(root_cause="x", corrective_actions=[], preventive_measures=["b"]),
            "corrective_actions needs at least one entry",
        ),
        (
            PlanSubmission(root_cause="x", corrective_actions=["a"], preventive_measures=[""]),
            "preventive_measures has an empty entry",
        ),
        (
            PlanSubmission(
                root_cause="x",
                corrective_actions=["a"],
                preventive_measures=["b"],
                issue_ids=["I9"],
            ),
            "unknown issue I9",
        ),
    ]
    for plan, reason in bad_plans:
        with pytest.raises(Rejected, match=reason):
            await cases.service.submit_plan(seller, plan)
    with pytest.raises(Rejected, match="no plan to review"):
        await cases.service.review_plan(seller, Review(decision="accept"))
    with pytest.raises(Rejected, match="not been reached"):
        await cases.service.resolve(seller, Resolution(issue_id="I1", note="n"))
    with pytest.raises(Rejected, match="no call attempt 7"):
        await cases.service.report_call_outcome(seller, CallReport(attempt=7, outcome="busy"))
    with pytest.raises(InvalidInput, match="future"):
        await cases.detect(seller, detected_at=datetime.now(UTC) + timedelta(hours=2))
    assert len((await handle.fetch_history()).events) == before, "rejections write no history"
    assert (await cases.view(seller)).status == "awaiting_contact"

    await cases.service.submit_plan(seller, a_plan())
    await cases.service.review_plan(seller, Review(decision="accept"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")
    with pytest.raises(CaseClosed, match="closed"):
        await cases.service.contact_me_now(seller)
    with pytest.raises(CaseClosed):
        await cases.service.submit_plan(seller, a_plan())


async def test_search_attributes_and_summary_keep_personal_data_out(cases: Cases) -> None:
    seller = cases.new_seller(phone="+14155550199")
    await cases.detect(seller, marketplace="US")
    await cases.wait_for(seller, lambda v: len(v.call_attempts) == 1)
    handle = cases.client.get_workflow_handle(f"at-risk-case-{seller}")
    description = await handle.describe()
    attrs = description.typed_search_attributes
    assert attrs.get(sa.CASE_STATUS) == "awaiting_contact"
    assert attrs.get(sa.SELLER_ID) == seller and attrs.get(sa.MARKETPLACE) == "US"
    assert attrs.get(sa.ISSUE_TYPES) == ["ip_complaint"]
    assert attrs.get(sa.CALL_ATTEMPTS) == 1
    assert attrs.get(sa.DEACTIVATION_DEADLINE) == (await cases.view(seller)).deadline
    assert seller in (await description.static_summary() or "")
    history = (await handle.fetch_history()).to_json()
    assert "4155550199" not in history and "sellers.example" not in history


def a_plan() -> PlanSubmission:
    return PlanSubmission(
        root_cause="A supplier sent goods that did not match the listings",
        corrective_actions=["Removed the listings", "Audited stock"],
        preventive_measures=["Buy only from authorised distributors"],
    )


ONE_CALL_A_DAY = ALWAYS_CALLABLE.replace(
    "max_call_attempts_per_day = 4", "max_call_attempts_per_day = 1"
)
DAYTIME_ONLY = ALWAYS_CALLABLE.replace('"00:00"', '"08:00"').replace('"24:00"', '"21:00"')
NIGHT_ZONE_CANDIDATES = [f"Etc/GMT{offset:+d}" for offset in range(-12, 13)]


def _daytime(moment: datetime, zone: str) -> bool:
    return 7 <= moment.astimezone(ZoneInfo(zone)).hour < 21
