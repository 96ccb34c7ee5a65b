"""The /v1 HTTP API as a client sees it: every route, its answers and its refusals.

Everything is real: the HTTP service on a port, Temporal, the worker and the directory. Only
the phone network is played by the tests, reporting each call's outcome as telephony would.
"""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus

from aha.config import Settings
from aha.dev import free_port
from aha.domain.models import CaseView
from aha.service import case_id_for
from api.app import create_app
from tests.conftest import Api

WHO = {
    "detector": "detector:test-detector",
    "seller": "seller",
    "specialist": "specialist:test-specialist",
    "telephony": "telephony:test-telephony",
}
PLAN = {
    "root_cause": "A supplier sent goods that did not match the listings",
    "corrective_actions": ["Removed the listings", "Audited stock"],
    "preventive_measures": ["Buy only from authorised distributors"],
}
# Who acts, as opposed to what the case does by itself (emails, dialling, abandoned calls).
ACTIONS = {
    "case_opened",
    "issue_added",
    "contact_me_now",
    "seller_reached",
    "call_outcome",
    "plan_submitted",
    "info_requested",
    "plan_back_in_review",
    "plan_accepted",
    "issue_resolved",
    "case_resolved",
}


# ---- helpers ---------------------------------------------------------------------------------


pytestmark = pytest.mark.usefixtures("api_cases_end_after")


def error(response: httpx.Response, status: int, kind: str | None = None) -> dict[str, Any]:
    """The error body, after checking the status and the one error shape."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "detail", "fields"}, body
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["fields"], list)
    for problem in body["fields"]:
        assert set(problem) == {"field", "reason"} and problem["reason"], body
    if kind is not None:
        assert body["error"] == kind, body
    return body


def invalid(response: httpx.Response, field: str) -> dict[str, Any]:
    """A 422 whose `fields` names `field` (the README: `fields` names each field and why)."""
    body = error(response, 422)
    named = [problem["field"] for problem in body["fields"]]
    assert field in named, f"422 fields {named} do not name {field!r}: {body}"
    return body


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def entries(view: dict[str, Any]) -> list[tuple[str, str]]:
    """The timeline's actions and who did them, without the case's own side effects."""
    return [(e["kind"], e["who"]) for e in view["timeline"] if e["kind"] in ACTIONS]


async def detect(api: Api, seller_id: str, **overrides: Any) -> dict[str, Any]:
    async with api.as_role("detector") as http:
        response = await http.post("/v1/detections", json=api.detection(seller_id, **overrides))
    receipt: dict[str, Any] = ok(response, 202)
    return receipt


async def case_of(api: Api, seller_id: str) -> dict[str, Any]:
    async with api.as_role("specialist") as http:
        view: dict[str, Any] = ok(await http.get(f"/v1/sellers/{seller_id}/case"))
    return view


async def eventually(
    probe: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], timeout: float = 15.0
) -> Any:
    """Poll `probe` until `check` holds: activities and visibility catch up in real time."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if check(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never reached the expected state: {value}")
        await asyncio.sleep(0.1)


