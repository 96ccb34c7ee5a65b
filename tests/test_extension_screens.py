"""An extension on the console's case screen (a supervisor's form, refused to specialists) and
on the seller's page (the new deadline and when it moved; the team's reason stays internal)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.conftest import ALWAYS_CALLABLE, running_api
from tests.test_console_http import open_case, sign_in, specialist, supervisor
from tests.test_page_http import signed_in

EXTENDING = 'max_extension = "72h"\n' + ALWAYS_CALLABLE


async def test_a_supervisor_extends_on_the_case_screen_and_the_seller_sees_it(
    cases_with: Callable[[str], Any], tmp_path: Path
) -> None:
    async with cases_with(EXTENDING) as cases, running_api(cases, tmp_path) as api:
        seller = await open_case(api, placed=False)
        original = (await cases.view(seller)).issues[0].deadline
        url = f"/console/cases/{seller}/issues/I1/extend"

        async with api.http() as http:
            csrf = await sign_in(http, specialist(api))
            screen = await http.get(f"/console/cases/{seller}")
            assert 'id="resolve-I1"' in screen.text and 'id="extend-I1"' not in screen.text
            refused = await http.post(
                url, data={"csrf": csrf, "until": "2099-01-01T00:00", "reason": "r"}
            )
            assert refused.status_code == 403
            assert "Only a supervisor can extend a deadline." in refused.text

        async with api.http() as http:
            csrf = await sign_in(http, supervisor(api))
            screen = await http.get(f"/console/cases/{seller}")
            assert 'id="extend-I1"' in screen.text
            too_far = (original + timedelta(hours=80)).strftime("%Y-%m-%dT%H:%M")
            refused = await http.post(
                url, data={"csrf": csrf, "until": too_far, "reason": "Seller <b>away</b>"}
            )
            assert refused.status_code == 422
            assert "the policy allows 72h in total" in refused.text
            assert "Seller &lt;b&gt;away&lt;/b&gt;</textarea>" in refused.text
            garbled = await http.post(url, data={"csrf": csrf, "until": "soon", "reason": "r"})
            assert garbled.status_code == 422 and "is not a date and time" in garbled.text
            assert (await cases.view(seller)).issues[0].extensions == []

            until = (original + timedelta(hours=24)).replace(second=0, microsecond=0)
            done = await http.post(
                url,
                data={
                    "csrf": csrf,
                    "until": until.strftime("%Y-%m-%dT%H:%M"),  # no offset: the form says UTC
                    "reason": "seller at a trade fair",
                },
            )
            assert done.status_code == 303
            view = await cases.view(seller)
            assert view.issues[0].deadline == until
            screen = await http.get(f"/console/cases/{seller}")
            assert 'id="extensions-I1"' in screen.text
            assert "seller at a trade fair" in screen.text
            assert "(originally " in screen.text

        seller_token = api._add_token(f"seller:{seller}", seller)
        async with api.http() as http:
            await signed_in(api, http, seller, seller_token)
            page = await http.get(f"/account-health/{seller}")
            assert 'id="extensions-I1"' in page.text
            assert "our team moved the deadline" in page.text
            assert until.isoformat() in page.text  # the countdown's deadline
            assert "trade fair" not in page.text


CONTACT = 'deadline_applies_to = "contact"\nresolution_window = "14d"\n' + ALWAYS_CALLABLE


async def test_in_the_contact_mode_the_page_says_the_deadline_is_lifted_once_reached(
    cases_with: Callable[[str], Any], tmp_path: Path
) -> None:
    async with cases_with(CONTACT) as cases, running_api(cases, tmp_path) as api:
        seller, token = api.seller()
        async with api.as_role("detector") as detector:
            assert (await detector.post("/v1/detections", json=api.detection(seller))).is_success
        async with api.http() as http:
            csrf = await signed_in(api, http, seller, token)
            page = await http.get(f"/account-health/{seller}")
            assert 'id="deadline-lifted"' not in page.text
            pressed = await http.post(
                f"/account-health/{seller}/contact-me-now", data={"csrf": csrf}
            )
            assert pressed.status_code == 303
            page = await http.get(f"/account-health/{seller}")
            assert 'id="deadline-lifted"' in page.text
            assert "will not be deactivated as long as you keep working with us" in page.text
            view = await cases.view(seller)
            assert view.deadline_lifted_at is not None
            assert view.deadline == view.deadline_lifted_at + timedelta(days=14)
            assert view.deadline.isoformat() in page.text
