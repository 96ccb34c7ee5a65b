"""The seller's account-health page in a real browser (Chromium through Playwright).

Each test signs in through the page's own form over the real HTTP service, Temporal and worker
(the `api` fixture), and checks what the seller sees and what the system then holds.

The browser is Debian's Chromium (`make test` installs it; AHA_CHROMIUM names another one).
Without one, the whole module is skipped, loudly.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Response,
    ViewportSize,
    async_playwright,
    expect,
)

from aha.domain.models import CaseView
from tests.conftest import Api

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The page polls every 3 s: a change shows up within two polls and a request.
POLL_WAIT_MS = 10_000
PHONE: ViewportSize = {"width": 390, "height": 844}
SELLER_PHONE = "+12125550123"
Form = dict[str, str | float | bool]


def _skip_module(reason: str) -> NoReturn:
    message = f"BROWSER TESTS SKIPPED: {reason}"
    warnings.warn(message, stacklevel=2)
    pytest.skip(message, allow_module_level=True)


def _find_chromium() -> str:
    configured = os.environ.get("AHA_CHROMIUM")
    if configured:
        if not os.access(configured, os.X_OK):
            _skip_module(f"AHA_CHROMIUM={configured!r} is not an executable file")
        return configured
    found = shutil.which("chromium") or (
        DEFAULT_CHROMIUM if os.access(DEFAULT_CHROMIUM, os.X_OK) else None
    )
    if found is None:
        _skip_module(
            "no Chromium: `chromium` is not on PATH, /usr/bin/chromium is missing and "
            "AHA_CHROMIUM is unset (`make test` installs Debian's chromium package as root)"
        )
    return found


CHROMIUM = _find_chromium()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    playwright: Playwright = await async_playwright().start()
    try:
        try:
            launched = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS
            )
        except Exception as err:
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
            _skip_module(f"Chromium at {CHROMIUM} could not be launched: {first_line}")
        try:
            yield launched
        finally:
            await launched.close()
    finally:
        await playwright.stop()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    # The browser's own zone differs from every seller's: the page must use the seller's.
    ctx = await browser.new_context(timezone_id="America/Los_Angeles", locale="en-US")
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture
async def phone_context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(
        viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True, locale="en-US"
    )
    try:
        yield ctx
    finally:
        await ctx.close()


# ---- helpers ---------------------------------------------------------------------------------


async def open_case(api: Api, **contact: Any) -> tuple[str, str]:
    """A seller with a token and an open case whose first (proactive) call has been dialled."""
    seller_id, token = api.seller(**contact)
    async with api.as_role("detector") as client:
        response = await client.post("/v1/detections", json=api.detection(seller_id))
        assert response.status_code == 202, response.text
    await api.cases.wait_for_call(seller_id, 1)
    return seller_id, token


def page_url(api: Api, seller_id: str) -> str:
    return f"{api.base_url}/account-health/{seller_id}"


async def submit_sign_in(page: Page, api: Api, seller_id: str, token: str) -> Response:
    """Fill the sign-in form on `seller_id`'s page with `token` and submit it."""
    await page.goto(page_url(api, seller_id))
    await expect(page.locator("#token")).to_be_visible()
    await page.locator("#token").fill(token)
    async with page.expect_response(lambda r: r.url.endswith("/sign-in")) as answer:
        await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()
    return await answer.value


async def sign_in(page: Page, api: Api, seller_id: str, token: str) -> None:
    response = await submit_sign_in(page, api, seller_id, token)
    assert response.status == 303, await page.content()
    await expect(page.locator("#case-status")).to_be_visible()
    assert page.url == page_url(api, seller_id)


async def expect_sign_in_form(page: Page) -> None:
    """The sign-in form, and nothing of the case or the seller's account."""
    await expect(page.locator("h1")).to_have_text("Sign in to your account health page")
    await expect(page.locator("#token")).to_be_visible()
    for hidden in ("#case-status", "#live", "#plan-section", "#contact-form"):
        await expect(page.locator(hidden)).to_have_count(0)


async def expect_no_sideways_scroll(page: Page) -> None:
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {PHONE['width']}px"


def expected_local(moment: datetime, timezone: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%a %d %b %Y, %H:%M} {local.tzname()}"


def seconds_left(text: str) -> int:
    match = re.fullmatch(r"(?:(\d+) d )?(\d{2}) h (\d{2}) min (\d{2}) s", text.strip())
    assert match, f"countdown reads {text!r}"
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


async def csrf_of(page: Page) -> str:
    value = await page.locator("#contact-form input[name=csrf]").get_attribute("value")
    assert value
    return value


# ---- 1. sign in and see the case -------------------------------------------------------------


