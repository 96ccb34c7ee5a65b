"""How a case ends well: the seller reached and the issues resolved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aha.catalogue_file import shipped_catalogue
from aha.domain.models import CallReport, Resolution, Review
from aha.service import Rejected
from tests.conftest import Cases, a_plan


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
    assert all(step in body for step in shipped_catalogue().guidance("ip_complaint")), (
        "step-by-step guidance"
    )

    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    view = await cases.view(seller)
    assert view.status == "engaged" and view.next_call_at is None

    await cases.service.resolve(seller, Resolution(issue_id="I1", note="listings fixed"))
    view = await cases.wait_for(seller, lambda v: v.status == "resolved")
    assert view.issues[0].resolution == "listings fixed"
    emails = await cases.wait_for_emails(seller, 2)
    assert emails[-1]["X-Aha-Kind"] == "resolved"
    assert len(view.call_attempts) == 1


async def test_contact_me_now_reaches_the_seller_and_pressing_twice_makes_one_call(
    cases: Cases,
) -> None:
    seller = cases.new_seller()
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)

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
    emails = await cases.wait_for_emails(seller, 2)
    assert emails[-1]["X-Aha-Kind"] == "resolved"


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
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    await cases.service.submit_plan(seller, a_plan())
    await cases.service.review_plan(
        seller, Review(decision="request_info", questions=["Which supplier?"])
    )
    view = await cases.wait_for_call(seller, 2)
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

    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    await cases.service.resolve(seller, Resolution(issue_id="I2", note="reviews removed"))
    view = await cases.view(seller)
    assert view.status == "engaged" and view.deadline == view.issues[0].deadline
    await cases.service.resolve(seller, Resolution(issue_id="I1", note="listings fixed"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")
