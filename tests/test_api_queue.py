"""GET /v1/queue and GET /v1/calls/pending over the case board: filters, complete paging, bad
parameters. The rows are written to the real board (the API's own database) as the cases write
them, with `board.record`; nothing here starts a workflow.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from aha.adapters.stores import open_case_board
from aha.config import Settings
from aha.domain.board import CaseRow, PendingCallRow
from aha.ports import CaseBoard
from aha.service import case_id_for
from tests.conftest import Api, Cases, running_api


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()


def refused(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "detail", "fields"}, body
    if field is not None:
        assert [p["field"] for p in body["fields"]] == [field], body
    return body


@pytest.fixture
def board(api: Api) -> Iterator[CaseBoard]:
    """The board the API reads: the same database, opened as the worker opens it."""
    yield open_case_board(replace(Settings(), db_path=api.cases.db))


class Rows:
    """Open cases on the board, one per new seller of the directory."""

    def __init__(self, api: Api, board: CaseBoard) -> None:
        self.api, self.board = api, board
        self.now = datetime.now(UTC)

    def add(
        self,
        left: timedelta,
        *,
        status: str = "awaiting_contact",
        owner: str | None = None,
        marketplace: str = "US",
        sla_state: str = "ok",
        calls: list[PendingCallRow] | None = None,
    ) -> CaseRow:
        seller_id, _ = self.api.seller()
        row = CaseRow(
            case_id=case_id_for(seller_id),
            run_id=str(uuid.uuid4()),
            version=1,
            seller_id=seller_id,
            marketplace=marketplace,
            status=status,
            opened_at=self.now - timedelta(hours=1),
            detected_at=self.now - timedelta(hours=1),
            deadline=self.now + left,
            timezone="America/New_York",
            calling_start="00:00",
            calling_end="24:00",
            attempts=len(calls or []),
            next_call_at=self.now + timedelta(minutes=20),
            assigned_to=owner,
            sla_state=sla_state,
            issue_types=["ip_complaint"],
            pending_calls=calls or [],
        )
        assert self.board.record(row)
        return row


@pytest.fixture
def rows(api: Api, board: CaseBoard) -> Rows:
    return Rows(api, board)


async def whole_queue(api: Api, role: str = "specialist", **params: Any) -> list[dict[str, Any]]:
    """Every page of the queue, checking that each page says the same total."""
    items: list[dict[str, Any]] = []
    totals = set()
    token = None
    async with api.as_role(role) as http:
        while True:
            query = params | ({"page_token": token} if token else {})
            page = ok(await http.get("/v1/queue", params=query))
            items += page["cases"]
            totals.add(page["total"])
            token = page["next_page_token"]
            if token is None:
                break
    assert totals == {len(items)}, totals
    return items


def sellers(items: list[dict[str, Any]]) -> list[str]:
    return [item["row"]["seller_id"] for item in items]


async def test_the_queue_orders_open_cases_by_time_left_over_every_page(
    api: Api, rows: Rows
) -> None:
    made = [rows.add(timedelta(hours=hours)) for hours in (50, 3, 70, 12, 3, 30, 1)]
    closed = rows.add(timedelta(hours=2))
    ended = {"version": 2, "status": "resolved", "closed_at": rows.now}
    assert rows.board.record(closed.model_copy(update=ended))
    expected = [r.seller_id for r in sorted(made, key=lambda r: (r.deadline, r.case_id))]

    assert sellers(await whole_queue(api, page_size=2)) == expected
    assert sellers(await whole_queue(api, "supervisor", page_size=500)) == expected
    async with api.as_role("specialist") as http:
        first = ok(await http.get("/v1/queue", params={"page_size": 3}))
    assert first["total"] == 7 and len(first["cases"]) == 3
    top = first["cases"][0]
    assert top["row"]["seller_id"] == expected[0]
    assert 3500 < top["seconds_left"] <= 3600
    assert top["callable_now"] is True and top["seller_local_time"]


async def test_queue_filters(api: Api, rows: Rows) -> None:
    mine = rows.add(timedelta(hours=5), owner="test-specialist", status="engaged")
    dana = rows.add(timedelta(hours=4), owner="dana", sla_state="breached")
    free = rows.add(timedelta(hours=30), marketplace="DE", status="call_required")
    late = rows.add(timedelta(hours=60), sla_state="warning")

    cases = {
        "owner, as a supervisor": ({"owner": "dana"}, [dana]),
        "unassigned": ({"unassigned": "true"}, [free, late]),
        "status": ({"status": "call_required"}, [free]),
        "marketplace": ({"marketplace": "DE"}, [free]),
        "at risk within": ({"at_risk_within": "6h"}, [dana, mine]),
        "breached": ({"breached": "true"}, [dana]),
        "combined": ({"unassigned": "true", "at_risk_within": "2d"}, [free]),
        "empty filters are none": ({"status": "", "marketplace": ""}, [dana, mine, free, late]),
    }
    for what, (params, expected) in cases.items():
        got = sellers(await whole_queue(api, "supervisor", page_size=1, **params))
        assert got == [r.seller_id for r in expected], what

    assert sellers(await whole_queue(api, mine="true")) == [mine.seller_id]
    # A supervisor's `mine` is their own cases; a specialist may name themselves as owner.
    assert await whole_queue(api, "supervisor", mine="true") == []
    assert sellers(await whole_queue(api, owner="test-specialist")) == [mine.seller_id]


async def test_a_specialist_may_not_see_another_specialists_queue(api: Api, rows: Rows) -> None:
    rows.add(timedelta(hours=4), owner="dana")
    async with api.as_role("specialist") as http:
        body = refused(await http.get("/v1/queue", params={"owner": "dana"}), 403)
        assert body["error"] == "forbidden" and "supervisor" in body["detail"]
        refused(await http.get("/v1/queue", params={"owner": "dana", "mine": "true"}), 403)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "resolved"}, "status"),  # closed cases are not in the queue
        ({"status": "sleeping"}, "status"),
        ({"marketplace": "U1"}, "marketplace"),
        ({"marketplace": "toolongcode"}, "marketplace"),
        ({"at_risk_within": "soon"}, "at_risk_within"),
        ({"at_risk_within": "-1h"}, "at_risk_within"),
        ({"at_risk_within": "3651d"}, "at_risk_within"),
        ({"at_risk_within": "9" * 30 + "d"}, "at_risk_within"),
        ({"breached": "maybe"}, "breached"),
        ({"mine": "2"}, "mine"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "501"}, "page_size"),
        ({"page_size": "many"}, "page_size"),
        ({"page_token": "not-a-token!"}, "page_token"),
        ({"page_token": "bm90IG91ciB0b2tlbg=="}, "page_token"),  # base64, not ours
        ({"owner": "x" * 65}, "owner"),
        ({"mine": "true", "unassigned": "true"}, "unassigned"),
    ],
)
async def test_bad_queue_parameters_are_refused_naming_the_field(
    api: Api, rows: Rows, params: dict[str, str], field: str
) -> None:
    rows.add(timedelta(hours=4))
    async with api.as_role("supervisor") as http:
        body = refused(await http.get("/v1/queue", params=params), 422, field)
    assert field in body["detail"]


async def test_a_call_list_cursor_is_no_queue_token(api: Api, rows: Rows) -> None:
    placed = rows.now - timedelta(minutes=5)
    call = PendingCallRow(attempt=1, seller_initiated=False, scheduled_for=placed, placed_at=placed)
    rows.add(timedelta(hours=4), calls=[call])
    rows.add(timedelta(hours=5), calls=[call])
    async with api.as_role("specialist") as http:
        calls = ok(await http.get("/v1/calls/pending", params={"page_size": 1}))
        token = calls["next_page_token"]
        assert token
        refused(await http.get("/v1/queue", params={"page_token": token}), 422, "page_token")


async def test_pending_calls_come_complete_a_page_at_a_time(api: Api, rows: Rows) -> None:
    def call(attempt: int, minutes_ago: int, seller: bool = False) -> PendingCallRow:
        at = rows.now - timedelta(minutes=minutes_ago)
        return PendingCallRow(
            attempt=attempt,
            seller_initiated=seller,
            scheduled_for=at,
            placed_at=at,
            guidance=[f"I1: step for attempt {attempt}"],
        )

    first = rows.add(timedelta(hours=10), calls=[call(1, 40), call(2, 3, seller=True)])
    second = rows.add(timedelta(hours=2), calls=[call(1, 50)], owner="dana")
    third = rows.add(timedelta(hours=20), calls=[call(3, 10)])
    rows.add(timedelta(hours=8))  # no call waiting
    expected = [
        (first.seller_id, 2, True),  # the seller asked: first
        (second.seller_id, 1, False),  # then the oldest
        (first.seller_id, 1, False),
        (third.seller_id, 3, False),
    ]

    for role, size in [("specialist", 1), ("supervisor", 3), ("specialist", 500)]:
        seen: list[dict[str, Any]] = []
        pages = 0
        token = None
        async with api.as_role(role) as http:
            while True:
                params: dict[str, Any] = {"page_size": size}
                if token:
                    params["page_token"] = token
                page = ok(await http.get("/v1/calls/pending", params=params))
                assert set(page) == {"calls", "next_page_token"}
                seen += page["calls"]
                pages += 1
                token = page["next_page_token"]
                if token is None:
                    break
        assert [(c["seller_id"], c["attempt"], c["seller_initiated"]) for c in seen] == expected
        assert pages >= len(expected) // size
    asked = seen[0]
    assert asked["case_id"] == case_id_for(first.seller_id)
    assert asked["phone"] == "+12125550123", "from the directory"
    assert asked["issue_types"] == ["ip_complaint"]
    assert asked["guidance"] == ["I1: step for attempt 2"]
    assert asked["deadline"] is not None and asked["placed_at"] is not None
    assert seen[1]["assigned_to"] == "dana"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "501"}, "page_size"),
        ({"page_token": "not-a-token!"}, "page_token"),
        ({"page_token": "bm90IG91ciB0b2tlbg=="}, "page_token"),
    ],
)
async def test_bad_call_list_parameters_are_refused(
    api: Api, params: dict[str, str], field: str
) -> None:
    async with api.as_role("specialist") as http:
        refused(await http.get("/v1/calls/pending", params=params), 422, field)


async def test_the_queue_and_the_call_list_answer_while_temporal_is_down(
    cases: Cases, tmp_path: Path
) -> None:
    # Nothing listens on port 9 here: the API cannot reach Temporal at all.
    async with running_api(cases, tmp_path, temporal_address="127.0.0.1:9") as down:
        board = open_case_board(replace(Settings(), db_path=down.cases.db))
        call = PendingCallRow(
            attempt=1, seller_initiated=False, scheduled_for=datetime.now(UTC),
            placed_at=datetime.now(UTC),
        )  # fmt: skip
        row = Rows(down, board).add(timedelta(hours=5), calls=[call])
        async with down.as_role("specialist") as http:
            assert (await http.get("/readyz")).status_code == 503
            queue = ok(await http.get("/v1/queue"))
            assert [c["row"]["seller_id"] for c in queue["cases"]] == [row.seller_id]
            calls = ok(await http.get("/v1/calls/pending"))
            assert [c["seller_id"] for c in calls["calls"]] == [row.seller_id]
            # Acting on a case needs Temporal: that is a 503, and says so.
            claimed = await http.post(f"/v1/sellers/{row.seller_id}/case/claim")
            assert claimed.status_code == 503
