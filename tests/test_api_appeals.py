"""The appeal routes over real HTTP: the seller (or staff on its behalf) appeals a
deactivation, staff review it, and GET /case shows the appeal on the closed case."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from aha.service import case_id_for
from tests.conftest import Api

PLAN = {
    "root_cause": "A supplier sent goods that did not match the listings",
    "corrective_actions": ["Removed the listings"],
    "preventive_measures": ["Buy only from authorised distributors"],
}


@pytest.fixture(autouse=True)
async def appeals_end_after(api: Api) -> AsyncIterator[None]:
    """Leave no appeal of the test running once its worker is gone."""
    yield
    query = "WorkflowType = 'AppealWorkflow' AND ExecutionStatus = 'Running'"
    async for execution in api.cases.client.list_workflows(query):
        with contextlib.suppress(Exception):
            await api.cases.client.get_workflow_handle(execution.id).terminate("test over")


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def error(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert body["error"] == kind, body
    return body


async def deactivated_seller(api: Api) -> tuple[str, str]:
    """An unprotected seller: its first detection deactivates the account at once."""
    seller_id, token = api.seller(enrolled=False)
    async with api.as_role("detector") as http:
        ok(await http.post("/v1/detections", json=api.detection(seller_id)), 202)
    handle = api.cases.client.get_workflow_handle(case_id_for(seller_id))
    await asyncio.wait_for(handle.result(), timeout=15)
    return seller_id, token


async def case_of(api: Api, seller_id: str) -> dict[str, Any]:
    async with api.as_role("specialist") as http:
        view: dict[str, Any] = ok(await http.get(f"/v1/sellers/{seller_id}/case"))
    return view


async def test_appeal_rejected_then_accepted_over_http(api: Api) -> None:
    seller_id, token = await deactivated_seller(api)
    appeal = f"/v1/sellers/{seller_id}/case/appeal"
    review = f"{appeal}/review"
    async with api.http(token) as seller, api.as_role("specialist") as specialist:
        empty = {"root_cause": " ", "corrective_actions": [], "preventive_measures": ["x"]}
        body = error(await seller.post(appeal, json=empty), 422, "invalid_plan")
        assert {f["field"] for f in body["fields"]} == {"root_cause", "corrective_actions"}
        assert (await case_of(api, seller_id))["appeal"] is None

        first = ok(await seller.post(appeal, json=PLAN))
        assert (first["number"], first["state"]) == (1, "under_review")
        assert first["submitted_by"] == "seller"
        # A retried delivery of the same appeal gets the same answer; another is refused.
        assert ok(await seller.post(appeal, json=PLAN)) == first
        other = {**PLAN, "root_cause": "Something else"}
        error(await seller.post(appeal, json=other), 409, "appeal_under_review")
        shown = await case_of(api, seller_id)
        assert shown["status"] == "appeal_under_review"
        assert shown["closure_reason"] == "not_enrolled"
        assert [a["number"] for a in shown["appeal"]["appeals"]] == [1]

        no_reason = error(await specialist.post(review, json={"decision": "reject"}), 422,
                          "invalid_appeal_review")  # fmt: skip
        assert no_reason["fields"][0]["field"] == "reason"
        error(await specialist.post(review, json={"decision": "maybe"}), 422, "invalid_request")
        rejected = ok(
            await specialist.post(review, json={"decision": "reject", "reason": "No invoices"})
        )
        assert (rejected["state"], rejected["decided_by"]) == (
            "rejected",
            "specialist:test-specialist",
        )
        error(await specialist.post(review, json={"decision": "accept"}), 409, "no_appeal")
        assert (await case_of(api, seller_id))["status"] == "deactivated"

        # Staff may appeal on the seller's behalf.
        second = ok(await specialist.post(appeal, json={**PLAN, "root_cause": "Invoices now"}))
        assert (second["number"], second["submitted_by"]) == (2, "specialist:test-specialist")
        ok(await specialist.post(review, json={"decision": "accept"}))
        for _ in range(100):
            if api.cases.store.get(seller_id).account_status == "active":
                break
            await asyncio.sleep(0.1)
        assert api.cases.store.get(seller_id).account_status == "active"
        shown = await case_of(api, seller_id)
        assert shown["status"] == "reinstated"
        assert [a["state"] for a in shown["appeal"]["appeals"]] == ["rejected", "accepted"]
        error(await seller.post(appeal, json=PLAN), 409, "already_reinstated")


async def test_appeal_refusals_name_the_reason(api: Api) -> None:
    async with api.as_role("specialist") as specialist:
        unknown = "nobody-here"
        error(await specialist.post(f"/v1/sellers/{unknown}/case/appeal", json=PLAN), 404,
              "unknown_seller")  # fmt: skip

        open_seller, _ = api.seller()
        async with api.as_role("detector") as detector:
            ok(await detector.post("/v1/detections", json=api.detection(open_seller)), 202)
        body = error(
            await specialist.post(f"/v1/sellers/{open_seller}/case/appeal", json=PLAN),
            409,
            "not_deactivated",
        )
        assert "still open" in body["detail"]

        seller_id, _ = await deactivated_seller(api)
        error(
            await specialist.post(
                f"/v1/sellers/{seller_id}/case/appeal/review", json={"decision": "accept"}
            ),
            409,
            "no_appeal",
        )
