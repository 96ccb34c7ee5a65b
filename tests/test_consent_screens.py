"""Consent on the seller's page (a control that withdraws and gives it back) and a call not
placed on the page and on the console's case screen, with the note to use email."""

from __future__ import annotations

import pytest

from aha.adapters.sqlite.consent import SqliteCallConsents
from tests.conftest import Api
from tests.test_console_http import sign_in, specialist
from tests.test_page_http import open_case, signed_in

pytestmark = pytest.mark.usefixtures("api_cases_end_after")


async def test_the_seller_withdraws_consent_on_the_page_and_sees_the_call_not_placed(
    api: Api,
) -> None:
    seller, token = api.seller()
    consents = SqliteCallConsents(api.cases.db)
    url = f"/account-health/{seller}/call-consent"
    async with api.http() as http:
        csrf = await signed_in(api, http, seller, token)
        page = await http.get(f"/account-health/{seller}")
        assert 'id="consent-button" class="secondary">Do not call me' in page.text

        odd = await http.post(url, data={"csrf": csrf, "consent": "maybe"})
        assert odd.status_code == 422
        assert "consent: &#39;maybe&#39; must be withdraw or give" in odd.text
        forged = await http.post(url, data={"csrf": "0" * 64, "consent": "withdraw"})
        assert forged.status_code == 403
        assert consents.consent(seller).consent is True, "refused forms change nothing"

        done = await http.post(url, data={"csrf": csrf, "consent": "withdraw"})
        assert done.status_code == 303
        assert done.headers["location"] == f"/account-health/{seller}?notice=no-calls"
        assert consents.consent(seller).consent is False
        page = await http.get(done.headers["location"])
        assert "We will not call you; we keep writing to you by email." in page.text
        assert "You asked us not to call you: we only email you." in page.text
        assert "Allow calls again" in page.text

        await open_case(api, seller)
        await api.cases.wait_for(
            seller, lambda v: bool(v.call_attempts) and v.call_attempts[0].not_placed is not None
        )
        page = await http.get(f"/account-health/{seller}")
        assert "not placed: you asked us not to call" in page.text
        assert "We did not call you (you asked us not to): we keep writing to you by email." in (
            page.text
        )

        given = await http.post(url, data={"csrf": csrf, "consent": "give"})
        assert given.headers["location"] == f"/account-health/{seller}?notice=calls"
        assert consents.consent(seller).consent is True


async def test_the_console_tells_the_specialist_to_use_email(api: Api) -> None:
    seller, _ = api.seller(phone="+12125550199")
    SqliteCallConsents(api.cases.db).add("+12125550199", "registered complaint", "ops")
    await open_case(api, seller)
    await api.cases.wait_for(
        seller, lambda v: bool(v.call_attempts) and v.call_attempts[0].not_placed is not None
    )
    async with api.http() as http:
        await sign_in(http, specialist(api))
        screen = await http.get(f"/console/cases/{seller}")
    assert screen.status_code == 200
    assert (
        'id="use-email">The last proactive call was not placed: number on do-not-call list. '
        "Use email to reach the seller" in screen.text
    )
    assert "Not placed: number on do-not-call list" in screen.text
