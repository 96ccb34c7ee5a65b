"""Bad and repeated input changes nothing; the UI shows no personal data."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import temporalio.api.sdk.v1
from temporalio.client import WorkflowHandle

from aha import search_attributes as sa
from aha.domain.models import CallReport, PlanSubmission, Resolution, Review
from aha.service import CaseClosed, InvalidInput, NoOpenCase, Rejected, UnknownSeller
from tests.conftest import Cases, a_plan


async def test_duplicate_event_changes_nothing_even_after_the_case_closed(cases: Cases) -> None:
    seller = cases.new_seller()
    event = cases.event(seller)
    with cases.env.with_time_skipping_disabled():  # type: ignore[attr-defined]
        first = await cases.service.detect(event)
    await cases.wait_for_emails(seller, 1)
    handle = cases.client.get_workflow_handle(first.case_id)
    before = await settled_history_length(handle)

    again = await cases.service.detect(event)
    assert again.duplicate and again.created and again.issue_id == first.issue_id
    assert await settled_history_length(handle) == before, "a redelivery writes no history"
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
    before = await settled_history_length(handle)

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
    assert await settled_history_length(handle) == before, "rejections write no history"
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
    await cases.wait_for_call(seller, 1)
    handle = cases.client.get_workflow_handle(f"at-risk-case-{seller}")
    for _ in range(100):  # the upsert follows the call's activity in a later workflow task
        description = await handle.describe()
        attrs = description.typed_search_attributes
        if attrs.get(sa.CALL_ATTEMPTS) == 1:
            break
        await asyncio.sleep(0.1)
    assert attrs.get(sa.CASE_STATUS) == "awaiting_contact"
    assert attrs.get(sa.SELLER_ID) == seller and attrs.get(sa.MARKETPLACE) == "US"
    assert attrs.get(sa.ISSUE_TYPES) == ["ip_complaint"]
    assert attrs.get(sa.CALL_ATTEMPTS) == 1
    assert attrs.get(sa.DEACTIVATION_DEADLINE) == (await cases.view(seller)).deadline
    assert seller in (await description.static_summary() or "")
    metadata = await handle.query(
        "__temporal_workflow_metadata", result_type=temporalio.api.sdk.v1.WorkflowMetadata
    )
    details = metadata.current_details
    assert "`awaiting_contact`" in details and "ip_complaint" in details
    assert "#1 (proactive)" in details, "the UI shows the last attempts"
    history = (await handle.fetch_history()).to_json()
    assert "4155550199" not in history and "sellers.example" not in history


async def settled_history_length(handle: WorkflowHandle[Any, Any]) -> int:
    """History length once the case has gone back to sleep (its first call may be in flight)."""
    length = -1
    while True:
        current = len((await handle.fetch_history()).events)
        if current == length:
            return current
        length = current
        await asyncio.sleep(0.5)
