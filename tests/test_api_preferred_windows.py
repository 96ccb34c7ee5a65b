"""`GET`/`PUT /v1/sellers/{seller_id}/preferred-windows` over real HTTP: what the seller and
staff get back, each refusal naming its weekday and changing nothing, and an open case told."""

from __future__ import annotations

from aha.domain.case_text import case_summary
from tests.conftest import Api
from tests.test_console_http import sign_in, specialist


def path(seller: str) -> str:
    return f"/v1/sellers/{seller}/preferred-windows"


async def test_the_seller_stores_shows_and_clears_windows(api: Api) -> None:
    seller, token = api.seller(timezone="Europe/Dublin")
    async with api.http(token) as http:
        empty = (await http.get(path(seller))).json()
        assert empty["summary"] == "none" and empty["meets_calendar"] is None
        assert empty["timezone"] == "Europe/Dublin"

        saved = await http.put(
            path(seller), json={"mon": ["09:00-12:00"], "sat": ["14:00-16:00", "10:00-11:00"]}
        )
        assert saved.status_code == 200, saved.text
        body = saved.json()
        assert body["windows"]["mon"] == ["09:00-12:00"]
        assert body["windows"]["tue"] == []
        assert body["summary"] == "mon 09:00-12:00; sat 14:00-16:00, 10:00-11:00"
        assert body["meets_calendar"] is True
        assert body["case_notified"] is False  # no open case
        assert (await http.get(path(seller))).json()["windows"] == body["windows"]
    contact = api.cases.store.get(seller)
    assert contact is not None and contact.preferred_windows is not None
    assert contact.preferred_windows.sat == ("14:00-16:00", "10:00-11:00")

    async with api.as_role("specialist") as http:
        assert (await http.get(path(seller))).json()["summary"].startswith("mon 09:00-12:00")
        cleared = (await http.put(path(seller), json={})).json()
        assert cleared["summary"] == "none"
    contact = api.cases.store.get(seller)
    assert contact is not None and contact.preferred_windows is None


async def test_bad_windows_name_their_day_and_change_nothing(api: Api) -> None:
    seller, token = api.seller()
    async with api.http(token) as http:
        assert (await http.put(path(seller), json={"fri": ["09:00-10:00"]})).status_code == 200
        for body, field, reason in [
            ({"mon": ["9-12"]}, "mon", "is not a window 'HH:MM-HH:MM'"),
            ({"tue": ["12:00-09:00"]}, "tue", "must start before it ends"),
            ({"wed": ["09:00-12:00", "11:00-13:00"]}, "wed", "overlap"),
            ({"thu": "09:00-12:00"}, "thu", "valid tuple"),
            ({"funday": ["09:00-12:00"]}, "funday", "Extra inputs are not permitted"),
        ]:
            refused = await http.put(path(seller), json=body)
            assert refused.status_code == 422, body
            problem = refused.json()
            assert problem["error"] == "invalid_request"
            assert [f["field"] for f in problem["fields"]] == [field]
            assert reason in problem["fields"][0]["reason"]
        assert (await http.get(path(seller))).json()["summary"] == "fri 09:00-10:00"


async def test_windows_outside_the_calendar_are_flagged(api: Api) -> None:
    seller, token = api.seller()
    async with api.http(token) as http:
        # The API reads the policy in force, the shipped one: calls from 08:00 to 21:00.
        night = await http.put(path(seller), json={"mon": ["22:00-23:00"]})
        assert night.json()["meets_calendar"] is False
        evening = await http.put(path(seller), json={"mon": ["20:00-23:00"]})
        assert evening.json()["meets_calendar"] is True


async def test_an_open_case_is_told_and_follows(api: Api, api_cases_end_after: None) -> None:
    seller, token = api.seller(timezone="UTC")
    async with api.as_role("detector") as http:
        assert (await http.post("/v1/detections", json=api.detection(seller))).status_code == 202
    async with api.http(token) as http:
        saved = (await http.put(path(seller), json={"sun": ["10:00-11:00"]})).json()
        assert saved["case_notified"] is True and saved["warnings"] == []
    view = await api.cases.wait_for(
        seller, lambda v: any(e.kind == "preferred_windows_updated" for e in v.timeline)
    )
    entry = next(e for e in view.timeline if e.kind == "preferred_windows_updated")
    assert entry.detail == "preferred contact windows are now sun 10:00-11:00"
    assert view.preferred_windows is not None and view.preferred_windows.sun == ("10:00-11:00",)
    assert "preferred windows (seller's time): sun 10:00-11:00" in case_summary(view)

    async with api.http() as http:
        await sign_in(http, specialist(api))
        screen = await http.get(f"/console/cases/{seller}")
        assert '<dd id="preferred-windows">sun 10:00-11:00 (seller\'s time;' in screen.text
