"""Who may call which /v1 route: the role matrix, and tokens revoked while the API runs.

Expectations, for every route and every caller:
- no token or an unknown token: 401 (with `WWW-Authenticate: Bearer`);
- a known token whose role may not do this: 403;
- another seller's token on a seller's route: 404, the very answer an unknown seller gets;
- "allowed": anything but 401/403 (the action itself may still be refused, e.g. 409).
"""

from __future__ import annotations

import hashlib
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Api

ALLOWED = "allowed"
SERVICE = ("detector", "rating", "telephony", "specialist", "supervisor")
FORGED = ("no token", "wrong token", "forged supervisor", "a token's sha256")
CALLERS = (*SERVICE, "own seller", "other seller", *FORGED)
STAFF = frozenset({"specialist", "supervisor"})
PLAN = {
    "root_cause": "A supplier sent goods that did not match the listings",
    "corrective_actions": ["Removed the listings"],
    "preventive_measures": ["Buy only from authorised distributors"],
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # "{seller}" stands for the seller the request is about
    allowed: frozenset[str]
    body: Callable[[Api, str], Any] = field(default=lambda api, seller: None)

    @property
    def about_a_seller(self) -> bool:
        return "{seller}" in self.path

    def expected(self, caller: str) -> int | str:
        if caller in FORGED:
            return 401
        if caller in self.allowed:
            return ALLOWED
        if caller == "other seller" and self.about_a_seller:
            return 404
        return 403


def _reading(api: Api, seller: str) -> dict[str, Any]:
    return {"seller_id": seller, "date": (date.today() - timedelta(days=1)).isoformat(), "score": 1}


ROUTES = {
    "detect": Route(
        "POST", "/v1/detections", frozenset({"detector"}), lambda api, s: api.detection(s)
    ),
    "get case": Route("GET", "/v1/sellers/{seller}/case", STAFF | {"own seller"}),
    "contact me now": Route(
        "POST", "/v1/sellers/{seller}/case/contact-me-now", frozenset({"own seller"})
    ),
    "callback": Route(
        "POST",
        "/v1/sellers/{seller}/case/callback",
        STAFF | {"own seller"},
        lambda api, s: {"at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()},
    ),
    "cancel callback": Route(
        "DELETE", "/v1/sellers/{seller}/case/callback", STAFF | {"own seller"}
    ),
    "plan": Route(
        "POST", "/v1/sellers/{seller}/case/plan", frozenset({"own seller"}), lambda a, s: PLAN
    ),
    "call outcome": Route(
        "POST",
        "/v1/sellers/{seller}/case/calls/1/outcome",
        STAFF | {"telephony"},
        lambda api, s: {"outcome": "no_answer"},
    ),
    "review": Route(
        "POST",
        "/v1/sellers/{seller}/case/review",
        STAFF,
        lambda api, s: {"decision": "request_info", "questions": ["Which supplier?"]},
    ),
    "resolve": Route(
        "POST",
        "/v1/sellers/{seller}/case/issues/I1/resolve",
        STAFF,
        lambda api, s: {"note": "listings fixed"},
    ),
    "list cases": Route("GET", "/v1/cases", STAFF),
    "pending calls": Route("GET", "/v1/calls/pending", STAFF),
    "queue": Route("GET", "/v1/queue", STAFF),
    "my queue": Route("GET", "/v1/queue?mine=true", STAFF),
    "own queue by name": Route("GET", "/v1/queue?owner=test-specialist", STAFF),
    # Another specialist's work: a supervisor's to see.
    "another's queue": Route("GET", "/v1/queue?owner=someone-else", frozenset({"supervisor"})),
    "claim": Route("POST", "/v1/sellers/{seller}/case/claim", STAFF),
    "release": Route("POST", "/v1/sellers/{seller}/case/release", STAFF),
    "assign": Route(
        "POST",
        "/v1/sellers/{seller}/case/assign",
        frozenset({"supervisor"}),
        lambda api, s: {"specialist": "test-specialist"},
    ),
    "extend": Route(
        "POST",
        "/v1/sellers/{seller}/case/issues/I1/extend",
        frozenset({"supervisor"}),
        lambda api, s: {"until": "2099-01-01T00:00:00Z", "reason": "seller travelling"},
    ),
    "contact data": Route(
        "PUT",
        "/v1/sellers/{seller}/contact",
        frozenset({"own seller"}),
        lambda api, s: {"email": f"{s}@example.com", "timezone": "UTC"},
    ),
    "get preferred windows": Route(
        "GET", "/v1/sellers/{seller}/preferred-windows", STAFF | {"own seller"}
    ),
    "preferred windows": Route(
        "PUT",
        "/v1/sellers/{seller}/preferred-windows",
        STAFF | {"own seller"},
        lambda api, s: {"mon": ["09:00-12:00"]},
    ),
    # Staff may appeal on the seller's behalf; only staff review appeals.
    "appeal": Route(
        "POST", "/v1/sellers/{seller}/case/appeal", STAFF | {"own seller"}, lambda a, s: PLAN
    ),
    "review appeal": Route(
        "POST",
        "/v1/sellers/{seller}/case/appeal/review",
        STAFF,
        lambda api, s: {"decision": "reject", "reason": "no invoices"},
    ),
    "ahr readings": Route("POST", "/v1/ahr-readings", frozenset({"rating"}), _reading),
    # The seller for itself; staff on its behalf (a seller who asks by phone or email).
    "call consent": Route(
        "PUT",
        "/v1/sellers/{seller}/call-consent",
        STAFF | {"own seller"},
        lambda api, s: {"consent": False},
    ),
    "read call consent": Route("GET", "/v1/sellers/{seller}/call-consent", STAFF | {"own seller"}),
}


pytestmark = pytest.mark.usefixtures("api_cases_end_after")


def add_token(api: Api, role: str, name: str) -> str:
    """A token for `role` in the live tokens file (e.g. a seller the directory lacks)."""
    token = f"{name}-{uuid.uuid4().hex}"
    with api.tokens_file.open("a", encoding="utf-8") as file:
        file.write(f'\n[[token]]\nrole = "{role}"\nname = "{name}"\ntoken = "{token}"\n')
    return token


def revoke(api: Api, token: str) -> None:
    """Remove `token`'s entry from the tokens file, as an operator would."""
    entries = tomllib.loads(api.tokens_file.read_text(encoding="utf-8"))["token"]
    kept = [entry for entry in entries if entry["token"] != token]
    assert len(kept) == len(entries) - 1
    api.tokens_file.write_text(
        "".join(
            "[[token]]\n" + "".join(f'{key} = "{value}"\n' for key, value in e.items()) + "\n"
            for e in kept
        ),
        encoding="utf-8",
    )


async def call(api: Api, token: str | None, route: Route, seller: str) -> httpx.Response:
    body = route.body(api, seller)
    async with api.http(token) as http:
        path = route.path.format(seller=seller)
        if body is None:
            return await http.request(route.method, path)
        return await http.request(route.method, path, json=body)


def error_body(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "detail", "fields"}, body
    return body


async def open_case(api: Api, seller: str) -> None:
    async with api.as_role("detector") as http:
        response = await http.post("/v1/detections", json=api.detection(seller))
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("name", list(ROUTES))
async def test_role_matrix(api: Api, name: str) -> None:
    route = ROUTES[name]
    own, own_token = api.seller()
    other, other_token = api.seller()
    await open_case(api, own)
    await open_case(api, other)
    tokens: dict[str, str | None] = {
        **{role: api.tokens[role] for role in SERVICE},
        "own seller": own_token,
        "other seller": other_token,
        "no token": None,
        "wrong token": f"specialist-{uuid.uuid4().hex}",
        "forged supervisor": f"supervisor-{uuid.uuid4().hex}",
        "a token's sha256": hashlib.sha256(api.tokens["supervisor"].encode()).hexdigest(),
    }

    wrong: list[str] = []
    for caller in CALLERS:
        expected = route.expected(caller)
        response = await call(api, tokens[caller], route, own)
        status = response.status_code
        if expected == ALLOWED:
            refused = status in (401, 403) or status >= 500
            if not refused and status == 404 and route.about_a_seller:
                # Allowed callers may meet "no such issue" and the like, never "no such seller".
                refused = error_body(response)["error"] == "unknown_seller"
            if refused:
                wrong.append(f"{caller}: expected allowed, got {status} {response.text}")
            continue
        if status != expected:
            wrong.append(f"{caller}: expected {expected}, got {status} {response.text}")
            continue
        body = error_body(response)
        if status == 401 and response.headers.get("www-authenticate") != "Bearer":
            wrong.append(f"{caller}: 401 without WWW-Authenticate: Bearer")
        if status == 404:
            assert caller == "other seller"
            assert body["error"] == "unknown_seller", body
            assert own in body["detail"], body
    assert wrong == [], f"{route.method} {route.path}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("name", [n for n, r in ROUTES.items() if r.about_a_seller])
async def test_another_sellers_route_looks_like_an_unknown_seller(api: Api, name: str) -> None:
    """Nothing tells a seller whether another seller exists or has a case."""
    route = ROUTES[name]
    own, _ = api.seller()
    with_case, _ = api.seller()
    _, snooper_token = api.seller()
    await open_case(api, with_case)
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"  # in no directory, but it has a token
    ghost_token = add_token(api, f"seller:{ghost}", ghost)
    # What an unknown seller gets from a caller who may use the route.
    reference_token = ghost_token if "own seller" in route.allowed else None
    if reference_token is None:
        reference_token = api.tokens[sorted(route.allowed)[0]]
    reference = await call(api, reference_token, route, ghost)
    assert reference.status_code == 404, reference.text
    unknown = error_body(reference)

    for target in (own, with_case, f"never-{uuid.uuid4().hex[:8]}"):
        response = await call(api, snooper_token, route, target)
        assert response.status_code == 404, (target, response.text)
        assert response.headers["content-type"] == reference.headers["content-type"]
        assert error_body(response) == {
            **unknown,
            "detail": unknown["detail"].replace(ghost, target),
        }, target
        assert target in response.json()["detail"]


async def test_a_revoked_seller_token_answers_401_at_once(api: Api) -> None:
    seller, token = api.seller()
    still, still_token = api.seller()
    await open_case(api, seller)
    path = f"/v1/sellers/{seller}/case"
    async with api.http(token) as http:
        assert (await http.get(path)).status_code == 200  # added after start: works at once
        revoke(api, token)
        revoked = await http.get(path)
        assert revoked.status_code == 401, revoked.text
        assert revoked.headers["www-authenticate"] == "Bearer"
        assert error_body(revoked)["error"] == "unauthorized"
        contact = await http.post(f"{path}/contact-me-now")
        assert contact.status_code == 401, contact.text
    # Nobody else lost access.
    async with api.http(still_token) as http:
        assert (await http.get(f"/v1/sellers/{still}/case")).status_code == 404  # no case
    async with api.as_role("specialist") as http:
        view = (await http.get(path)).json()
    assert not any(e["kind"] == "contact_me_now" for e in view["timeline"])


async def test_a_revoked_service_token_answers_401_at_once(api: Api) -> None:
    seller, _ = api.seller()
    async with api.as_role("specialist") as http:
        assert (await http.get("/v1/calls/pending")).status_code == 200
        revoke(api, api.tokens["specialist"])
        for method, path in [("GET", "/v1/calls/pending"), ("GET", f"/v1/sellers/{seller}/case")]:
            response = await http.request(method, path)
            assert response.status_code == 401, (path, response.text)
    async with api.as_role("detector") as http:
        response = await http.post("/v1/detections", json=api.detection(seller))
        assert response.status_code == 202, response.text


async def test_only_the_exact_token_signs_in(api: Api) -> None:
    token = api.tokens["specialist"]
    attempts: dict[str, dict[str, str]] = {
        "no header": {},
        "scheme only": {"Authorization": "Bearer"},
        "basic scheme": {"Authorization": f"Basic {token}"},
        "bare token": {"Authorization": token},
        "token with a suffix": {"Authorization": f"Bearer {token}x"},
        "token cut short": {"Authorization": f"Bearer {token[:-1]}"},
        "token in upper case": {"Authorization": f"Bearer {token.upper()}"},
        "the token's sha256": {
            "Authorization": f"Bearer {hashlib.sha256(token.encode()).hexdigest()}"
        },
    }
    async with api.http() as http:
        for what, headers in attempts.items():
            response = await http.get("/v1/cases", headers=headers)
            assert response.status_code == 401, (what, response.text)
            assert response.headers["www-authenticate"] == "Bearer", what
            assert error_body(response)["error"] == "unauthorized", what
        response = await http.get("/v1/cases", headers={"Authorization": f"bearer {token}"})
        assert response.status_code == 200, "the scheme is case-insensitive (RFC 7235)"
