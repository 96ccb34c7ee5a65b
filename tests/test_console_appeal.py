"""Appeals in the specialists' console, at the HTTP level: the queue lists an appeal under
review as work, the case screen shows it with accept and reject controls, and a rejection
without a reason is refused on the screen."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from aha.service import case_id_for
from tests.conftest import Api
from tests.test_console_http import csrf_of, queue_sellers, row_html, sign_in, specialist

pytestmark = pytest.mark.usefixtures("api_cases_end_after")
PLAN = {
    "root_cause": "A supplier sent goods that did not match the listings",
    "corrective_actions": ["Removed the listings"],
    "preventive_measures": ["Buy only from authorised distributors"],
}


@pytest.fixture(autouse=True)
async def appeals_end_after(api: Api) -> AsyncIterator[None]:
    yield
    query = "WorkflowType = 'AppealWorkflow' AND ExecutionStatus = 'Running'"
    async for execution in api.cases.client.list_workflows(query):
        with contextlib.suppress(Exception):
            await api.cases.client.get_workflow_handle(execution.id).terminate("test over")


async def test_an_appeal_is_worked_from_the_console(api: Api) -> None:
    seller, token = api.seller(enrolled=False)
    async with api.as_role("detector") as detector:
        answer = await detector.post("/v1/detections", json=api.detection(seller))
        assert answer.status_code == 202
    await asyncio.wait_for(
        api.cases.client.get_workflow_handle(case_id_for(seller)).result(), timeout=15
    )
    async with api.http() as http:
        await sign_in(http, specialist(api))
        assert seller not in queue_sellers(await http.get("/console"))
        async with api.http(token) as own:
            sent = await own.post(f"/v1/sellers/{seller}/case/appeal", json=PLAN)
            assert sent.status_code == 200, sent.text
        for _ in range(100):
            queue = await http.get("/console")
            if seller in queue_sellers(queue):
                break
            await asyncio.sleep(0.1)
        assert seller in queue_sellers(queue)
        assert "appeal under review" in row_html(queue, seller).lower()

        screen = await http.get(f"/console/cases/{seller}")
        assert 'id="appeal-status" data-status="appeal_under_review"' in screen.text
        assert PLAN["root_cause"] in screen.text
        assert 'id="accept-appeal"' in screen.text and 'id="reject-appeal"' in screen.text

        no_reason = await http.post(
            f"/console/cases/{seller}/appeal/review",
            data={"csrf": csrf_of(screen), "decision": "reject", "reason": " "},
        )
        assert no_reason.status_code == 422
        assert "a rejection needs a reason" in no_reason.text
        accepted = await http.post(
            f"/console/cases/{seller}/appeal/review",
            data={"csrf": csrf_of(no_reason), "decision": "accept"},
        )
        assert accepted.status_code == 303
        after = await http.get(accepted.headers["location"])
        assert "The appeal is accepted" in after.text
        assert 'data-appeal-state="accepted"' in after.text
        assert 'id="accept-appeal"' not in after.text
        for _ in range(100):
            if seller not in queue_sellers(await http.get("/console")):
                break
            await asyncio.sleep(0.1)
        assert seller not in queue_sellers(await http.get("/console"))
        live = (await http.get(f"/console/cases/{seller}/live.json")).json()
        assert "case-appeal" in str(live)