async def case_until(
    api: Api, seller_id: str, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    view: dict[str, Any] = await eventually(lambda: case_of(api, seller_id), check)
    return view


async def finished(api: Api, seller_id: str) -> str:
    """Wait for the case workflow to complete; its run id."""
    handle = api.cases.client.get_workflow_handle(case_id_for(seller_id))
    await asyncio.wait_for(handle.result(), timeout=15)
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
    return description.run_id


async def close_case(api: Api, seller_id: str, token: str) -> dict[str, Any]:
    """The fastest way to close a case: the seller presses contact me now, I1 is resolved."""
    async with api.http(token) as seller:
        ok(await seller.post(f"/v1/sellers/{seller_id}/case/contact-me-now"))
    async with api.as_role("specialist") as specialist:
        path = f"/v1/sellers/{seller_id}/case/issues/I1/resolve"
        ok(await specialist.post(path, json={"note": "listings fixed"}))
    return await case_until(api, seller_id, lambda v: v["status"] == "resolved")


async def placed_call(api: Api, seller_id: str) -> int:
    """A dialled attempt waiting for its outcome, as the call work queue lists it."""

    async def pending() -> list[dict[str, Any]]:
        async with api.as_role("specialist") as http:
            calls = ok(await http.get("/v1/calls/pending"))["calls"]
        return [c for c in calls if c["seller_id"] == seller_id]

    calls = await eventually(pending, bool)
    return int(calls[0]["attempt"])


def marketplace_code() -> str:
    """A marketplace no other test uses, so that case listings can be checked exactly."""
    return "Q" + "".join(random.choices(string.ascii_uppercase, k=7))


# ---- detections ------------------------------------------------------------------------------


async def test_detection_opens_a_case_and_later_events_add_issues(api: Api) -> None:
    seller_id, _ = api.seller()
    async with api.as_role("detector") as http:
        first = await http.post("/v1/detections", json=api.detection(seller_id))
        assert first.status_code == 202, first.text
        assert "Idempotent-Replayed" not in first.headers
        assert first.json() == {
            "case_id": case_id_for(seller_id),
            "created": True,
            "issue_id": "I1",
        }
        second = await http.post(
            "/v1/detections",
            json=api.detection(seller_id, issue_type="review_policy_violation", severity="low"),
        )
        assert ok(second, 202) == {
            "case_id": case_id_for(seller_id),
            "created": False,
            "issue_id": "I2",
        }

    view = await case_of(api, seller_id)
    assert view["status"] == "awaiting_contact"
    assert [(i["id"], i["type"], i["severity"]) for i in view["issues"]] == [
        ("I1", "ip_complaint", "high"),
        ("I2", "review_policy_violation", "low"),
    ]
    assert entries(view) == [
        ("case_opened", WHO["detector"]),
        ("issue_added", WHO["detector"]),
    ]


async def test_a_repeated_detection_gets_the_first_answer_and_changes_nothing(api: Api) -> None:
    seller_id, _ = api.seller()
    body = api.detection(seller_id)
    async with api.as_role("detector") as http:
        first = ok(await http.post("/v1/detections", json=body), 202)
        before = await case_of(api, seller_id)
        for again in (body, body | {"description": "the same event, sent again with new text"}):
            replay = await http.post("/v1/detections", json=again)
            assert replay.status_code == 202, replay.text
            assert replay.headers.get("Idempotent-Replayed") == "true"
            assert replay.json() == first

    after = await case_of(api, seller_id)
    assert [i["id"] for i in after["issues"]] == ["I1"]
    assert after["issues"] == before["issues"]
    assert entries(after) == entries(before) == [("case_opened", WHO["detector"])]


async def test_a_detection_redelivered_after_the_case_closed_starts_nothing(api: Api) -> None:
    seller_id, token = api.seller()
    body = api.detection(seller_id)
    async with api.as_role("detector") as http:
        first = ok(await http.post("/v1/detections", json=body), 202)
        await close_case(api, seller_id, token)
        # Once while the case is closed, and again once its workflow has finished.
        early = await http.post("/v1/detections", json=body)
        run_id = await finished(api, seller_id)
        closed = await case_of(api, seller_id)
        late = await http.post("/v1/detections", json=body)

    for replay in (early, late):
        assert replay.status_code == 202, replay.text
        assert replay.json() == first
        assert replay.headers.get("Idempotent-Replayed") == "true"
    handle = api.cases.client.get_workflow_handle(case_id_for(seller_id))
    description = await handle.describe()
    assert description.run_id == run_id, "a redelivered event must not start a new case"
    assert description.status == WorkflowExecutionStatus.COMPLETED
    view = await case_of(api, seller_id)
    assert view["status"] == "resolved"
    assert view == closed
    assert [kind for kind, _ in entries(view)].count("case_opened") == 1
    assert [i["id"] for i in view["issues"]] == ["I1"]


async def test_detection_refusals(api: Api) -> None:
    seller_id, _ = api.seller()
    async with api.as_role("detector") as http:
        unknown = error(await http.post("/v1/detections", json=api.detection("nobody-here")), 404)
        assert unknown["error"] == "unknown_seller" and "nobody-here" in unknown["detail"]

        future = datetime.now(UTC) + timedelta(hours=1)
        late = await http.post("/v1/detections", json=api.detection(seller_id, detected_at=future))
        assert "detected_at" in invalid(late, "detected_at")["detail"]

        bad_type = api.detection(seller_id) | {"issue_type": "alien_invasion"}
        invalid(await http.post("/v1/detections", json=bad_type), "issue_type")

        no_offset = api.detection(seller_id) | {"detected_at": "2026-01-01T10:00:00"}
        invalid(await http.post("/v1/detections", json=no_offset), "detected_at")

        missing = api.detection(seller_id)
        del missing["severity"]
        invalid(await http.post("/v1/detections", json=missing), "severity")

        extra = api.detection(seller_id) | {"priority": "urgent"}
        invalid(await http.post("/v1/detections", json=extra), "priority")

    async with api.as_role("specialist") as http:
        # None of the refused events opened a case.
        error(await http.get(f"/v1/sellers/{seller_id}/case"), 404)


# ---- reading a case --------------------------------------------------------------------------


async def test_get_case_shows_what_aha_status_json_shows(api: Api) -> None:
    seller_id, token = api.seller()
    async with api.as_role("specialist") as specialist, api.http(token) as seller:
        none = error(await specialist.get(f"/v1/sellers/{seller_id}/case"), 404)
        assert seller_id in none["detail"]
        error(await seller.get(f"/v1/sellers/{seller_id}/case"), 404)

        await detect(api, seller_id)
        # Wait until the case's first effects (email, call) are done, so it holds still.
        settled = await case_until(
            api,
            seller_id,
            lambda v: {"email_sent", "call_placed"} <= {e["kind"] for e in v["timeline"]},
        )
        as_specialist = ok(await specialist.get(f"/v1/sellers/{seller_id}/case"))
        as_seller = ok(await seller.get(f"/v1/sellers/{seller_id}/case"))

    status_json = (await api.cases.service.status(seller_id)).model_dump(mode="json")
    assert as_specialist == as_seller == settled == status_json
    assert set(as_specialist) == set(CaseView.model_fields)
    assert as_specialist["case_id"] == case_id_for(seller_id)
    assert as_specialist["seller_id"] == seller_id


# ---- the seller's actions --------------------------------------------------------------------


async def test_contact_me_now(api: Api) -> None:
    seller_id, token = api.seller()
    async with api.http(token) as seller:
        none = error(await seller.post(f"/v1/sellers/{seller_id}/case/contact-me-now"), 404)
        assert seller_id in none["detail"]

        await detect(api, seller_id)
        first = ok(await seller.post(f"/v1/sellers/{seller_id}/case/contact-me-now"))
        assert first["created"] is True and first["attempt"] >= 1
        again = ok(await seller.post(f"/v1/sellers/{seller_id}/case/contact-me-now"))
        assert again == {"attempt": first["attempt"], "created": False}

    view = await case_of(api, seller_id)
    assert view["status"] == "engaged" and view["reached"] is True
    attempt = view["call_attempts"][first["attempt"] - 1]
    assert attempt["seller_initiated"] is True and attempt["outcome"] is None
    assert entries(view) == [
        ("case_opened", WHO["detector"]),
        ("contact_me_now", WHO["seller"]),
        ("seller_reached", WHO["seller"]),
    ]
    assert sum(a["seller_initiated"] for a in view["call_attempts"]) == 1


async def test_plan_submission(api: Api) -> None:
    seller_id, token = api.seller()
    path = f"/v1/sellers/{seller_id}/case/plan"
    async with api.http(token) as seller:
        error(await seller.post(path, json=PLAN), 404)
        await detect(api, seller_id)
        before = await case_of(api, seller_id)

        empty = {"root_cause": "  ", "corrective_actions": [], "preventive_measures": ["a", " "]}
        refused = error(await seller.post(path, json=empty), 422)
        assert "root_cause is empty" in refused["detail"]
        assert "corrective_actions needs at least one entry" in refused["detail"]
        assert "preventive_measures has an empty entry" in refused["detail"]
        assert [f["field"] for f in refused["fields"]] == [
            "root_cause",
            "corrective_actions",
            "preventive_measures",
        ]
        assert refused["fields"][0]["reason"] == "root_cause is empty"

        unknown_issue = await seller.post(path, json=PLAN | {"issue_ids": ["I7"]})
        assert "I7" in invalid(unknown_issue, "issue_ids")["detail"]
        missing = {k: v for k, v in PLAN.items() if k != "corrective_actions"}
        invalid(await seller.post(path, json=missing), "corrective_actions")
        invalid(await seller.post(path, json=PLAN | {"signed": True}), "signed")

        unchanged = await case_of(api, seller_id)
        assert unchanged["plan"] is None and unchanged["status"] == before["status"]
        assert entries(unchanged) == entries(before)

        plan = ok(await seller.post(path, json=PLAN))
        assert plan["root_cause"] == PLAN["root_cause"]
        assert plan["corrective_actions"] == PLAN["corrective_actions"]
        assert plan["preventive_measures"] == PLAN["preventive_measures"]
        assert plan["issue_ids"] == ["I1"]
        assert plan["review_state"] == "under_review" and plan["submitted_by"] == WHO["seller"]

        second = await seller.post(path, json=PLAN | {"root_cause": "Something else entirely"})
        error(second, 409, "plan_under_review")

    view = await case_of(api, seller_id)
    assert view["status"] == "plan_under_review"
    assert view["plan"] == plan
    assert entries(view) == [("case_opened", WHO["detector"]), ("plan_submitted", WHO["seller"])]


async def test_call_outcomes(api: Api) -> None:
    seller_id, token = api.seller()
    async with api.as_role("telephony") as telephony, api.as_role("specialist") as specialist:
        answered = {"outcome": "answered"}
        error(
            await telephony.post(f"/v1/sellers/{seller_id}/case/calls/1/outcome", json=answered),
            404,
        )

        await detect(api, seller_id)
        await api.cases.wait_for_call(seller_id, 1)
        url = f"/v1/sellers/{seller_id}/case/calls/{{}}/outcome"

        invalid(await telephony.post(url.format(1), json={"outcome": "hung_up"}), "outcome")
        invalid(await telephony.post(url.format(1), json={}), "outcome")
        invalid(await telephony.post(url.format(0), json=answered), "attempt")
        unknown = error(await telephony.post(url.format(99), json=answered), 404)
        assert "99" in unknown["detail"]

        attempt = ok(await telephony.post(url.format(1), json=answered))
        assert attempt["number"] == 1 and attempt["outcome"] == "answered"
        assert attempt["reported_by"] == WHO["telephony"]
        error(
            await telephony.post(url.format(1), json={"outcome": "busy"}), 409, "already_reported"
        )
        error(await specialist.post(url.format(1), json=answered), 409, "already_reported")

        async with api.http(token) as seller:
            asked = ok(await seller.post(f"/v1/sellers/{seller_id}/case/contact-me-now"))
        await api.cases.wait_for_call(seller_id, asked["attempt"])
        by_specialist = ok(
            await specialist.post(url.format(asked["attempt"]), json={"outcome": "busy"})
        )
        assert by_specialist["outcome"] == "busy"
        assert by_specialist["reported_by"] == WHO["specialist"]

    view = await case_of(api, seller_id)
    assert view["status"] == "engaged" and view["reached"] is True
    assert [(a["outcome"], a["reported_by"]) for a in view["call_attempts"][:2]] == [
        ("answered", WHO["telephony"]),
        ("busy", WHO["specialist"]),
    ]
    assert [who for kind, who in entries(view) if kind == "call_outcome"] == [
        WHO["telephony"],
        WHO["specialist"],
    ]
    assert ("seller_reached", WHO["telephony"]) in entries(view)


async def test_plan_review(api: Api) -> None:
    seller_id, token = api.seller()
    path = f"/v1/sellers/{seller_id}/case/review"
    async with api.as_role("specialist") as specialist, api.http(token) as seller:
        error(await specialist.post(path, json={"decision": "accept"}), 404)
        await detect(api, seller_id)
        error(await specialist.post(path, json={"decision": "accept"}), 409, "no_plan")

        ok(await seller.post(f"/v1/sellers/{seller_id}/case/plan", json=PLAN))
        invalid(await specialist.post(path, json={"decision": "maybe"}), "decision")
        invalid(await specialist.post(path, json={"decision": "request_info"}), "questions")
        blank = {"decision": "request_info", "questions": ["   "]}
        invalid(await specialist.post(path, json=blank), "questions")
        assert (await case_of(api, seller_id))["status"] == "plan_under_review"

        asked = {"decision": "request_info", "questions": ["Which supplier?"]}
        plan = ok(await specialist.post(path, json=asked))
        assert plan["review_state"] == "info_requested"
        assert plan["questions"] == ["Which supplier?"]
        assert plan["reviewed_by"] == WHO["specialist"]
        # Until a call is answered, neither a decision nor a new plan applies.
        error(await specialist.post(path, json={"decision": "accept"}), 409, "call_required")
        error(await seller.post(f"/v1/sellers/{seller_id}/case/plan", json=PLAN), 409)

    view = await case_of(api, seller_id)
    assert view["status"] == "call_required"
    assert ("info_requested", WHO["specialist"]) in entries(view)


async def test_accepting_a_plan_resolves_only_its_issues(api: Api) -> None:
    seller_id, token = api.seller()
    await detect(api, seller_id)
    await detect(api, seller_id, issue_type="review_policy_violation")
    async with api.http(token) as seller:
        plan_body = PLAN | {"issue_ids": ["I1"]}
        ok(await seller.post(f"/v1/sellers/{seller_id}/case/plan", json=plan_body))
    async with api.as_role("specialist") as specialist:
        path = f"/v1/sellers/{seller_id}/case/review"
        plan = ok(await specialist.post(path, json={"decision": "accept"}))
        assert plan["review_state"] == "accepted" and plan["issue_ids"] == ["I1"]

    view = await case_of(api, seller_id)
    assert [(i["id"], i["status"], i["resolved_by"]) for i in view["issues"]] == [
        ("I1", "resolved", WHO["specialist"]),
        ("I2", "open", None),
    ]
    assert view["status"] not in ("resolved", "deactivated")
    assert ("plan_accepted", WHO["specialist"]) in entries(view)


async def test_resolving_an_issue(api: Api) -> None:
    seller_id, token = api.seller()
    url = f"/v1/sellers/{seller_id}/case/issues/{{}}/resolve"
    note = {"note": "reviews removed"}
    async with api.as_role("specialist") as specialist:
        error(await specialist.post(url.format("I1"), json=note), 404)
        await detect(api, seller_id)
        await detect(api, seller_id, issue_type="review_policy_violation")

        unknown = error(await specialist.post(url.format("I9"), json=note), 404, "unknown_issue")
        assert "I9" in unknown["detail"]
        error(await specialist.post(url.format("I2"), json=note), 409, "not_reached")
        invalid(await specialist.post(url.format("I2"), json={"note": "  "}), "note")
        invalid(await specialist.post(url.format("I2"), json={}), "note")

        async with api.http(token) as seller:
            ok(await seller.post(f"/v1/sellers/{seller_id}/case/contact-me-now"))
        issue = ok(await specialist.post(url.format("I2"), json=note))
        assert issue["id"] == "I2" and issue["status"] == "resolved"
        assert issue["resolution"] == "reviews removed"
        assert issue["resolved_by"] == WHO["specialist"]
        error(await specialist.post(url.format("I2"), json=note), 409, "already_resolved")
        assert (await case_of(api, seller_id))["status"] == "engaged"

        ok(await specialist.post(url.format("I1"), json={"note": "listings fixed"}))

    view = await case_until(api, seller_id, lambda v: v["status"] == "resolved")
    assert view["closure_reason"] == "resolved"
    assert [who for kind, who in entries(view) if kind == "issue_resolved"] == [
        WHO["specialist"],
        WHO["specialist"],
    ]


async def test_a_closed_case_refuses_every_action(api: Api) -> None:
    seller_id, token = api.seller()
    await detect(api, seller_id)
    async with api.http(token) as seller:
        asked = ok(await seller.post(f"/v1/sellers/{seller_id}/case/contact-me-now"))
    await api.cases.wait_for_call(seller_id, asked["attempt"])
    closing = await close_case(api, seller_id, token)
    base = f"/v1/sellers/{seller_id}/case"

    async def every_action() -> list[tuple[str, httpx.Response]]:
        async with (
            api.http(token) as seller,
            api.as_role("telephony") as telephony,
            api.as_role("specialist") as specialist,
        ):
            outcome = f"{base}/calls/{asked['attempt']}/outcome"
            return [
                ("contact-me-now", await seller.post(f"{base}/contact-me-now")),
                ("plan", await seller.post(f"{base}/plan", json=PLAN)),
                ("outcome", await telephony.post(outcome, json={"outcome": "answered"})),
                ("review", await specialist.post(f"{base}/review", json={"decision": "accept"})),
                ("resolve", await specialist.post(f"{base}/issues/I1/resolve", json={"note": "x"})),
            ]

    # Right after closing (the workflow may still be finishing), then once it has finished.
    right_after = await every_action()
    await finished(api, seller_id)
    for action, response in right_after + await every_action():
        body = error(response, 409)
        assert body["error"] == "case_closed", (action, body)
        assert "closed" in body["detail"], (action, body)

    view = await case_of(api, seller_id)
    assert view["status"] == "resolved"
    # Nothing was recorded by the refused actions; only the closing email caught up.
    assert entries(view) == entries(closing)
    assert view["plan"] is None and view["call_attempts"] == closing["call_attempts"]


# ---- listings --------------------------------------------------------------------------------


async def test_listing_cases(api: Api) -> None:
    market = marketplace_code()
    near, _ = api.seller()
    far, far_token = api.seller()
    await detect(api, near, marketplace=market, detected_at=datetime.now(UTC) - timedelta(hours=70))
    await detect(api, far, marketplace=market)
    async with api.http(far_token) as seller:
        ok(await seller.post(f"/v1/sellers/{far}/case/contact-me-now"))

    async with api.as_role("specialist") as http:

        async def listing(**params: Any) -> dict[str, Any]:
            page: dict[str, Any] = ok(await http.get("/v1/cases", params=params))
            return page

        def sellers(page: dict[str, Any]) -> list[str]:
            return sorted(c["seller_id"] for c in page["cases"])

        everything = await eventually(
            lambda: listing(marketplace=market),
            lambda page: (
                {(c["seller_id"], c["status"]) for c in page["cases"]}
                == {(near, "awaiting_contact"), (far, "engaged")}
            ),
        )
        assert everything["next_page_token"] is None
        summary = next(c for c in everything["cases"] if c["seller_id"] == near)
        assert summary["case_id"] == case_id_for(near)
        assert summary["marketplace"] == market
        assert summary["issue_types"] == ["ip_complaint"]
        assert summary["workflow_status"] == "running"

        engaged = await listing(marketplace=market, status="engaged")
        assert sellers(engaged) == [far]
        assert sellers(await listing(marketplace=market, status="resolved")) == []
        soon = await eventually(
            lambda: listing(marketplace=market, overdue_within="3h"),
            lambda page: sellers(page) == [near],
        )
        assert soon["cases"][0]["deadline"] is not None
        assert sellers(await listing(marketplace=market, overdue_within="73h")) == sorted(
            [near, far]
        )

        first = await listing(marketplace=market, page_size=1)
        assert len(first["cases"]) == 1 and first["next_page_token"]
        second = await listing(marketplace=market, page_size=1, page_token=first["next_page_token"])
        assert len(second["cases"]) == 1
        assert sorted(sellers(first) + sellers(second)) == sorted([near, far])
        if second["next_page_token"]:
            third = await listing(
                marketplace=market, page_size=1, page_token=second["next_page_token"]
            )
            assert third == {"cases": [], "next_page_token": None}


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("status", "sleeping"),
        ("marketplace", "U1"),
        ("overdue_within", "soon"),
        ("overdue_within", "-1h"),
        ("overdue_within", "3651d"),
        ("page_size", "0"),
        ("page_size", "1001"),
        ("page_size", "many"),
        ("page_token", "not-a-token!"),
        ("page_token", "!!!!"),  # decodes to nothing at all
        ("page_token", "bm90IG91ciB0b2tlbg=="),  # base64, but not a token we gave
    ],
)
async def test_listing_cases_refuses_bad_parameters(api: Api, parameter: str, value: str) -> None:
    async with api.as_role("specialist") as http:
        refused = invalid(await http.get("/v1/cases", params={parameter: value}), parameter)
    assert value in refused["detail"] or parameter in refused["detail"]


