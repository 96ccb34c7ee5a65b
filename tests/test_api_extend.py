"""`POST /v1/sellers/{seller_id}/case/issues/{issue_id}/extend` over real HTTP and a real case:
what a supervisor gets back, and each refusal with its status, code and field."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import ALWAYS_CALLABLE, running_api

EXTENDING = 'max_extension = "72h"\n' + ALWAYS_CALLABLE
SHORT = EXTENDING.replace('deadline = "72h"', 'deadline = "3s"').replace(
    'reminders_before_deadline = ["24h", "4h"]', 'reminders_before_deadline = ["1s"]'
)


def path(seller: str, issue: str = "I1") -> str:
    return f"/v1/sellers/{seller}/case/issues/{issue}/extend"


async def test_a_supervisor_extends_and_every_refusal_names_its_reason(
    cases_with: Callable[[str], Any], tmp_path: Path
) -> None:
    async with cases_with(EXTENDING) as cases, running_api(cases, tmp_path) as api:
        seller, seller_token = api.seller()
        async with api.as_role("detector") as http:
            assert (
                await http.post("/v1/detections", json=api.detection(seller))
            ).status_code == 202
        async with api.as_role("supervisor") as http:
            case = (await http.get(f"/v1/sellers/{seller}/case")).json()
            original = datetime.fromisoformat(case["issues"][0]["deadline"])

            async def extend(until: str, reason: str = "trade fair", **kw: Any) -> Any:
                return await http.post(
                    path(kw.get("seller", seller), kw.get("issue", "I1")),
                    json={"until": until, "reason": reason},
                )

            too_far = await extend((original + timedelta(hours=73)).isoformat())
            assert too_far.status_code == 422
            body = too_far.json()
            assert body["error"] == "invalid_extension"
            assert [f["field"] for f in body["fields"]] == ["until"]
            assert "72h in total, 72h left" in body["detail"]

            blank = await extend((original + timedelta(hours=1)).isoformat(), reason=" ")
            assert blank.status_code == 422
            assert [f["field"] for f in blank.json()["fields"]] == ["reason"]

            naive = await extend("2099-01-01T10:00:00")
            assert naive.status_code == 422
            assert "time zone" in naive.json()["fields"][0]["reason"]

            earlier = await extend((original - timedelta(hours=1)).isoformat())
            assert earlier.status_code == 422 and "after the current deadline" in earlier.text

            unknown_issue = await extend((original + timedelta(hours=1)).isoformat(), issue="I7")
            assert (unknown_issue.status_code, unknown_issue.json()["error"]) == (
                404,
                "unknown_issue",
            )
            unknown_seller = await extend(
                (original + timedelta(hours=1)).isoformat(), seller="nobody-here"
            )
            assert (unknown_seller.status_code, unknown_seller.json()["error"]) == (
                404,
                "unknown_seller",
            )
            unchanged = (await http.get(f"/v1/sellers/{seller}/case")).json()
            assert unchanged["issues"][0]["extensions"] == []

            until = original + timedelta(hours=30)
            done = await extend(until.isoformat(), reason="seller at a trade fair")
            assert done.status_code == 200, done.text
            issue = done.json()
            assert datetime.fromisoformat(issue["deadline"]) == until
            assert datetime.fromisoformat(issue["original_deadline"]) == original
            [entry] = issue["extensions"]
            assert entry["by"] == "supervisor:test-supervisor"
            assert entry["reason"] == "seller at a trade fair"
            case = (await http.get(f"/v1/sellers/{seller}/case")).json()
            assert datetime.fromisoformat(case["deadline"]) == until
            # What is left is counted from the original deadline.
            more = await extend((original + timedelta(hours=73)).isoformat())
            assert "42h left" in more.json()["detail"]

        # The seller may not extend its own deadline.
        async with api.http(seller_token) as http:
            own = await http.post(
                path(seller),
                json={"until": (until + timedelta(hours=1)).isoformat(), "reason": "r"},
            )
            assert own.status_code == 403

        # Closed: resolved through the API, then refused.
        async with api.http(seller_token) as http:
            assert (await http.post(f"/v1/sellers/{seller}/case/contact-me-now")).status_code == 200
        async with api.as_role("specialist") as http:
            resolved = await http.post(
                f"/v1/sellers/{seller}/case/issues/I1/resolve", json={"note": "fixed"}
            )
            assert resolved.status_code == 200, resolved.text
        async with api.as_role("supervisor") as http:
            for _ in range(100):
                closed = await extend_late(http, seller, until + timedelta(hours=1))
                if closed.status_code == 409:
                    break
                await asyncio.sleep(0.1)
            assert (closed.status_code, closed.json()["error"]) == (409, "case_closed")


async def extend_late(http: Any, seller: str, until: datetime) -> Any:
    return await http.post(path(seller), json={"until": until.isoformat(), "reason": "late"})


async def test_a_passed_deadline_is_refused_with_409(
    cases_with: Callable[[str], Any], tmp_path: Path
) -> None:
    async with cases_with(SHORT) as cases, running_api(cases, tmp_path) as api:
        seller, _ = api.seller()
        async with api.as_role("detector") as http:
            assert (
                await http.post("/v1/detections", json=api.detection(seller))
            ).status_code == 202
        await asyncio.sleep(3.5)
        async with api.as_role("supervisor") as http:
            refused = await extend_late(
                http, seller, datetime.now().astimezone() + timedelta(hours=1)
            )
        assert refused.status_code == 409
        assert refused.json()["error"] in ("deadline_passed", "case_closed")
