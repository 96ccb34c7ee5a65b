"""`POST` and `DELETE /v1/sellers/{seller_id}/case/callback` over real HTTP and a real case on
the wall clock: the seller schedules, replaces and cancels; each refusal names its field; a
callback a few seconds ahead is placed as a seller-initiated call."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Api

pytestmark = pytest.mark.usefixtures("api_cases_end_after")


def path(seller: str) -> str:
    return f"/v1/sellers/{seller}/case/callback"


async def open_case_with_first_call_reported(api: Api, seller: str) -> dict[str, Any]:
    async with api.as_role("detector") as http:
        assert (await http.post("/v1/detections", json=api.detection(seller))).status_code == 202
    view = await api.cases.wait_for_call(seller, 1)
    async with api.as_role("telephony") as http:
        reported = await http.post(
            f"/v1/sellers/{seller}/case/calls/1/outcome", json={"outcome": "no_answer"}
        )
        assert reported.status_code == 200, reported.text
    return view.model_dump(mode="json")


async def test_the_seller_schedules_replaces_and_cancels_a_callback(api: Api) -> None:
    seller, token = api.seller()
    case = await open_case_with_first_call_reported(api, seller)
    deadline = datetime.fromisoformat(case["deadline"])
    async with api.http(token) as http:
        first = datetime.now(UTC) + timedelta(hours=3)
        scheduled = await http.post(path(seller), json={"at": first.isoformat()})
        assert scheduled.status_code == 200, scheduled.text
        body = scheduled.json()
        assert datetime.fromisoformat(body["at"]) == first
        assert body["requested_by"] == "seller"

        # Another offset, the same kind of answer: kept as the instant, in UTC.
        later = (datetime.now(UTC) + timedelta(hours=5)).astimezone(
            datetime.now().astimezone().tzinfo
        )
        replaced = await http.post(path(seller), json={"at": later.isoformat()})
        assert replaced.status_code == 200
        view = (await http.get(f"/v1/sellers/{seller}/case")).json()
        assert datetime.fromisoformat(view["callback"]["at"]) == later
        kinds = [e["kind"] for e in view["timeline"]]
        assert kinds[-2:] == ["callback_scheduled", "callback_replaced"]

    async with api.as_role("specialist") as http:
        cancelled = await http.delete(path(seller))
        assert cancelled.status_code == 200, cancelled.text
        assert datetime.fromisoformat(cancelled.json()["at"]) == later
        again = await http.delete(path(seller))
        assert (again.status_code, again.json()["error"]) == (409, "no_callback")
        view = (await http.get(f"/v1/sellers/{seller}/case")).json()
        assert view["callback"] is None
        assert view["timeline"][-1]["who"] == "specialist:test-specialist"

    async with api.http(token) as http:
        for at, reason in [
            ((datetime.now(UTC) - timedelta(minutes=5)).isoformat(), "at is in the past"),
            ((deadline + timedelta(minutes=1)).isoformat(), "at is not before the case's deadline"),
            ("2099-01-01T10:00:00", "at needs a time zone"),
        ]:
            refused = await http.post(path(seller), json={"at": at})
            assert refused.status_code == 422, refused.text
            error = refused.json()
            assert error["error"] == "invalid_callback"
            [field] = error["fields"]
            assert field["field"] == "at" and field["reason"].startswith(reason)
        not_a_time = await http.post(path(seller), json={"at": "tomorrow at noon"})
        assert not_a_time.status_code == 422
        assert [f["field"] for f in not_a_time.json()["fields"]] == ["at"]
        view = (await http.get(f"/v1/sellers/{seller}/case")).json()
        assert view["callback"] is None, "a refused callback changes nothing"


async def test_a_callback_seconds_ahead_rings_as_the_sellers_call(api: Api) -> None:
    seller, token = api.seller()
    await open_case_with_first_call_reported(api, seller)
    at = datetime.now(UTC) + timedelta(seconds=2)
    async with api.http(token) as http:
        assert (await http.post(path(seller), json={"at": at.isoformat()})).status_code == 200
    view = await api.cases.wait_for_call(seller, 2)
    second = view.call_attempts[1]
    assert second.seller_initiated and second.callback
    assert second.placed_at is not None and second.placed_at >= at
    # The call list (from the board, written beside the case) shows it as the seller's.
    mine: list[Any] = []
    async with api.as_role("specialist") as http:
        for _ in range(100):
            pending = (await http.get("/v1/calls/pending")).json()
            mine = [c for c in pending["calls"] if c["seller_id"] == seller]
            if mine:
                break
            await asyncio.sleep(0.1)
    assert [(c["attempt"], c["seller_initiated"]) for c in mine] == [(2, True)]


async def test_no_callback_for_a_seller_without_a_case(api: Api) -> None:
    seller, token = api.seller()
    async with api.http(token) as http:
        at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        refused = await http.post(path(seller), json={"at": at})
        assert refused.status_code == 404, refused.text
        assert (await http.delete(path(seller))).status_code == 404
