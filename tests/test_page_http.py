"""The account-health page at the HTTP level: what no browser sends, but anyone can.

The browser tests (test_page_browser.py) cover what a seller does; these cover forged and
odd requests, which must get a page or a plain refusal, never a 500, JSON, or a change.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import Any

import httpx
import pytest

from aha.config import Settings
from api.app import create_app
from tests.conftest import Api

pytestmark = pytest.mark.usefixtures("api_cases_end_after")


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


async def signed_in(api: Api, http: httpx.AsyncClient, seller: str, token: str) -> str:
    """Sign in through the form; the page's CSRF token for the signed-in forms."""
    sign_in_form = await http.get(f"/account-health/{seller}")
    done = await http.post(
        f"/account-health/{seller}/sign-in", data={"token": token, "csrf": csrf_of(sign_in_form)}
    )
    assert done.status_code == 303
    page = await http.get(f"/account-health/{seller}")
    assert 'id="case-status"' in page.text
    return csrf_of(page)


async def open_case(api: Api, seller: str) -> None:
    async with api.as_role("detector") as detector:
        answer = await detector.post("/v1/detections", json=api.detection(seller))
        assert answer.status_code == 202


async def test_a_forged_csrf_with_any_characters_is_refused_and_changes_nothing(
    api: Api,
) -> None:
    seller, token = api.seller()
    await open_case(api, seller)
    async with api.http() as http:
        await signed_in(api, http, seller, token)
        for forged in ("é", "\u202e" * 64, "", "0" * 64):
            refused = await http.post(
                f"/account-health/{seller}/contact-me-now", data={"csrf": forged}
            )
            assert refused.status_code == 403, (forged, refused.text[:300])
            assert "The form expired" in refused.text
        out = await http.post(f"/account-health/{seller}/sign-in", data={"csrf": "é"})
        assert out.status_code == 403
    view = await api.cases.view(seller)
    assert view.call_attempts == [] or not any(a.seller_initiated for a in view.call_attempts)


@pytest.mark.parametrize(
    "path", ["x%3B%20Domain%3Devil.example", "x%0d%0aX-Injected:%20y", "x%3Fa", "." * 70]
)
async def test_a_seller_id_that_cannot_exist_is_a_plain_404_without_cookies(
    api: Api, path: str
) -> None:
    async with api.http() as http:
        for method, suffix in (("GET", ""), ("POST", "/sign-in"), ("GET", "/live")):
            answer = await http.request(method, f"/account-health/{path}{suffix}")
            assert answer.status_code == 404, (method, suffix, answer.text[:200])
            assert "set-cookie" not in answer.headers
            assert answer.headers["content-type"].startswith("text/html")


async def test_the_live_version_changes_only_when_the_case_does(api: Api) -> None:
    seller, token = api.seller()
    await open_case(api, seller)
    await api.cases.wait_for_call(seller, 1)
    async with api.http() as http:
        await signed_in(api, http, seller, token)

        async def live() -> dict[str, Any]:
            answer = await http.get(f"/account-health/{seller}/live")
            assert answer.status_code == 200
            body: dict[str, Any] = answer.json()
            return body

        first = await live()
        await asyncio.sleep(1.1)  # the countdown's text has moved on: the case has not
        second = await live()
        assert first["version"] == second["version"], "nothing changed: nothing to redraw"
        async with api.as_role("telephony") as telephony:
            reported = await telephony.post(
                f"/v1/sellers/{seller}/case/calls/1/outcome", json={"outcome": "answered"}
            )
            assert reported.status_code == 200
        changed = await live()
        assert changed["version"] != first["version"]
        assert changed["status"] == "engaged"


async def test_an_oversize_plan_comes_back_as_reasons_on_the_page(api: Api) -> None:
    seller, token = api.seller()
    await open_case(api, seller)
    async with api.http() as http:
        csrf = await signed_in(api, http, seller, token)
        refused = await http.post(
            f"/account-health/{seller}/plan",
            data={
                "csrf": csrf,
                "root_cause": "x" * 4001,
                "corrective_actions": ["Removed the listings"],
                "preventive_measures": ["y" * 2001],
            },
        )
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("text/html")
    assert re.search(
        r'id="root_cause-error">root_cause: String should have at most 4000', refused.text
    )
    assert (
        'id="preventive_measures-error">preventive_measures: String should have at most 2000'
        in (refused.text)
    )
    assert (await api.cases.view(seller)).plan is None


async def test_a_signed_out_session_cookie_no_longer_opens_the_page(api: Api) -> None:
    seller, token = api.seller()
    async with api.http() as http:
        csrf = await signed_in(api, http, seller, token)
        copied = dict(http.cookies.items())
        out = await http.post(f"/account-health/{seller}/sign-out", data={"csrf": csrf})
        assert out.status_code == 303
    async with api.http() as replay:
        for name, value in copied.items():
            replay.cookies.set(name, value, path=f"/account-health/{seller}")
        page = await replay.get(f"/account-health/{seller}")
        assert 'id="token"' in page.text and 'id="case-status"' not in page.text
        live = await replay.get(f"/account-health/{seller}/live")
        assert live.status_code == 401


async def test_sign_out_holds_in_every_api_process(api: Api) -> None:
    """Two API processes on one directory and one secret: sign out on one, and a copied
    cookie no longer opens the page on the other."""
    seller, token = api.seller()
    settings = replace(
        Settings(),
        temporal_address=api.cases.client.service_client.config.target_host,
        task_queue=api.cases.service.task_queue,
        db_path=str(api.cases.store.path),
        api_tokens_file=str(api.tokens_file),
        session_secret="shared-between-processes",
    )

    def process() -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=create_app(settings))
        return httpx.AsyncClient(transport=transport, base_url="http://aha.test")

    async with process() as first, process() as second:
        csrf = await signed_in(api, first, seller, token)
        for name, value in first.cookies.items():
            second.cookies.set(name, value, path=f"/account-health/{seller}")
        assert 'id="case-status"' in (await second.get(f"/account-health/{seller}")).text
        out = await first.post(f"/account-health/{seller}/sign-out", data={"csrf": csrf})
        assert out.status_code == 303
        page = await second.get(f"/account-health/{seller}")
        assert 'id="token"' in page.text and 'id="case-status"' not in page.text


async def test_a_sign_in_nonce_the_client_chose_is_replaced(api: Api) -> None:
    seller, _ = api.seller()
    async with api.http() as http:
        http.cookies.set("aha_form", "chosen-by-the-client", path=f"/account-health/{seller}")
        page = await http.get(f"/account-health/{seller}")
    assert "aha_form=" in page.headers.get("set-cookie", ""), "a fresh, signed nonce is issued"
    assert "chosen-by-the-client" not in page.headers.get("set-cookie", "")


async def test_an_oversize_email_is_refused_beside_the_field(api: Api) -> None:
    seller, token = api.seller()
    before = api.cases.store.get(seller)
    async with api.http() as http:
        csrf = await signed_in(api, http, seller, token)
        refused = await http.post(
            f"/account-health/{seller}/contact",
            data={"csrf": csrf, "email": "a" * 600 + "@example.com", "timezone": "UTC"},
        )
    assert refused.status_code == 422
    assert 'id="email-error">email is longer than 254 characters' in refused.text
    assert api.cases.store.get(seller) == before