async def all_pending_calls(api: Api, page_size: int = 100) -> list[dict[str, Any]]:
    """Every page of the call work queue."""
    calls: list[dict[str, Any]] = []
    token = None
    async with api.as_role("specialist") as http:
        while True:
            params: dict[str, Any] = {"page_size": page_size}
            if token:
                params["page_token"] = token
            page = ok(await http.get("/v1/calls/pending", params=params))
            calls += page["calls"]
            token = page["next_page_token"]
            if token is None:
                return calls


async def test_pending_calls(api: Api) -> None:
    seller_id, token = api.seller()
    await detect(api, seller_id)
    await api.cases.wait_for_call(seller_id, 1)
    async with api.http(token) as seller:
        asked = ok(await seller.post(f"/v1/sellers/{seller_id}/case/contact-me-now"))
    await api.cases.wait_for_call(seller_id, asked["attempt"])

    async def listed(page_size: int) -> list[dict[str, Any]]:
        return [c for c in await all_pending_calls(api, page_size) if c["seller_id"] == seller_id]

    # The case writes its row to the board by itself, a moment after the dial.
    calls = await eventually(lambda: listed(1), lambda calls: len(calls) == 2)
    assert [(c["attempt"], c["seller_initiated"]) for c in calls] == [
        (asked["attempt"], True),
        (1, False),
    ], "seller-initiated calls come first"
    assert calls == await listed(100), "the same list, whatever the page size"
    call = calls[0]
    assert call["case_id"] == case_id_for(seller_id)
    assert call["phone"] == "+12125550123"
    assert call["issue_types"] == ["ip_complaint"]
    assert call["placed_at"] is not None and call["deadline"] is not None
    assert call["guidance"] and all(g.startswith("I1: ") for g in call["guidance"])

    async with api.as_role("specialist") as http:
        outcome = f"/v1/sellers/{seller_id}/case/calls/{asked['attempt']}/outcome"
        ok(await http.post(outcome, json={"outcome": "answered"}))
    left = await eventually(lambda: listed(100), lambda calls: len(calls) == 1)
    assert [c["attempt"] for c in left] == [1]


