"""Preferred call times on the seller's page in a real browser (Chromium through Playwright):
the form saves them to the directory and the open case, and a bad day is named on the page."""

from __future__ import annotations

from typing import Any

from playwright.async_api import BrowserContext, expect

from tests.conftest import Api
from tests.test_page_browser import (  # noqa: F401 - fixtures
    browser,
    context,
    open_case,
    sign_in,
)
from tests.test_page_http import signed_in


async def test_the_seller_saves_preferred_call_times_and_a_bad_day_is_named(
    api: Api,
    context: BrowserContext,  # noqa: F811 - the fixture
    api_cases_end_after: Any,
) -> None:
    seller_id, token = await open_case(api, timezone="Europe/Dublin")
    page = await context.new_page()
    await sign_in(page, api, seller_id, token)

    form = page.locator("#windows-form")
    await expect(form).to_be_visible()
    await expect(page.locator("#windows-title")).to_have_text("Preferred call times")
    await expect(page.get_by_text("in your local time (Europe/Dublin)")).to_be_visible()
    await page.get_by_label("Monday").fill("09:00-12:00")
    await page.get_by_label("Saturday").fill("10:00-11:00, 14:00-15:00")
    await form.get_by_role("button", name="Save preferred call times").click()
    await page.wait_for_load_state()
    await expect(page.get_by_text("Your preferred call times were saved.")).to_be_visible()
    await expect(page.get_by_label("Saturday")).to_have_value("10:00-11:00, 14:00-15:00")
    await expect(page.get_by_label("Sunday")).to_have_value("")

    contact = api.cases.store.get(seller_id)
    assert contact is not None and contact.preferred_windows is not None
    assert contact.preferred_windows.mon == ("09:00-12:00",)
    assert contact.preferred_windows.sat == ("10:00-11:00", "14:00-15:00")
    view = await api.cases.wait_for(seller_id, lambda v: v.preferred_windows is not None)
    entry = next(e for e in view.timeline if e.kind == "preferred_windows_updated")
    assert entry.who == "seller"

    await page.get_by_label("Tuesday").fill("12:00-09:00")
    async with page.expect_response(lambda r: r.url.endswith("/preferred-windows")) as answer:
        await form.get_by_role("button", name="Save preferred call times").click()
    assert (await answer.value).status == 422
    tuesday = page.get_by_label("Tuesday")
    await expect(tuesday).to_have_attribute("aria-invalid", "true")
    await expect(tuesday).to_have_value("12:00-09:00")  # what the seller typed stays
    await expect(page.locator("#window-tue-error")).to_contain_text("must start before it ends")
    await expect(page.get_by_label("Monday")).not_to_have_attribute("aria-invalid", "true")
    contact = api.cases.store.get(seller_id)
    assert contact is not None and contact.preferred_windows is not None
    assert contact.preferred_windows.tue == ()  # nothing changed


async def test_a_forged_form_is_refused_and_changes_nothing(api: Api) -> None:
    seller_id, token = api.seller()
    async with api.http() as http:
        csrf = await signed_in(api, http, seller_id, token)
        url = f"/account-health/{seller_id}/preferred-windows"
        forged = await http.post(url, data={"csrf": "0" * 64, "mon": "09:00-12:00"})
        assert forged.status_code == 403 and "The form expired" in forged.text
        contact = api.cases.store.get(seller_id)
        assert contact is not None and contact.preferred_windows is None
        saved = await http.post(url, data={"csrf": csrf, "mon": "09:00-12:00", "tue": ""})
        assert saved.status_code == 303
        assert saved.headers["location"].endswith("?notice=windows")
        contact = api.cases.store.get(seller_id)
        assert contact is not None and contact.preferred_windows is not None
        assert contact.preferred_windows.summary() == "mon 09:00-12:00"
    async with api.http() as http:  # signed out: the sign-in page, nothing stored
        refused = await http.post(url, data={"csrf": csrf, "mon": ""})
        assert refused.status_code == 401
        contact = api.cases.store.get(seller_id)
        assert contact is not None and contact.preferred_windows is not None
