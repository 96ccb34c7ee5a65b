"""The appeal on the seller's account-health page, at the HTTP level: a deactivated seller
within the window sees an appeal form with the plan's fields, its reasons come back beside
the fields, and then the page shows the appeal's state."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from aha.service import case_id_for
from tests.conftest import Api
from tests.test_page_http import csrf_of, signed_in

pytestmark = pytest.mark.usefixtures("api_cases_end_after")


@pytest.fixture(autouse=True)
async def appeals_end_after(api: Api) -> AsyncIterator[None]:
    yield
    query = "WorkflowType = 'AppealWorkflow' AND ExecutionStatus = 'Running'"
    async for execution in api.cases.client.list_workflows(query):
        with contextlib.suppress(Exception):
            await api.cases.client.get_workflow_handle(execution.id).terminate("test over")


async def test_a_deactivated_seller_appeals_on_the_page(api: Api) -> None:
    seller, token = api.seller(enrolled=False)
    async with api.as_role("detector") as detector:
        answer = await detector.post("/v1/detections", json=api.detection(seller))
        assert answer.status_code == 202
    await asyncio.wait_for(
        api.cases.client.get_workflow_handle(case_id_for(seller)).result(), timeout=15
    )
    async with api.http() as http:
        csrf = await signed_in(api, http, seller, token)
        page = await http.get(f"/account-health/{seller}")
        assert 'data-status="deactivated"' in page.text
        assert f'action="/account-health/{seller}/appeal"' in page.text
        assert "You can appeal this decision with a plan of action below" in page.text
        assert 'id="submit-plan"' not in page.text

        empty = await http.post(
            f"/account-health/{seller}/appeal",
            data={"csrf": csrf, "root_cause": "", "corrective_actions": ["Removed listings"]},
        )
        assert empty.status_code == 422
        assert "root_cause is empty" in empty.text
        assert "preventive_measures needs at least one entry" in empty.text
        assert 'value="Removed listings"' in empty.text  # what the seller typed stays
        assert (await api.cases.service.appeal_of(seller)) is None

        sent = await http.post(
            f"/account-health/{seller}/appeal",
            data={
                "csrf": csrf_of(empty),
                "root_cause": "A supplier shipped counterfeit goods",
                "corrective_actions": ["Removed listings", ""],
                "preventive_measures": ["Authorised distributors only"],
            },
        )
        assert sent.status_code == 303
        after = await http.get(sent.headers["location"])
        assert "Your appeal was submitted" in after.text
        assert 'data-status="appeal_under_review"' in after.text
        assert "your appeal is with a specialist" in after.text
        assert 'id="countdown"' not in after.text  # the case is closed: no time left to show
        assert 'data-appeal-state="under_review"' in after.text
        assert 'id="submit-appeal"' not in after.text  # one appeal under review at a time

        async with api.as_role("specialist") as specialist:
            decided = await specialist.post(
                f"/v1/sellers/{seller}/case/appeal/review",
                json={"decision": "reject", "reason": "No invoices attached"},
            )
            assert decided.status_code == 200, decided.text
        again = await http.get(f"/account-health/{seller}")
        assert 'data-appeal-state="rejected"' in again.text
        assert "No invoices attached" in again.text
        assert 'id="submit-appeal"' in again.text  # the window is still open

        live = (await http.get(f"/account-health/{seller}/live")).json()
        assert live["plan_mode"] == "appeal:deactivated:1:open"
        assert "No invoices attached" in live["plan_html"]

        resent = await http.post(
            f"/account-health/{seller}/appeal",
            data={
                "csrf": csrf_of(again),
                "root_cause": "A supplier shipped counterfeit goods; invoices attached",
                "corrective_actions": ["Removed listings"],
                "preventive_measures": ["Authorised distributors only"],
            },
        )
        assert resent.status_code == 303
        async with api.as_role("specialist") as specialist:
            accepted = await specialist.post(
                f"/v1/sellers/{seller}/case/appeal/review", json={"decision": "accept"}
            )
            assert accepted.status_code == 200, accepted.text
        reinstated = await http.get(f"/account-health/{seller}")
        assert 'data-status="reinstated"' in reinstated.text
        assert "Your appeal was accepted and your account is active again" in reinstated.text
        assert 'id="countdown"' not in reinstated.text
