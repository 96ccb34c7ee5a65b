"""Consent on the seller's page in a real browser (Chromium through Playwright): the seller
withdraws consent, the next call is not placed and the page says so without a reload, and
contact me now still calls."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, expect

from aha.adapters.sqlite.consent import SqliteCallConsents
from tests.conftest import Api
from tests.test_page_browser import POLL_WAIT_MS, browser, context, sign_in

__all__ = ["browser", "context"]  # the fixtures, shared with the page's other browser tests

pytestmark = pytest.mark.usefixtures("api_cases_end_after")


async def test_withdrawn_consent_stops_the_call_and_contact_me_now_still_calls(
    api: Api, context: BrowserContext
) -> None:
    seller_id, token = api.seller()
    page = await context.new_page()
    await sign_in(page, api, seller_id, token)

    await page.get_by_role("button", name="Do not call me").click()
    await expect(page.locator("#notice")).to_contain_text("We will not call you")
    await expect(page.locator("#consent-state")).to_contain_text("You asked us not to call you")
    assert SqliteCallConsents(api.cases.db).consent(seller_id).consent is False

    async with api.as_role("detector") as client:
        response = await client.post("/v1/detections", json=api.detection(seller_id))
        assert response.status_code == 202
    # The page's poll brings the call not placed, and what happens instead.
    await expect(page.locator("#live table.calls")).to_contain_text(
        "not placed: you asked us not to call", timeout=POLL_WAIT_MS
    )
    await expect(page.locator("#next-step")).to_contain_text("we keep writing to you by email")

    await page.get_by_role("button", name="Contact me now").click()
    await expect(page.locator("#notice")).to_have_text("A specialist will call you now.")
    view = await api.cases.wait_for_call(seller_id, 2)
    assert view.call_attempts[1].seller_initiated and view.call_attempts[1].not_placed is None
    await expect(page.locator("#consent-state")).to_contain_text("You asked us not to call you")
