"""Appeals after deactivation in real workflows under time skipping: the case run ends
deactivated, its linked AppealWorkflow takes the appeal, a specialist decides, and the seller
sees the outcome in the status, the emails, the directory, the board and the Temporal UI."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from aha import search_attributes as sa
from aha.demo import grant_appeal
from aha.domain.appeal_models import Appeal, AppealReview, AppealView
from aha.domain.appeals import appeal_id_for
from aha.domain.board import QueueFilter
from aha.domain.models import CaseView, PlanSubmission
from aha.domain.vocabulary import RefusalKind
from aha.service import Rejected
from tests.conftest import ALWAYS_CALLABLE, Cases, a_plan

APPEALS = 'appeal_window = "17d"\n' + ALWAYS_CALLABLE


@pytest.fixture
async def appeal_cases(cases_with: Callable[[str], Any]) -> Any:
    async with cases_with(APPEALS) as cases:
        yield cases


async def deactivated(cases: Cases, **seller: Any) -> tuple[str, CaseView]:
    """A seller whose case ran to its deactivation (by default: a protected seller without a
    phone, never reached, deactivated at the deadline)."""
    issue_type = seller.pop("issue_type", "ip_complaint")
    seller.setdefault("phone", None)
    seller_id = cases.new_seller(**seller)
    await cases.detect(seller_id, issue_type=issue_type)
    view = await cases.run_to_end(seller_id)
    assert view.status == "deactivated"
    assert cases.store.get(seller_id).account_status == "deactivated"
    return seller_id, view


async def appeal(cases: Cases, seller_id: str, submission: PlanSubmission | None = None) -> Appeal:
    # The appeal's clock runs in real time until a test fast-forwards it.
    with cases.env.with_time_skipping_disabled():  # type: ignore[attr-defined]
        return await cases.service.appeal(seller_id, submission or a_plan())


async def review(cases: Cases, seller_id: str, decision: str, reason: str = "") -> Appeal:
    return await cases.service.review_appeal(
        seller_id, AppealReview(decision=decision, reason=reason, reviewer="specialist:dana")
    )


def appeal_handle(cases: Cases, view: CaseView) -> Any:
    assert view.run_id is not None
    return cases.client.get_workflow_handle(
        appeal_id_for(view.case_id, view.run_id), result_type=AppealView
    )


async def until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never true: {check}")
        await asyncio.sleep(0.1)


def kinds(cases: Cases, seller_id: str) -> list[str]:
    return [str(m["X-Aha-Kind"]) for m in cases.emails(seller_id)]


async def test_an_accepted_appeal_reinstates_the_account_and_emails_the_seller(
    appeal_cases: Cases,
) -> None:
    cases = appeal_cases
    seller_id, closed = await deactivated(cases)
    first = await appeal(cases, seller_id)
    assert (first.number, first.state, first.submitted_by) == (1, "under_review", "seller")

    shown = await cases.view(seller_id)
    assert shown.status == "appeal_under_review" and shown.closed
    assert shown.appeal is not None and shown.appeal.case_run_id == closed.run_id
    assert shown.appeal.window_ends == closed.closed_at + timedelta(days=17)  # type: ignore[operator]

    # The queue shows the appeal as work, and so does the Temporal UI.
    assert cases.reads is not None
    reads = cases.reads

    async def queued() -> list[str]:
        page = await reads.queue(QueueFilter(), page_size=500)
        return [i.row.status for i in page.cases if i.row.seller_id == seller_id]

    assert await until(queued) == ["appeal_under_review"]
    handle = appeal_handle(cases, closed)

    async def ui_status() -> str | None:
        description = await handle.describe()
        status: str | None = description.typed_search_attributes.get(sa.CASE_STATUS)
        return status if status == "appeal_under_review" else None

    await until(ui_status)
    # aha list --status appeal_under_review lists the appeal workflows.
    listed = await until(lambda: cases.service.list_cases("appeal_under_review"))
    assert handle.id in [c.case_id for c in listed]
    description = await handle.describe()
    assert description.typed_search_attributes.get(sa.SELLER_ID) == seller_id
    assert closed.case_id in (await description.static_summary() or "")

    decided = await review(cases, seller_id, "accept")
    assert (decided.state, decided.decided_by) == ("accepted", "specialist:dana")
    result = await handle.result()
    assert result.status == "reinstated" and result.account_reactivated and result.finished
    assert cases.store.get(seller_id).account_status == "active"

    messages = await cases.wait_for_emails(seller_id, 3)
    assert kinds(cases, seller_id)[-1] == "appeal_accepted"
    assert "reactivated" in messages[-1]["Subject"]
    view = await cases.view(seller_id)
    assert view.status == "reinstated" and view.appeal is not None
    assert [a.state for a in view.appeal.appeals] == ["accepted"]
    assert await queued() == []
    assert (await handle.describe()).typed_search_attributes.get(sa.CASE_STATUS) == "reinstated"

    # Reinstated, the seller's next detection opens a new run of its case id.
    receipt = await cases.detect(seller_id)
    assert receipt.created
    again = await cases.view(seller_id)
    assert again.status == "awaiting_contact" and again.run_id != closed.run_id


async def test_a_rejected_appeal_emails_the_reason_and_the_seller_appeals_again(
    appeal_cases: Cases,
) -> None:
    cases = appeal_cases
    seller_id, closed = await deactivated(cases, issue_type="fraud")
    await appeal(cases, seller_id)
    with pytest.raises(Rejected) as second:
        await appeal(cases, seller_id, a_plan().model_copy(update={"root_cause": "Other"}))
    assert second.value.kind == RefusalKind.APPEAL_UNDER_REVIEW

    with pytest.raises(Rejected) as no_reason:
        await review(cases, seller_id, "reject", "  ")
    assert no_reason.value.kind == RefusalKind.INVALID_APPEAL_REVIEW
    rejected = await review(cases, seller_id, "reject", "No invoices were attached")
    assert rejected.state == "rejected" and rejected.reason == "No invoices were attached"

    messages = await cases.wait_for_emails(seller_id, 2)
    assert kinds(cases, seller_id)[-1] == "appeal_rejected"
    assert "No invoices were attached" in messages[-1].get_content()
    assert cases.store.get(seller_id).account_status == "deactivated"
    view = await cases.view(seller_id)
    assert view.status == "deactivated" and view.appeal is not None
    with pytest.raises(Rejected) as nothing:
        await review(cases, seller_id, "accept")
    assert nothing.value.kind == RefusalKind.NO_APPEAL

    better = a_plan().model_copy(update={"root_cause": "Invoices attached: the supplier lied"})
    second_appeal = await appeal(cases, seller_id, better)
    assert second_appeal.number == 2
    await review(cases, seller_id, "accept")
    result = await appeal_handle(cases, closed).result()
    assert [a.state for a in result.appeals] == ["rejected", "accepted"]
    assert cases.store.get(seller_id).account_status == "active"
    await cases.wait_for_emails(seller_id, 3)
    assert kinds(cases, seller_id)[-1] == "appeal_accepted"


async def test_a_repeated_appeal_is_answered_not_applied(appeal_cases: Cases) -> None:
    cases = appeal_cases
    seller_id, _ = await deactivated(cases, issue_type="fraud")
    first = await appeal(cases, seller_id)
    again = await appeal(cases, seller_id)
    assert again == first
    view = await cases.view(seller_id)
    assert view.appeal is not None and len(view.appeal.appeals) == 1


async def test_once_the_window_has_passed_an_appeal_is_refused(appeal_cases: Cases) -> None:
    cases = appeal_cases
    seller_id, closed = await deactivated(cases, issue_type="fraud")
    await appeal(cases, seller_id)
    await review(cases, seller_id, "reject", "Not convincing")
    handle = appeal_handle(cases, closed)
    await cases.env.fast_forward(handle)  # type: ignore[attr-defined]
    ended = await handle.result()
    assert ended.finished and ended.status == "deactivated"
    with pytest.raises(Rejected) as late:
        await appeal(cases, seller_id)
    assert late.value.kind == RefusalKind.APPEAL_WINDOW_CLOSED
    assert "appeal window" in str(late.value)
    assert cases.store.get(seller_id).account_status == "deactivated"


async def test_the_window_recorded_in_the_case_is_checked_before_any_appeal_starts(
    cases_with: Callable[[str], Any],
) -> None:
    async with cases_with('appeal_window = "1s"\n' + ALWAYS_CALLABLE) as cases:
        seller_id, _ = await deactivated(cases, issue_type="fraud")
        await asyncio.sleep(1.2)
        with pytest.raises(Rejected) as late:
            await appeal(cases, seller_id)
        assert late.value.kind == RefusalKind.APPEAL_WINDOW_CLOSED
        assert await cases.service.appeal_of(seller_id) is None


@pytest.mark.parametrize(
    ("enrolled", "issue_type", "reason"),
    [(False, "listing_policy_violation", "not_enrolled"), (True, "fraud", "immediate_policy")],
)
async def test_unprotected_and_immediate_deactivations_can_be_appealed(
    appeal_cases: Cases, enrolled: bool, issue_type: str, reason: str
) -> None:
    cases = appeal_cases
    seller_id, closed = await deactivated(cases, enrolled=enrolled, issue_type=issue_type)
    assert closed.closure_reason == reason
    await appeal(cases, seller_id)
    await review(cases, seller_id, "accept")
    result = await appeal_handle(cases, closed).result()
    assert result.status == "reinstated"
    assert cases.store.get(seller_id).account_status == "active"


async def test_an_open_case_or_no_case_cannot_be_appealed(appeal_cases: Cases) -> None:
    cases = appeal_cases
    seller_id = cases.new_seller()
    with pytest.raises(Rejected) as none:
        await appeal(cases, seller_id)
    assert none.value.kind == RefusalKind.NOT_DEACTIVATED
    await cases.detect(seller_id)
    with pytest.raises(Rejected) as still_open:
        await appeal(cases, seller_id)
    assert still_open.value.kind == RefusalKind.NOT_DEACTIVATED
    assert "still open" in str(still_open.value)


async def test_the_demo_reinstates_through_a_real_appeal(appeal_cases: Cases) -> None:
    cases = appeal_cases
    seller_id, closed = await deactivated(cases, issue_type="fraud")
    with cases.env.with_time_skipping_disabled():  # type: ignore[attr-defined]
        await grant_appeal(cases.service, cases.store, seller_id)
    assert cases.store.get(seller_id).account_status == "active"
    result = await appeal_handle(cases, closed).result()
    assert result.status == "reinstated" and result.appeals[0].decided_by == "specialist:demo"