async def test_sign_in_shows_the_case_with_a_ticking_countdown_and_local_deadline(
    api: Api, context: BrowserContext
) -> None:
    zone = "Asia/Kathmandu"  # +05:45: no browser or server default lands on it by chance
    seller_id, token = await open_case(api, timezone=zone)
    view = await api.cases.view(seller_id)
    assert view.deadline is not None
    page = await context.new_page()

    await sign_in(page, api, seller_id, token)

    status = page.locator("#case-status")
    await expect(status).to_have_attribute("data-status", "awaiting_contact")
    await expect(status).to_have_text("We are trying to reach you")
    assert "token" not in page.url

    deadline_local = page.locator("#deadline-local")
    await expect(deadline_local).to_have_text(expected_local(view.deadline, zone))
    await expect(deadline_local).to_have_attribute("datetime", view.deadline.isoformat())

    countdown = page.locator("#countdown")
    await expect(countdown).to_have_attribute("data-deadline", view.deadline.isoformat())
    first = (await countdown.text_content()) or ""
    await expect(countdown).not_to_have_text(first, timeout=2_000)
    shown = seconds_left((await countdown.text_content()) or "")
    actual = (view.deadline - datetime.now(UTC)).total_seconds()
    assert abs(shown - actual) <= 3, (shown, actual)
    assert shown < seconds_left(first)


# ---- 2. wrong tokens -------------------------------------------------------------------------


async def test_a_wrong_or_foreign_token_does_not_open_the_page(
    api: Api, context: BrowserContext
) -> None:
    seller_id, _ = await open_case(api)
    other_id, other_token = await open_case(api)
    page = await context.new_page()

    for token in ("not-a-real-token", other_token):
        response = await submit_sign_in(page, api, seller_id, token)
        assert response.status == 401
        await expect(page.locator("#sign-in-error")).to_have_text(
            "That token does not open this page."
        )
        await expect(page.locator("#token")).to_have_attribute("aria-invalid", "true")
        await expect_sign_in_form(page)

    # Signed in on its own page, the other seller still cannot see this one.
    await sign_in(page, api, other_id, other_token)
    await page.goto(page_url(api, seller_id))
    await expect_sign_in_form(page)
    live = await context.request.get(f"{page_url(api, seller_id)}/live")
    assert live.status == 401

    # Even sent to this page on purpose, the other seller's session cookie opens nothing.
    session = next(c for c in await context.cookies() if c.get("name") == "aha_session")
    await context.add_cookies(
        [
            {
                "name": "aha_session",
                "value": session.get("value", ""),
                "domain": session.get("domain", ""),
                "path": f"/account-health/{seller_id}",
            }
        ]
    )
    await page.goto(page_url(api, seller_id))
    await expect_sign_in_form(page)
    live = await context.request.get(f"{page_url(api, seller_id)}/live")
    assert live.status == 401


# ---- 3. contact me now -----------------------------------------------------------------------


async def test_contact_me_now_engages_the_case_and_disables_the_button(
    api: Api, phone_context: BrowserContext
) -> None:
    seller_id, token = await open_case(api)
    page = await phone_context.new_page()
    await sign_in(page, api, seller_id, token)
    button = page.locator("#contact-me-now")
    await expect(button).to_be_enabled()

    await button.click()

    await expect(page.locator("#notice")).to_have_text("A specialist will call you now.")
    await expect(page.locator("#case-status")).to_have_attribute("data-status", "engaged")
    await expect(button).to_be_disabled()
    why = page.locator("#contact-me-now-why")
    await expect(why).to_be_visible()
    await expect(why).to_contain_text("a specialist is calling you (call 2)")
    await expect(button).to_have_attribute("aria-describedby", "contact-me-now-why")
    await expect(page.locator("#next-step")).to_contain_text("A specialist is calling you now")
    view = await api.cases.view(seller_id)
    assert [a.seller_initiated for a in view.call_attempts] == [False, True]
    await expect_no_sideways_scroll(page)


# ---- 4. the plan -----------------------------------------------------------------------------


