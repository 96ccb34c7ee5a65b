"""PUT/GET /v1/sellers/{seller_id}/call-consent over the real HTTP service: what it stores,
who set it, bad bodies refused naming the field, and the dial reading it for the next call."""

from __future__ import annotations

import pytest

from aha.adapters.sqlite.consent import SqliteCallConsents
from tests.conftest import Api

pytestmark = pytest.mark.usefixtures("api_cases_end_after")


async def test_a_seller_withdraws_and_gives_back_consent(api: Api) -> None:
    seller, token = api.seller()
    path = f"/v1/sellers/{seller}/call-consent"
    async with api.http(token) as http:
        never_asked = await http.get(path)
        assert never_asked.status_code == 200
        assert never_asked.json() == {
            "seller_id": seller,
            "consent": True,
            "changed_at": None,
            "changed_by": None,
        }
        withdrawn = await http.put(path, json={"consent": False})
        assert withdrawn.status_code == 200, withdrawn.text
        assert withdrawn.json()["consent"] is False
        assert withdrawn.json()["changed_by"] == "seller"
        assert (await http.get(path)).json()["consent"] is False
    assert SqliteCallConsents(api.cases.db).consent(seller).consent is False

    async with api.as_role("specialist") as http:
        given = await http.put(path, json={"consent": True})
        assert given.status_code == 200
        assert given.json()["changed_by"] == "specialist:test-specialist"
    assert SqliteCallConsents(api.cases.db).consent(seller).consent is True


@pytest.mark.parametrize("body", [{}, {"consent": "no"}, {"consent": 0}, {"consent": None}])
async def test_a_bad_body_is_refused_naming_the_field_and_changes_nothing(
    api: Api, body: dict[str, object]
) -> None:
    seller, token = api.seller()
    async with api.http(token) as http:
        response = await http.put(f"/v1/sellers/{seller}/call-consent", json=body)
        assert response.status_code == 422, response.text
        assert [f["field"] for f in response.json()["fields"]] == ["consent"]
        assert (await http.get(f"/v1/sellers/{seller}/call-consent")).json()["consent"] is True


async def test_an_unknown_seller_is_404(api: Api) -> None:
    async with api.as_role("supervisor") as http:
        response = await http.put("/v1/sellers/nobody/call-consent", json={"consent": False})
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_seller"


async def test_the_next_proactive_call_after_a_withdrawal_is_not_placed(api: Api) -> None:
    seller, token = api.seller()
    async with api.http(token) as http:
        await http.put(f"/v1/sellers/{seller}/call-consent", json={"consent": False})
    async with api.as_role("detector") as http:
        response = await http.post("/v1/detections", json=api.detection(seller))
        assert response.status_code == 202
    view = await api.cases.wait_for(
        seller, lambda v: bool(v.call_attempts) and v.call_attempts[0].not_placed is not None
    )
    assert view.call_attempts[0].not_placed == "consent withdrawn"
    async with api.as_role("specialist") as http:
        case = (await http.get(f"/v1/sellers/{seller}/case")).json()
    assert case["use_email_because"] == "consent withdrawn"
    assert case["call_attempts"][0]["not_placed"] == "consent withdrawn"
