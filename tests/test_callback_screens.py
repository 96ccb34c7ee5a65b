"""A callback on the seller's page in a real browser (Chromium through Playwright): chosen in the
seller's own time zone (not the browser's), refused with its reason beside the field, shown,
and cancelled; and the console's case screen showing it to the team."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import BrowserContext, expect

from tests.conftest import Api
from tests.test_console_http import sign_in as console_sign_in
from tests.test_console_http import specialist
from tests.test_page_browser import (  # noqa: F401 - fixtures
    browser,
    context,
    expected_local,
    open_case,
    sign_in,
)

ZONE = "Asia/Kathmandu"  # +05:45: neither the browser's zone nor UTC by chance


def field_value(moment: datetime) -> str:
    return f"{moment.astimezone(ZoneInfo(ZONE)):%Y-%m-%dT%H:%M}"


async def test_the_seller_chooses_a_callback_in_its_own_time_and_cancels_it(
    api: Api,
    context: BrowserContext,  # noqa: F811 - the fixture
) -> None:
    seller_id, token = await open_case(api, timezone=ZONE)
    page = await context.new_page()
    await sign_in(page, api, seller_id, token)
    await expect(page.locator("#callback-pending")).to_have_count(0)
    await expect(page.locator("label[for=callback-at]")).to_contain_text(ZONE)

    # In the past: refused beside the field, the typed time kept, nothing scheduled.
    past = field_value(datetime.now(UTC) - timedelta(hours=1))
    await page.locator("#callback-at").fill(past)
    async with page.expect_response(lambda r: r.url.endswith("/callback")) as answer:
        await page.locator("#schedule-callback").click()
    assert (await answer.value).status == 422
    await expect(page.locator("#callback-at-error")).to_contain_text("at is in the past")
    await expect(page.locator("#callback-at")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#callback-at")).to_have_value(past)
    assert (await api.cases.view(seller_id)).callback is None

    at = (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0)
    await page.locator("#callback-at").fill(field_value(at))
    await page.locator("#schedule-callback").click()
    await expect(page.locator("#notice")).to_have_text("We will call you at the time you chose.")
    view = await api.cases.view(seller_id)
    assert view.callback is not None and view.callback.at == at, "read in the seller's zone"
    await expect(page.locator("#callback-pending time")).to_have_text(expected_local(at, ZONE))
    await expect(page.locator("#callback-next time")).to_have_text(expected_local(at, ZONE))
    await expect(page.locator("#callback-at")).to_have_value(field_value(at))
    await expect(page.locator("#schedule-callback")).to_have_text("Change the time")

    await page.locator("#cancel-callback").click()
    await expect(page.locator("#notice")).to_have_text("Your callback was cancelled.")
    assert (await api.cases.view(seller_id)).callback is None
    await expect(page.locator("#callback-pending")).to_have_count(0)
    await expect(page.locator("#cancel-callback")).to_have_count(0)


async def test_the_case_screen_shows_the_sellers_callback(api: Api) -> None:
    seller_id, seller_token = await open_case(api, timezone=ZONE)
    at = (datetime.now(UTC) + timedelta(hours=5)).replace(second=0, microsecond=0)
    async with api.http(seller_token) as http:
        scheduled = await http.post(
            f"/v1/sellers/{seller_id}/case/callback", json={"at": at.isoformat()}
        )
        assert scheduled.status_code == 200, scheduled.text
    async with api.http() as http:
        await console_sign_in(http, specialist(api))
        screen = await http.get(f"/console/cases/{seller_id}")
    assert screen.status_code == 200
    local = at.astimezone(ZoneInfo(ZONE))
    assert 'id="callback"' in screen.text
    assert f"{local:%H:%M}" in screen.text.split('id="callback"')[1].split("</dd>")[0]


async def test_a_specialist_schedules_and_cancels_a_callback_on_the_case_screen(api: Api) -> None:
    seller_id, _ = await open_case(api, timezone=ZONE)
    url = f"/console/cases/{seller_id}"
    async with api.http() as http:
        csrf = await console_sign_in(http, specialist(api))
        assert 'id="cancel-callback"' not in (await http.get(url)).text
        past = field_value(datetime.now(UTC) - timedelta(hours=1))
        refused = await http.post(f"{url}/callback", data={"csrf": csrf, "at": past})
        assert refused.status_code == 422
        assert "at is in the past" in refused.text and f'value="{past}"' in refused.text
        garbled = await http.post(f"{url}/callback", data={"csrf": csrf, "at": "later"})
        assert garbled.status_code == 422 and "is not a date and time" in garbled.text
        assert (await api.cases.view(seller_id)).callback is None

        at = (datetime.now(UTC) + timedelta(hours=6)).replace(second=0, microsecond=0)
        done = await http.post(f"{url}/callback", data={"csrf": csrf, "at": field_value(at)})
        assert done.status_code == 303
        view = await api.cases.view(seller_id)
        assert view.callback is not None and view.callback.at == at, "read in the seller's zone"
        assert view.callback.requested_by == "specialist:dana"
        screen = await http.get(done.headers["location"])
        assert "The callback is scheduled" in screen.text and 'id="cancel-callback"' in screen.text

        cancelled = await http.post(f"{url}/callback/cancel", data={"csrf": csrf})
        assert cancelled.status_code == 303
        assert (await api.cases.view(seller_id)).callback is None
        again = await http.post(f"{url}/callback/cancel", data={"csrf": csrf})
        assert again.status_code == 409 and "no callback is scheduled" in again.text
