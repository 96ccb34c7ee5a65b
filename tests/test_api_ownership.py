"""Claiming, releasing and assigning a case through the API, as the case records it: who owns
it, who said so, and refusals that change nothing. Real HTTP, Temporal and worker."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import Api

pytestmark = pytest.mark.usefixtures("api_cases_end_after")

OWNERSHIP = ("case_claimed", "case_released", "case_assigned")


def answer(response: httpx.Response, status: int = 200, error: str | None = None) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    if error is not None:
        assert body["error"] == error, body
    return body


async def open_case(api: Api) -> tuple[str, str]:
    seller_id, token = api.seller()
    async with api.as_role("detector") as http:
        answer(await http.post("/v1/detections", json=api.detection(seller_id)), 202)
    return seller_id, token


async def view_of(api: Api, seller_id: str) -> dict[str, Any]:
    async with api.as_role("specialist") as http:
        view: dict[str, Any] = answer(await http.get(f"/v1/sellers/{seller_id}/case"))
    return view


def changes(view: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["kind"], e["who"]) for e in view["timeline"] if e["kind"] in OWNERSHIP]


async def test_claim_release_and_assign(api: Api) -> None:
    seller_id, _ = await open_case(api)
    case = f"/v1/sellers/{seller_id}/case"
    dana = api.staff("specialist", "dana", "dana@aha.example")

    async with api.as_role("specialist") as me, api.http(dana) as other:
        claimed = answer(await me.post(f"{case}/claim"))
        assert claimed == {"assigned_to": "test-specialist", "changed": True}
        again = answer(await me.post(f"{case}/claim"))
        assert again == {"assigned_to": "test-specialist", "changed": False}
        view = await view_of(api, seller_id)
        assert view["assigned_to"] == "test-specialist"
        assert view["assigned_email"] == "test-specialist@aha.example"

        # Another specialist can neither take it nor give it back.
        answer(await other.post(f"{case}/claim"), 409, "owned_by_other")
        answer(await other.post(f"{case}/release"), 409, "not_owned")
        # Nor may a specialist assign it, even to themselves.
        body = {"specialist": "dana"}
        answer(await other.post(f"{case}/assign", json=body), 403, "forbidden")
        assert (await view_of(api, seller_id))["assigned_to"] == "test-specialist"

        released = answer(await me.post(f"{case}/release"))
        assert released == {"assigned_to": None, "changed": True}
        assert answer(await other.post(f"{case}/claim"))["assigned_to"] == "dana"

    async with api.as_role("supervisor") as boss:
        moved = answer(await boss.post(f"{case}/assign", json={"specialist": "test-specialist"}))
        assert moved == {"assigned_to": "test-specialist", "changed": True}
        view = await view_of(api, seller_id)
        assert (view["assigned_to"], view["assigned_email"]) == (
            "test-specialist",
            "test-specialist@aha.example",
        )
        # A supervisor releases anyone's case.
        answer(await boss.post(f"{case}/release"))
        assert (await view_of(api, seller_id))["assigned_to"] is None
        # And claims one as a specialist would.
        assert answer(await boss.post(f"{case}/claim"))["assigned_to"] == "test-supervisor"

    assert changes(await view_of(api, seller_id)) == [
        ("case_claimed", "specialist:test-specialist"),
        ("case_released", "specialist:test-specialist"),
        ("case_claimed", "specialist:dana"),
        ("case_assigned", "supervisor:test-supervisor"),
        ("case_released", "supervisor:test-supervisor"),
        ("case_claimed", "supervisor:test-supervisor"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"specialist": "nobody-we-know"},  # a plausible name, but in no token entry
        {"specialist": "test-telephony"},  # a token's name, but not of a specialist
        {"specialist": ""},
        {"specialist": "x" * 65},
        {"specialist": "<script>"},
        {"specialist": None},
        {},
        {"specialist": "dana", "email": "x@example.com"},  # the tokens file says where
    ],
)
async def test_assigning_to_someone_not_on_the_staff_is_refused_and_changes_nothing(
    api: Api, body: dict[str, Any]
) -> None:
    seller_id, _ = await open_case(api)
    async with api.as_role("supervisor") as boss:
        refused = answer(await boss.post(f"/v1/sellers/{seller_id}/case/assign", json=body), 422)
    assert [p["field"] for p in refused["fields"]] == [
        "email" if "email" in body else "specialist"
    ], refused
    view = await view_of(api, seller_id)
    assert view["assigned_to"] is None and changes(view) == []


async def test_ownership_of_no_case_or_a_closed_one(api: Api) -> None:
    no_case, _ = api.seller()
    seller_id, token = await open_case(api)
    async with api.http(token) as seller:
        answer(await seller.post(f"/v1/sellers/{seller_id}/case/contact-me-now"))
    async with api.as_role("specialist") as http:
        path = f"/v1/sellers/{seller_id}/case/issues/I1/resolve"
        answer(await http.post(path, json={"note": "listings fixed"}))
        deadline = asyncio.get_running_loop().time() + 15
        while (await view_of(api, seller_id))["status"] != "resolved":
            assert asyncio.get_running_loop().time() < deadline, "the case never closed"
            await asyncio.sleep(0.1)
        for action in ("claim", "release"):
            answer(await http.post(f"/v1/sellers/{no_case}/case/{action}"), 404, "no_open_case")
            answer(await http.post(f"/v1/sellers/ghost-0/case/{action}"), 404, "unknown_seller")
    async with api.as_role("supervisor") as boss:
        assign = {"specialist": "test-specialist"}
        path = f"/v1/sellers/{no_case}/case/assign"
        answer(await boss.post(path, json=assign), 404, "no_open_case")
        for action, body in [("claim", None), ("release", None), ("assign", assign)]:
            response = await boss.post(f"/v1/sellers/{seller_id}/case/{action}", json=body)
            answer(response, 409, "case_closed")


async def test_a_supervisor_does_a_specialists_work_under_their_own_name(api: Api) -> None:
    seller_id, token = await open_case(api)
    async with api.http(token) as seller:  # the seller is reached: the issue may be resolved
        answer(await seller.post(f"/v1/sellers/{seller_id}/case/contact-me-now"))
    async with api.as_role("supervisor") as boss:
        answer(await boss.get(f"/v1/sellers/{seller_id}/case"))
        path = f"/v1/sellers/{seller_id}/case/issues/I1/resolve"
        answer(await boss.post(path, json={"note": "listings fixed"}))
    resolved = [e["who"] for e in (await view_of(api, seller_id))["timeline"]
                if e["kind"] == "issue_resolved"]  # fmt: skip
    assert resolved == ["supervisor:test-supervisor"]