# ---- the seller's contact data ---------------------------------------------------------------


async def test_updating_contact_data(api: Api) -> None:
    seller_id, token = api.seller()
    path = f"/v1/sellers/{seller_id}/contact"
    async with api.http(token) as seller:
        saved = ok(
            await seller.put(path, json={"email": "ops@example.com", "timezone": "Europe/Paris"})
        )
        assert saved == {
            "seller_id": seller_id,
            "email": "ops@example.com",
            "emergency_phone": "+12125550123",  # left out: the stored number is kept
            "timezone": "Europe/Paris",
            "case_notified": False,
            "enrolled_now": False,
            "warnings": [],
        }
        contact = api.cases.store.get(seller_id)
        assert contact is not None
        assert (contact.email, contact.phone, contact.timezone) == (
            "ops@example.com",
            "+12125550123",
            "Europe/Paris",
        )

        before = api.cases.store.get(seller_id)
        for body, field in [
            (
                {"email": "new@example.com", "emergency_phone": "+1", "timezone": "UTC"},
                "emergency_phone",
            ),
            (
                {"email": "new@example.com", "emergency_phone": "555-0100", "timezone": "UTC"},
                "emergency_phone",
            ),
            ({"email": "not an email", "timezone": "UTC"}, "email"),
            ({"email": "new@example.com", "timezone": "Mars/Olympus_Mons"}, "timezone"),
            ({"email": "new@example.com"}, "timezone"),
            ({"email": "new@example.com", "timezone": "UTC", "fax": "+1"}, "fax"),
        ]:
            refused = invalid(await seller.put(path, json=body), field)
            if field == "emergency_phone":
                assert refused["fields"][0]["field"] == "emergency_phone"
            assert api.cases.store.get(seller_id) == before, f"{body} changed the directory"

        await detect(api, seller_id)
        await api.cases.wait_for_call(seller_id, 1)
        moved = ok(
            await seller.put(
                path,
                json={
                    "email": "ops@example.com",
                    "emergency_phone": "+12125550199",
                    "timezone": "Asia/Tokyo",
                },
            )
        )
        assert moved["emergency_phone"] == "+12125550199"
        assert moved["timezone"] == "Asia/Tokyo"
        assert moved["case_notified"] is True and moved["warnings"] == []

    view = await case_until(
        api,
        seller_id,
        lambda v: {"phone_updated", "timezone_updated"} <= {e["kind"] for e in v["timeline"]},
    )
    assert view["timezone"] == "Asia/Tokyo"


