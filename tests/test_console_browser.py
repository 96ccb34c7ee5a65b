"""The specialists' console in a real browser (Chromium through Playwright), over the real
HTTP service, Temporal, worker and case board.

A specialist works a case from the queue to its resolution; a supervisor reassigns a case and
sees the SLA breach a compressed policy raises. The queue and the case screen refresh
themselves: the tests wait for what a person would see appear, and check that a form being
filled in is never redrawn under them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from aha.service import case_id_for
from tests.conftest import ALWAYS_CALLABLE, Api, a_plan, running_api
from tests.test_page_browser import (  # noqa: F401 - fixtures
    POLL_WAIT_MS,
    browser,
    context,
    expect_no_sideways_scroll,
)

TABLET = {"width": 820, "height": 1180}
# Targets that breach within seconds of opening: the seller has no phone, so the first
# attempt never comes and the seller is never reached.
COMPRESSED_SLA = (
    ALWAYS_CALLABLE
    + """
[sla]
first_attempt_within = "2s"
reached_by_before_deadline = "71h59m58s"
"""
)


async def console_sign_in(page: Page, api: Api, token: str) -> None:
    await page.goto(f"{api.base_url}/console")
    await expect(page.locator("h1")).to_have_text("Sign in to the console")
    await page.get_by_label("Access token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#signed-in-as")).to_be_visible()
    assert token not in page.url


async def open_case(api: Api, **contact: Any) -> tuple[str, str]:
    seller_id, token = api.seller(**contact)
    async with api.as_role("detector") as client:
        response = await client.post("/v1/detections", json=api.detection(seller_id))
        assert response.status_code == 202, response.text
    return seller_id, token


def queue_row(page: Page, seller_id: str) -> Any:
    return page.locator(f'#queue-table tr[data-seller="{seller_id}"]')


async def report(page: Page, attempt: int, outcome: str) -> None:
    call = page.locator(f"#pending-call-{attempt}")
    await expect(call).to_be_visible(timeout=POLL_WAIT_MS)
    await call.get_by_role("button", name=outcome).click()
    await expect(page.locator("#notice")).to_have_text("The call's outcome is recorded.")


@pytest.mark.usefixtures("api_cases_end_after")
async def test_a_specialist_works_the_top_case_from_the_queue_to_its_resolution(
    api: Api,
    context: BrowserContext,  # noqa: F811 - the fixture
) -> None:
    seller_id, seller_token = await open_case(api)
    token = api.staff("specialist", "dana", "dana@team.example")
    page = await context.new_page()
    await console_sign_in(page, api, token)

    # The case writes its row to the board; the queue shows it without a reload.
    row = queue_row(page, seller_id)
    await expect(row).to_be_visible(timeout=POLL_WAIT_MS)
    await expect(row.locator(".owner-cell")).to_have_text("Unassigned")
    await page.locator("#queue-table tbody tr").first.locator("a.seller-link").click()
    await expect(page.locator("h1")).to_contain_text(seller_id)

    await page.get_by_role("button", name="Claim this case").click()
    await expect(page.locator("#notice")).to_have_text("You own this case now.")
    await expect(page.locator("#case-owner")).to_have_text("dana")
    await expect(page.get_by_role("button", name="Release this case")).to_be_visible()

    await report(page, 1, "No answer")
    await expect(page.locator('#attempts tr[data-attempt="1"]')).to_have_attribute(
        "data-outcome", "no_answer"
    )

    # The seller asks for a call: the screen shows it by itself, and it is answered.
    async with api.http(seller_token) as seller:
        asked = await seller.post(f"/v1/sellers/{seller_id}/case/contact-me-now")
        assert asked.status_code == 200, asked.text
    await report(page, 2, "Answered")
    await expect(page.locator("#case-status")).to_have_attribute("data-status", "engaged")

    async with api.http(seller_token) as seller:
        plan = a_plan().model_dump(
            include={"root_cause", "corrective_actions", "preventive_measures"}
        )
        submitted = await seller.post(f"/v1/sellers/{seller_id}/case/plan", json=plan)
        assert submitted.status_code == 200, submitted.text
    review = page.locator("#review-state")
    await expect(review).to_have_attribute(
        "data-review-state", "under_review", timeout=POLL_WAIT_MS
    )
    await page.get_by_label("Questions for the seller").fill(
        "Which supplier sent the goods?\nWhen did the stock audit finish?"
    )
    await page.get_by_role("button", name="Request information").click()
    await expect(page.locator("#notice")).to_contain_text("The questions are sent")
    await expect(page.locator("#case-status")).to_have_attribute("data-status", "call_required")
    await expect(page.locator("#plan-questions li")).to_have_text(
        ["Which supplier sent the goods?", "When did the stock audit finish?"]
    )

    # The request for information makes a call due at once; answered, the plan is back.
    await report(page, 3, "Answered")
    await expect(review).to_have_attribute("data-review-state", "under_review")

    # A note being typed survives a refresh that changes its part of the screen.
    view = await api.cases.view(seller_id)
    first_issue = view.issues[0].id
    note = page.locator(f"#note-{first_issue}")
    await note.fill("Listings removed; supplier replaced")
    async with api.as_role("detector") as detector:
        more = api.detection(seller_id, issue_type="ip_complaint", description="Another listing")
        added = await detector.post("/v1/detections", json=more)
        assert added.status_code == 202, added.text
    await expect(page.locator("#live-status")).to_contain_text(
        "wait until you finish", timeout=POLL_WAIT_MS
    )
    await expect(note).to_have_value("Listings removed; supplier replaced")
    await expect(page.locator("#case-issues li.issue")).to_have_count(1)

    await page.get_by_role("button", name=f"Resolve {first_issue}").click()
    await expect(page.locator("#notice")).to_have_text("The issue is resolved.")
    second = page.locator("#case-issues li.issue[data-status=open]")
    await expect(second).to_have_count(1)
    await second.get_by_label("Resolution note").fill("Second listing corrected on the call")
    await second.get_by_role("button", name="Resolve").click()
    await expect(page.locator("#case-status")).to_have_attribute("data-status", "resolved")

    await page.get_by_role("link", name="Queue", exact=True).click()
    await expect(queue_row(page, seller_id)).to_have_count(0, timeout=POLL_WAIT_MS)
    done = await api.cases.view(seller_id)
    assert done.status == "resolved"
    assert {i.resolved_by for i in done.issues} == {"specialist:dana"}
    who = {(e.kind, e.who) for e in done.timeline}
    assert ("case_claimed", "specialist:dana") in who
    assert ("info_requested", "specialist:dana") in who


@pytest.fixture
async def sla_api(cases_with: Callable[[str], Any], tmp_path: Path) -> AsyncIterator[Api]:
    async with cases_with(COMPRESSED_SLA) as cases, running_api(cases, tmp_path) as stack:
        try:
            yield stack
        finally:
            for seller_id in cases.store.seller_page("", 10_000):
                with contextlib.suppress(Exception):
                    handle = cases.client.get_workflow_handle(case_id_for(seller_id))
                    await handle.terminate("test over")


@pytest.fixture
async def tablet(browser: Any) -> AsyncIterator[BrowserContext]:  # noqa: F811 - the fixture
    ctx = await browser.new_context(viewport=TABLET, has_touch=True, locale="en-US")
    try:
        yield ctx
    finally:
        await ctx.close()


async def test_a_supervisor_reassigns_a_case_and_sees_its_sla_breach(
    sla_api: Api, tablet: BrowserContext
) -> None:
    api = sla_api
    seller_id, _ = await open_case(api, phone=None)
    api.staff("specialist", "sam", "sam@team.example")
    token = api.staff("supervisor", "lee", "lee@team.example")
    page = await tablet.new_page()
    await console_sign_in(page, api, token)

    row = queue_row(page, seller_id)
    await expect(row).to_be_visible(timeout=POLL_WAIT_MS)
    await expect(row.locator(".badge")).to_have_text("Breached", timeout=POLL_WAIT_MS)
    await expect_no_sideways_scroll(page)

    await page.get_by_label("SLA breached").check()
    await page.get_by_role("button", name="Apply filters").click()
    await expect(page.locator("#queue-table tbody tr")).to_have_count(1)
    await row.locator("a.seller-link").click()

    await expect(page.locator("#sla-state")).to_have_text("Breached")
    await page.get_by_label("Reassign to").select_option("sam")
    await page.get_by_role("button", name="Reassign").click()
    await expect(page.locator("#notice")).to_have_text("The case is reassigned.")
    await expect(page.locator("#case-owner")).to_have_text("sam")
    timeline = page.locator("#timeline")
    await expect(timeline.locator('tr[data-kind="case_assigned"]')).to_contain_text(
        "supervisor:lee"
    )
    await expect(timeline.locator('tr[data-kind="sla_breached"]').first).to_be_visible()
    await expect(page.locator('#sla-clocks tr[data-state="breached"]').first).to_be_visible()

    await page.get_by_role("link", name="Queue", exact=True).click()
    await page.get_by_label("Owner").select_option("sam")
    await page.get_by_role("button", name="Apply filters").click()
    await expect(queue_row(page, seller_id).locator(".owner-cell")).to_have_text("sam")
    view = await api.cases.view(seller_id)
    assert view.assigned_to == "sam" and view.sla_state == "breached"