async def test_plan_errors_show_beside_fields_then_a_full_plan_goes_under_review(
    api: Api, context: BrowserContext
) -> None:
    seller_id, token = await open_case(api)
    page = await context.new_page()
    await sign_in(page, api, seller_id, token)

    async with page.expect_response(lambda r: r.url.endswith("/plan")) as answer:
        await page.locator("#submit-plan").click()
    assert (await answer.value).status == 422
    for field, reason in (
        ("root_cause", "root_cause is empty"),
        ("corrective_actions", "corrective_actions needs at least one entry"),
        ("preventive_measures", "preventive_measures needs at least one entry"),
    ):
        error = page.locator(f"#{field}-error")
        await expect(error).to_have_text(reason)
        await expect(error).to_have_class(re.compile(r"\bfield-error\b"))
    await expect(page.locator("#root_cause")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#root_cause + #root_cause-error")).to_have_count(1)
    for name in ("corrective_actions", "preventive_measures"):
        fieldset = page.locator(f"fieldset[data-rows={name}]")
        await expect(fieldset).to_have_attribute("aria-invalid", "true")
        await expect(fieldset.locator(f"#{name}-error")).to_have_count(1)
    assert (await api.cases.view(seller_id)).plan is None

    await page.locator("#root_cause").fill("A supplier shipped goods that did not match")
    await page.locator("#corrective_actions-1").fill("Removed the listings")
    actions = page.locator("fieldset[data-rows=corrective_actions]")
    await actions.locator(".add-row").click()
    await expect(page.locator("#corrective_actions-2")).to_be_focused()
    await page.locator("#corrective_actions-2").fill("Audited the stock")

    measures = page.locator("fieldset[data-rows=preventive_measures]")
    await page.locator("#preventive_measures-1").fill("Row that the seller removes")
    await measures.locator(".add-row").click()
    await page.locator("#preventive_measures-2").fill("Buy only from authorised distributors")
    await measures.locator(".row").first.locator(".remove-row").click()
    await expect(measures.locator(".row")).to_have_count(1)
    await expect(page.locator("#preventive_measures-1")).to_have_value(
        "Buy only from authorised distributors"
    )
    await expect(page.locator("#preventive_measures-2")).to_have_count(0)

    await page.locator("#submit-plan").click()

    await expect(page.locator("#notice")).to_have_text(
        "Your plan was submitted. A specialist will review it."
    )
    await expect(page.locator("#case-status")).to_have_attribute("data-status", "plan_under_review")
    review = page.locator("#review-state")
    await expect(review).to_have_attribute("data-review-state", "under_review")
    await expect(review).to_contain_text("Under review: submitted")
    await expect(page.locator("#plan-form")).to_have_count(0)
    plan = (await api.cases.view(seller_id)).plan
    assert plan is not None
    assert plan.root_cause == "A supplier shipped goods that did not match"
    assert plan.corrective_actions == ["Removed the listings", "Audited the stock"]
    assert plan.preventive_measures == ["Buy only from authorised distributors"]


# ---- 5. the page refreshes itself ------------------------------------------------------------


async def test_live_part_refreshes_without_touching_the_plan_being_typed(
    api: Api, context: BrowserContext
) -> None:
    seller_id, token = await open_case(api)
    page = await context.new_page()
    await sign_in(page, api, seller_id, token)
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    await page.evaluate("window.__samePage = true")
    root_cause = await page.locator("#root_cause").element_handle()
    assert root_cause is not None
    await page.locator("#root_cause").fill("Typed, not submitted")
    await page.locator("#corrective_actions-1").fill("Half an action")
    await expect(page.locator("#live table.calls tbody tr")).to_have_count(1)
    await expect(page.locator("#live table.calls tbody")).to_contain_text("in progress")

    async with api.as_role("telephony") as telephony:
        reported = await telephony.post(
            f"/v1/sellers/{seller_id}/case/calls/1/outcome", json={"outcome": "answered"}
        )
        assert reported.status_code == 200, reported.text

    await expect(page.locator("#case-status")).to_have_attribute(
        "data-status", "engaged", timeout=POLL_WAIT_MS
    )
    await expect(page.locator("#live table.calls tbody")).to_contain_text("answered")
    await expect(page.locator("#root_cause")).to_have_value("Typed, not submitted")
    await expect(page.locator("#corrective_actions-1")).to_have_value("Half an action")
    await expect(page.locator("#corrective_actions-1")).to_be_focused()
    assert await root_cause.evaluate("node => node.isConnected")
    assert await root_cause.evaluate("node => node === document.getElementById('root_cause')")

    # The specialist closes the case: the plan section changes mode, but not under the seller.
    view: CaseView = await api.cases.view(seller_id)
    async with api.as_role("specialist") as specialist:
        resolved = await specialist.post(
            f"/v1/sellers/{seller_id}/case/issues/{view.issues[0].id}/resolve",
            json={"note": "Listings fixed on the call"},
        )
        assert resolved.status_code == 200, resolved.text
    await expect(page.locator("#case-status")).to_have_attribute(
        "data-status", "resolved", timeout=POLL_WAIT_MS
    )
    await expect(page.locator("#root_cause")).to_have_value("Typed, not submitted")
    assert await root_cause.evaluate("node => node.isConnected")
    assert await page.evaluate("window.__samePage === true")
    assert navigations == []


# ---- 6. CSRF ---------------------------------------------------------------------------------


async def test_forms_without_a_valid_csrf_token_are_refused_and_change_nothing(
    api: Api, context: BrowserContext
) -> None:
    seller_id, token = await open_case(api)
    page = await context.new_page()
    await sign_in(page, api, seller_id, token)
    base = page_url(api, seller_id)
    before = await api.cases.view(seller_id)
    plan: Form = {
        "root_cause": "Forged",
        "corrective_actions": "Forged action",
        "preventive_measures": "Forged measure",
    }
    contact: Form = {
        "email": f"{seller_id}@sellers.example",
        "emergency_phone": "+14155550123",
        "timezone": "America/New_York",
    }
    forged: list[tuple[str, Form]] = []
    for csrf in (None, "wrong", ""):
        extra: Form = {} if csrf is None else {"csrf": csrf}
        forged += [
            ("contact-me-now", extra),
            ("plan", plan | extra),
            ("contact", contact | extra),
            ("sign-out", extra),
        ]
    for action, form in forged:
        response = await context.request.post(f"{base}/{action}", form=form, max_redirects=0)
        assert response.status == 403, (action, form, response.status)
        assert "The form expired: please try again." in await response.text()

    # The same forgery from a script in the page itself.
    status = await page.evaluate(
        """async (url) => {
            const body = new URLSearchParams({csrf: "wrong"});
            const r = await fetch(url, {method: "POST", body, redirect: "manual"});
            return r.status;
        }""",
        f"{base}/contact-me-now",
    )
    assert status == 403

    after = await api.cases.view(seller_id)
    assert after.call_attempts == before.call_attempts
    assert after.plan is None
    assert after.status == "awaiting_contact"
    stored = api.cases.store.get(seller_id)
    assert stored is not None and stored.phone == SELLER_PHONE
    await page.reload()
    await expect(page.locator("#case-status")).to_have_attribute("data-status", "awaiting_contact")

    # The same request with the page's token goes through: the refusals were the token's doing.
    accepted = await context.request.post(
        f"{base}/contact", form=contact | {"csrf": await csrf_of(page)}, max_redirects=0
    )
    assert accepted.status == 303
    stored = api.cases.store.get(seller_id)
    assert stored is not None and stored.phone == "+14155550123"


# ---- 7. emergency contact --------------------------------------------------------------------


async def test_emergency_phone_is_checked_beside_the_field_and_saved_when_valid(
    api: Api, phone_context: BrowserContext
) -> None:
    seller_id, token = await open_case(api)
    page = await phone_context.new_page()
    await sign_in(page, api, seller_id, token)
    phone = page.locator("#emergency_phone")
    await expect(phone).to_have_value(SELLER_PHONE)
    save = page.locator("#contact-form").get_by_role("button", name="Save contact details")

    await phone.fill("555 0123")
    async with page.expect_response(lambda r: r.url.endswith("/contact")) as answer:
        await save.click()
    assert (await answer.value).status == 422
    error = page.locator("#emergency_phone-error")
    await expect(error).to_contain_text("must be in E.164 form")
    await expect(page.locator("#emergency_phone + #emergency_phone-error")).to_have_count(1)
    await expect(phone).to_have_attribute("aria-invalid", "true")
    await expect(phone).to_have_value("555 0123")
    stored = api.cases.store.get(seller_id)
    assert stored is not None and stored.phone == SELLER_PHONE

    await phone.fill("+1 415 555 0123")
    await save.click()
    await expect(page.locator("#notice")).to_have_text("Your contact details were saved.")
    await expect(page.locator("#emergency_phone-error")).to_have_count(0)
    await expect(phone).to_have_value("+14155550123")
    stored = api.cases.store.get(seller_id)
    assert stored is not None and stored.phone == "+14155550123"
    await expect_no_sideways_scroll(page)


async def test_the_api_docs_render_every_operation_offline(
    api: Api, context: BrowserContext
) -> None:
    """/docs is Swagger UI from a wheel: it must render this OpenAPI 3.1 schema, with no CDN."""
    async with api.http() as http:
        schema = (await http.get("/openapi.json")).json()
    operations = sum(len(methods) for methods in schema["paths"].values())
    page = await context.new_page()
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith(api.base_url) and not request.url.startswith("data:")
            else None
        ),
    )
    await page.goto(f"{api.base_url}/docs")
    await expect(page.locator(".opblock")).to_have_count(operations, timeout=15_000)
    assert await page.locator(".errors-wrapper").count() == 0
    assert outside == [], "the docs fetch nothing from outside this service"