# ---- AHR readings ----------------------------------------------------------------------------


async def test_ahr_readings(api: Api) -> None:
    seller_id, _ = api.seller()
    yesterday = date.today() - timedelta(days=1)
    day = yesterday.isoformat()
    async with api.as_role("rating") as http:
        one = {"seller_id": seller_id, "date": day, "score": 420}
        assert ok(await http.post("/v1/ahr-readings", json=one)) == {"accepted": 1, "rejected": []}
        assert api.cases.store.readings(seller_id) == {yesterday: 420}

        earlier = (yesterday - timedelta(days=1)).isoformat()
        batch = {
            "readings": [
                {"seller_id": seller_id, "date": earlier, "score": 300},
                {"seller_id": "nobody-here", "date": earlier, "score": 300},
                {"seller_id": seller_id, "date": "2999-01-01", "score": 300},
            ]
        }
        report = ok(await http.post("/v1/ahr-readings", json=batch))
        assert report["accepted"] == 1
        assert [r["index"] for r in report["rejected"]] == [1, 2]
        assert "unknown seller" in report["rejected"][0]["reason"]
        assert "future" in report["rejected"][1]["reason"]
        assert api.cases.store.readings(seller_id)[yesterday - timedelta(days=1)] == 300

        nothing = {"readings": [{"seller_id": "nobody-here", "date": day, "score": 1}]}
        refused = error(await http.post("/v1/ahr-readings", json=nothing), 422)
        assert "nobody-here" in refused["detail"]

        stranger = {"seller_id": "nobody-here", "date": day, "score": 1}
        unknown = error(await http.post("/v1/ahr-readings", json=stranger), 404, "unknown_seller")
        assert "nobody-here" in unknown["detail"]

        for score in (1001, -1):
            body = invalid(
                await http.post("/v1/ahr-readings", json=one | {"score": score}), "score"
            )
            # Only the score is wrong: no other field may be blamed.
            assert [f["field"] for f in body["fields"]] == ["score"], body
        invalid(await http.post("/v1/ahr-readings", json={"readings": []}), "readings")

    assert api.cases.store.readings(seller_id) == {
        yesterday: 420,
        yesterday - timedelta(days=1): 300,
    }


# ---- health, docs and the error shape --------------------------------------------------------


async def test_health_readiness_and_docs(api: Api) -> None:
    async with api.http() as http:
        assert ok(await http.get("/healthz"))["status"] == "ok"
        assert ok(await http.get("/readyz"))["status"] == "ready"
        docs = await http.get("/docs")
        assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
        assert "swagger" in docs.text.lower() and "/openapi.json" in docs.text
        schema = ok(await http.get("/openapi.json"))

    routes = {
        ("post", "/v1/detections"),
        ("get", "/v1/sellers/{seller_id}/case"),
        ("post", "/v1/sellers/{seller_id}/case/contact-me-now"),
        ("post", "/v1/sellers/{seller_id}/case/plan"),
        ("post", "/v1/sellers/{seller_id}/case/calls/{attempt}/outcome"),
        ("post", "/v1/sellers/{seller_id}/case/review"),
        ("post", "/v1/sellers/{seller_id}/case/issues/{issue_id}/resolve"),
        ("get", "/v1/cases"),
        ("get", "/v1/calls/pending"),
        ("get", "/v1/queue"),
        ("post", "/v1/sellers/{seller_id}/case/claim"),
        ("post", "/v1/sellers/{seller_id}/case/release"),
        ("post", "/v1/sellers/{seller_id}/case/assign"),
        ("put", "/v1/sellers/{seller_id}/contact"),
        ("post", "/v1/ahr-readings"),
        ("post", "/v1/telephony/twilio/status"),
        ("get", "/healthz"),
        ("get", "/readyz"),
    }
    listed = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert routes <= listed, f"missing from /openapi.json: {sorted(routes - listed)}"


async def test_readyz_answers_503_when_temporal_is_unreachable(api: Api, tmp_path: Any) -> None:
    settings = replace(
        Settings(),
        temporal_address=f"127.0.0.1:{free_port()}",  # nothing listens there
        db_path=str(tmp_path / "unreachable.db"),
        api_tokens_file=str(api.tokens_file),
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://aha.test") as http:
        assert (await http.get("/healthz")).status_code == 200
        body = error(await http.get("/readyz"), 503, "temporal_unavailable")
        assert settings.temporal_address in body["detail"]


async def test_errors_share_one_shape(api: Api) -> None:
    seller_id, token = api.seller()
    broken = b'{"seller_id": "x", '
    headers = {"content-type": "application/json"}
    async with api.as_role("detector") as detector:
        body = error(await detector.post("/v1/detections", content=broken, headers=headers), 400)
        assert body["error"] == "malformed_json"
    async with api.as_role("rating") as rating:
        error(await rating.post("/v1/ahr-readings", content=b"[1, 2", headers=headers), 400)
    async with api.http(token) as seller:
        plan = f"/v1/sellers/{seller_id}/case/plan"
        error(await seller.post(plan, content=b"root_cause=x", headers=headers), 400)
        contact = f"/v1/sellers/{seller_id}/contact"
        error(await seller.put(contact, content=b"{'email': 1}", headers=headers), 400)

    async with api.http() as anonymous:
        missing = error(await anonymous.get("/v1/cases"), 401, "unauthorized")
        assert missing["fields"] == []
    for token in (None, "not-a-token-of-ours"):
        async with api.http(token) as http:
            response = await http.get("/v1/cases")
        error(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    async with api.as_role("specialist") as specialist:
        error(await specialist.get("/v1/no-such-route"), 404)
        error(await specialist.delete("/v1/cases"), 405)


LIMIT = Settings().api_max_body_bytes  # AHA_API_MAX_BODY, 1 MiB unless set
JSON = {"content-type": "application/json"}


async def test_a_body_over_the_limit_gets_413(api: Api) -> None:
    async with api.as_role("detector") as http:
        response = await http.post("/v1/detections", content=b" " * (LIMIT + 1), headers=JSON)
    assert response.request.headers["content-length"] == str(LIMIT + 1)
    assert str(LIMIT) in error(response, 413, "body_too_large")["detail"]


async def test_a_streamed_body_over_the_limit_gets_413(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: the limit must hold for a streamed body too.
        for _ in range(LIMIT // 65536 + 2):
            yield b" " * 65536

    async with api.as_role("detector") as http:
        response = await http.post("/v1/detections", content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    error(response, 413, "body_too_large")


async def test_a_body_of_exactly_the_limit_is_read(api: Api) -> None:
    seller_id, _ = api.seller()
    padded = httpx.Request("POST", "/", json=api.detection(seller_id)).content
    padded += b" " * (LIMIT - len(padded))
    assert len(padded) == LIMIT
    async with api.as_role("detector") as http:
        response = await http.post("/v1/detections", content=padded, headers=JSON)
    assert ok(response, 202)["created"] is True


# ---- the whole story -------------------------------------------------------------------------


async def test_happy_path_from_detection_to_resolution(api: Api) -> None:
    seller_id, token = api.seller()
    base = f"/v1/sellers/{seller_id}/case"
    async with (
        api.as_role("detector") as detector,
        api.http(token) as seller,
        api.as_role("telephony") as telephony,
        api.as_role("specialist") as specialist,
    ):
        opened = ok(await detector.post("/v1/detections", json=api.detection(seller_id)), 202)
        assert opened["created"] is True and opened["issue_id"] == "I1"

        asked = ok(await seller.post(f"{base}/contact-me-now"))
        assert asked["created"] is True
        assert (await case_of(api, seller_id))["status"] == "engaged"

        await api.cases.wait_for_call(seller_id, asked["attempt"])
        answered = {"outcome": "answered"}
        ok(await telephony.post(f"{base}/calls/{asked['attempt']}/outcome", json=answered))

        plan = ok(await seller.post(f"{base}/plan", json=PLAN))
        assert plan["review_state"] == "under_review"
        assert (await case_of(api, seller_id))["status"] == "plan_under_review"

        questions = {"decision": "request_info", "questions": ["Which supplier?"]}
        reviewed = ok(await specialist.post(f"{base}/review", json=questions))
        assert reviewed["review_state"] == "info_requested"
        assert (await case_of(api, seller_id))["status"] == "call_required"

        attempt = await placed_call(api, seller_id)
        ok(await telephony.post(f"{base}/calls/{attempt}/outcome", json=answered))
        back = await case_of(api, seller_id)
        assert back["status"] == "plan_under_review"
        assert back["plan"]["review_state"] == "under_review"

        # The answered call put the plan back in review: a plan now is "already under review".
        again = await seller.post(f"{base}/plan", json=PLAN | {"root_cause": "Revised"})
        error(again, 409, "plan_under_review")

        accepted = ok(await specialist.post(f"{base}/review", json={"decision": "accept"}))
        assert accepted["review_state"] == "accepted"
        assert accepted["reviewed_by"] == WHO["specialist"]

    view = await case_until(api, seller_id, lambda v: v["status"] == "resolved")
    assert view["closure_reason"] == "resolved" and view["closed_at"] is not None
    assert view["plan"]["root_cause"] == PLAN["root_cause"]
    assert [(i["id"], i["status"], i["resolved_by"]) for i in view["issues"]] == [
        ("I1", "resolved", WHO["specialist"])
    ]
    assert entries(view) == [
        ("case_opened", WHO["detector"]),
        ("contact_me_now", WHO["seller"]),
        ("seller_reached", WHO["seller"]),
        ("call_outcome", WHO["telephony"]),
        ("plan_submitted", WHO["seller"]),
        ("info_requested", WHO["specialist"]),
        ("call_outcome", WHO["telephony"]),
        ("plan_back_in_review", "system"),
        ("plan_accepted", WHO["specialist"]),
        ("issue_resolved", WHO["specialist"]),
        ("case_resolved", "system"),
    ]
    await finished(api, seller_id)


async def test_a_detection_redelivered_after_a_deactivation_gets_its_first_answer(
    api: Api,
) -> None:
    """An unprotected seller is deactivated by the first event: a retried delivery of that
    same event is answered as before, while a new event is refused."""
    seller_id, _ = api.seller(enrolled=False)
    body = api.detection(seller_id)
    async with api.as_role("detector") as http:
        first = ok(await http.post("/v1/detections", json=body), 202)
        await finished(api, seller_id)
        again = await http.post("/v1/detections", json=body)
        new_event = await http.post("/v1/detections", json=api.detection(seller_id))
    assert again.status_code == 202 and again.json() == first
    assert again.headers.get("Idempotent-Replayed") == "true"
    error(new_event, 409, "case_closed")
    assert (await case_of(api, seller_id))["status"] == "deactivated"


async def test_a_contact_change_is_recorded_as_the_sellers(api: Api) -> None:
    seller_id, token = api.seller()
    await detect(api, seller_id)
    async with api.http(token) as seller:
        saved = ok(
            await seller.put(
                f"/v1/sellers/{seller_id}/contact",
                json={
                    "email": "ops@example.com",
                    "emergency_phone": "+14155550123",
                    "timezone": "Europe/Paris",
                },
            )
        )
    assert saved["case_notified"] is True
    view = await case_until(
        api, seller_id, lambda v: any(e["kind"] == "timezone_updated" for e in v["timeline"])
    )
    changes = {e["kind"]: e["who"] for e in view["timeline"] if e["kind"].endswith("_updated")}
    assert changes == {"phone_updated": "seller", "timezone_updated": "seller"}


async def test_deleting_the_tokens_file_revokes_every_token(api: Api) -> None:
    async with api.as_role("specialist") as http:
        ok(await http.get("/v1/calls/pending"))
        api.tokens_file.unlink()
        error(await http.get("/v1/calls/pending"), 401, "unauthorized")
    async with api.http() as http:
        ready = await http.get("/readyz")
    assert error(ready, 503, "tokens_file")["detail"].endswith("is gone: no tokens")


async def test_a_contact_change_is_saved_even_while_temporal_is_unreachable(api: Api) -> None:
    seller_id, token = api.seller()
    settings = replace(
        Settings(),
        temporal_address=f"127.0.0.1:{free_port()}",  # nothing listens there
        db_path=str(api.cases.store.path),
        api_tokens_file=str(api.tokens_file),
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://aha.test", headers=headers
    ) as http:
        saved = ok(
            await http.put(
                f"/v1/sellers/{seller_id}/contact",
                json={"email": "new@example.com", "timezone": "Asia/Tokyo"},
            )
        )
    assert saved["case_notified"] is False
    assert len(saved["warnings"]) == 1 and "not told to Temporal" in saved["warnings"][0]
    contact = api.cases.store.get(seller_id)
    assert contact is not None and (contact.email, contact.timezone) == (
        "new@example.com",
        "Asia/Tokyo",
    )


async def test_empty_list_filters_are_no_filters(api: Api) -> None:
    async with api.as_role("specialist") as http:
        listed = ok(await http.get("/v1/cases?status=&marketplace=&overdue_within=&page_token="))
    assert set(listed) == {"cases", "next_page_token"}


async def test_a_413_closes_the_connection_and_healthz_answers_head(api: Api) -> None:
    async with api.as_role("detector") as http:
        too_big = await http.post(
            "/v1/detections",
            content=b"x" * (1024 * 1024 + 1),
            headers={"content-type": "application/json"},
        )
        error(too_big, 413, "body_too_large")
        assert too_big.headers["connection"] == "close"
        assert (await http.head("/healthz")).status_code == 200
