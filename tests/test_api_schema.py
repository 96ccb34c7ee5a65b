"""Property-based API test: Schemathesis generates requests for every operation of the live
service's OpenAPI schema and checks that no answer contradicts it.

The `api` fixture serves the real app on the session event loop, so the synchronous Schemathesis
and Hypothesis calls run in a thread. Requests carry a valid token of the role each operation
admits, so they reach the handlers; seller routes mostly name real sellers, two of them with open
cases and one without, and sometimes a generated seller id. Valid data must get a documented
answer; schema-violating data must be refused with a 4xx; nothing may be a 5xx.
"""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import available_timezones

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import DrawFn, SearchStrategy
from schemathesis import Case, CheckFunction, GenerationMode
from schemathesis import checks as schema_checks
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Ok
from schemathesis.errors import FailureGroup
from schemathesis.schemas import APIOperation

from aha.catalogue_file import shipped_catalogue
from aha.domain.board import OPEN_STATUSES
from aha.domain.models import CASE_STATUSES
from tests.conftest import Api

# Which token each operation gets, in the order they run: a service role, "seller" for the
# seller's own routes (the token of the seller the path names), None for the open routes.
# A new operation fails the test until it is listed here.
ROLES: dict[str, str | None] = {
    "GET /healthz": None,
    "GET /readyz": None,
    "POST /v1/detections": "detector",
    "POST /v1/ahr-readings": "rating",
    "GET /v1/sellers/{seller_id}/case": "specialist",
    "POST /v1/sellers/{seller_id}/case/contact-me-now": "seller",
    "PUT /v1/sellers/{seller_id}/contact": "seller",
    "GET /v1/sellers/{seller_id}/preferred-windows": "seller",
    "PUT /v1/sellers/{seller_id}/preferred-windows": "specialist",
    "PUT /v1/sellers/{seller_id}/call-consent": "seller",
    "GET /v1/sellers/{seller_id}/call-consent": "specialist",
    "POST /v1/sellers/{seller_id}/case/plan": "seller",
    "POST /v1/sellers/{seller_id}/case/callback": "seller",
    "DELETE /v1/sellers/{seller_id}/case/callback": "seller",
    "POST /v1/sellers/{seller_id}/case/calls/{attempt}/outcome": "telephony",
    "POST /v1/sellers/{seller_id}/case/review": "specialist",
    "GET /v1/cases": "specialist",
    "GET /v1/calls/pending": "specialist",
    "GET /v1/queue": "supervisor",
    "POST /v1/sellers/{seller_id}/case/claim": "specialist",
    "POST /v1/sellers/{seller_id}/case/assign": "supervisor",
    "POST /v1/sellers/{seller_id}/case/release": "supervisor",
    "POST /v1/sellers/{seller_id}/case/appeal": "seller",
    "POST /v1/sellers/{seller_id}/case/appeal/review": "specialist",
    # Twilio's callback: no token, Twilio's signature, which only Twilio (or a test) can make.
    "POST /v1/telephony/twilio/status": None,
    "POST /v1/sellers/{seller_id}/case/issues/{issue_id}/extend": "supervisor",
    # Last: resolving a real issue may close its case.
    "POST /v1/sellers/{seller_id}/case/issues/{issue_id}/resolve": "specialist",
}

# Refused whatever schemathesis sends: tests/test_twilio.py sends it signed callbacks.
SIGNED_BY_TWILIO = {"POST /v1/telephony/twilio/status"}

EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}

CHECKS: list[CheckFunction] = [
    schema_checks.not_a_server_error,
    schema_checks.status_code_conformance,
    schema_checks.content_type_conformance,
    schema_checks.response_headers_conformance,
    schema_checks.response_schema_conformance,
    schema_checks.negative_data_rejection,
    schema_checks.ignored_auth,
]

# No schemathesis.toml is read. Failure reports hide the bearer token but show the rest of the
# request as sent (by default any field named like "*token*", such as `page_token`, is hidden).
CONFIG = schemathesis.Config.from_dict(
    {
        "output": {
            "sanitization": {
                "keys-to-sanitize": ["authorization"],
                "sensitive-markers": ["authorization"],
            }
        }
    }
)

PHONES = ("+12125550123", "+442079460958", None)

Operation = APIOperation[Any, Any, Any, Any]
AnyCase = Case[Any]


@dataclass
class Seller:
    id: str
    token: str
    issue_id: str | None  # an issue of its open case; None: the seller has no case


@dataclass
class World:
    api: Api
    sellers: list[Seller]  # named in paths
    # Named in bodies. Apart: a detection from long ago can deactivate its seller at once.
    targets: list[str]
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def token_of(self, seller_id: object) -> str:
        for seller in self.sellers:
            if seller.id == seller_id:
                return seller.token
        return self.sellers[0].token  # another seller's token: the route must answer 404

    def headers(self, case: AnyCase, role: str | None) -> dict[str, str]:
        if role is None:
            return {}
        if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER):
            return {}  # the case is about the Authorization header: it goes as generated
        if role == "seller":
            token = self.token_of(case.path_parameters.get("seller_id"))
        else:
            token = self.api.tokens[role]
        return {"Authorization": f"Bearer {token}"}


async def open_cases(api: Api) -> list[Seller]:
    """Two sellers with an open case each, and one with none."""
    sellers: list[Seller] = []
    async with api.as_role("detector") as detector:
        for with_case in (True, True, False):
            seller_id, token = api.seller()
            issue_id = None
            if with_case:
                answer = await detector.post("/v1/detections", json=api.detection(seller_id))
                assert answer.status_code == 202, answer.text
                issue_id = answer.json()["issue_id"]
            sellers.append(Seller(seller_id, token, issue_id))
    return sellers


# ---- what Schemathesis generates ----------------------------------------------------------------


def path_pins(operation: Operation, world: World) -> list[dict[str, Any]]:
    """Path parameters to fix: a real seller (alone, or with its real issue and call attempt 1),
    and one choice that fixes nothing, so that generated seller ids are tried too."""
    names = {parameter.name for parameter in operation.path_parameters}
    pins: list[dict[str, Any]] = [{}]
    if "seller_id" not in names:
        return pins
    for seller in world.sellers:
        pins.append({"seller_id": seller.id})
        real: dict[str, Any] = {"seller_id": seller.id}
        if "issue_id" in names and seller.issue_id is not None:
            real["issue_id"] = seller.issue_id
        if "attempt" in names:
            real["attempt"] = 1
        if real != pins[-1]:
            pins.append(real)
    return pins


Tweak = Callable[[DrawFn, AnyCase, World], None]


def instants() -> SearchStrategy[str]:
    """RFC 3339 instants: recent ones, any in years 1-9999, and both ends, in any offset."""
    now = datetime.now()
    moments = st.one_of(
        st.datetimes(min_value=now - timedelta(days=30), max_value=now),
        st.datetimes(),
        st.sampled_from([datetime.min, datetime.max]),
    )
    minutes = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1)
    offsets = minutes.map(lambda m: timezone(timedelta(minutes=m)))
    return st.builds(lambda moment, tz: moment.replace(tzinfo=tz).isoformat(), moments, offsets)


def zone_names() -> SearchStrategy[str]:
    """IANA zone names, and what people type for them: the region alone ("Europe")."""
    zones = st.sampled_from(sorted(available_timezones()))
    return st.tuples(zones, st.booleans()).map(lambda z: z[0].split("/")[0] if z[1] else z[0])


INSTANTS = instants()
ZONE_NAMES = zone_names()


def body_of(case: AnyCase) -> dict[str, Any]:
    assert isinstance(case.body, dict), "valid bodies of these operations are JSON objects"
    return case.body


def _detection(draw: DrawFn, case: AnyCase, world: World) -> None:
    body = body_of(case)
    body["seller_id"] = draw(st.sampled_from(world.targets))
    body["issue_type"] = draw(st.sampled_from(shipped_catalogue().names))
    body["detected_at"] = draw(INSTANTS)


def _readings(draw: DrawFn, case: AnyCase, world: World) -> None:
    body = body_of(case)
    for reading in body.get("readings", [body]):
        reading["seller_id"] = draw(st.sampled_from(world.targets))
        reading["date"] = draw(st.dates(max_value=date.today())).isoformat()


def _contact(draw: DrawFn, case: AnyCase, world: World) -> None:
    body = body_of(case)
    body["email"] = draw(st.sampled_from(["ops@sellers.example", "a.b+c@shop.example"]))
    body["timezone"] = draw(ZONE_NAMES)
    phone = draw(st.sampled_from(PHONES))
    if phone is None:
        body.pop("emergency_phone", None)
    else:
        body["emergency_phone"] = phone


def _windows(draw: DrawFn, case: AnyCase, world: World) -> None:
    case.body = draw(
        st.sampled_from(
            [{}, {"mon": ["09:00-12:00"]}, {"sat": ["10:00-11:00", "14:00-15:30"], "sun": []}]
        )
    )


def _plan(draw: DrawFn, case: AnyCase, world: World) -> None:
    body_of(case).update(
        root_cause="A supplier sent goods that did not match the listings",
        corrective_actions=["Removed the listings", "Audited stock"],
        preventive_measures=["Buy only from authorised distributors"],
        issue_ids=draw(st.sampled_from([[], [s.issue_id for s in world.sellers if s.issue_id]])),
    )


def _case_filters(draw: DrawFn, case: AnyCase, world: World) -> None:
    query: dict[str, Any] = dict(case.query or {})
    if draw(st.booleans()):
        query["status"] = draw(st.sampled_from(CASE_STATUSES))
    if draw(st.booleans()):
        query["overdue_within"] = draw(st.sampled_from(["30m", "6h", "3d"]))
    if draw(st.sampled_from([False, False, False, True])):
        # A token of the right shape that this service did not give out.
        token = draw(st.binary(min_size=1, max_size=64))
        query["page_token"] = base64.urlsafe_b64encode(token).decode()
    case.query = query


def _queue_filters(draw: DrawFn, case: AnyCase, world: World) -> None:
    query: dict[str, Any] = dict(case.query or {})
    if draw(st.booleans()):
        query["status"] = draw(st.sampled_from(OPEN_STATUSES))
    if draw(st.booleans()):
        query["at_risk_within"] = draw(st.sampled_from(["30m", "6h", "3d"]))
    if draw(st.booleans()):
        query["marketplace"] = "US"
    query.pop("page_token", None)
    case.query = query


def _assignee(draw: DrawFn, case: AnyCase, world: World) -> None:
    body_of(case)["specialist"] = draw(st.sampled_from(["test-specialist", "test-supervisor"]))


def _callback(draw: DrawFn, case: AnyCase, world: World) -> None:
    minutes = draw(st.integers(min_value=-60, max_value=80 * 60))
    at = datetime.now(UTC) + timedelta(minutes=minutes)
    body_of(case).update(at=at.isoformat())


def _extension(draw: DrawFn, case: AnyCase, world: World) -> None:
    hours = draw(st.integers(min_value=-2, max_value=200))
    until = datetime.now(UTC) + timedelta(hours=72 + hours)
    body_of(case).update(until=until.isoformat(), reason="seller at a trade fair")


# Values the schema cannot tell from the ones the handlers act on (a known issue type, a seller
# in the directory, a real time zone, a plan a case accepts): half the valid requests get some.
TWEAKS: dict[str, Tweak] = {
    "POST /v1/detections": _detection,
    "POST /v1/ahr-readings": _readings,
    "PUT /v1/sellers/{seller_id}/contact": _contact,
    "PUT /v1/sellers/{seller_id}/preferred-windows": _windows,
    "POST /v1/sellers/{seller_id}/case/plan": _plan,
    "GET /v1/cases": _case_filters,
    "GET /v1/queue": _queue_filters,
    "POST /v1/sellers/{seller_id}/case/assign": _assignee,
    "POST /v1/sellers/{seller_id}/case/issues/{issue_id}/extend": _extension,
    "POST /v1/sellers/{seller_id}/case/callback": _callback,
}


@st.composite
def realistic(
    draw: DrawFn, cases: SearchStrategy[AnyCase], tweak: Tweak | None, world: World
) -> AnyCase:
    case = draw(cases)
    if tweak is not None and draw(st.booleans()):
        tweak(draw, case, world)
    return case


def cases_for(operation: Operation, mode: GenerationMode, world: World) -> SearchStrategy[AnyCase]:
    strategies = [
        operation.as_strategy(generation_mode=mode, path_parameters=pin or None)
        for pin in path_pins(operation, world)
    ]
    cases = st.one_of(strategies)
    if mode is GenerationMode.POSITIVE:
        return realistic(cases, TWEAKS.get(operation.label), world)
    return cases


# ---- running it -------------------------------------------------------------------------------


def exercise(
    operation: Operation, mode: GenerationMode, world: World, session: requests.Session
) -> None:
    role = ROLES[operation.label]
    seen = world.statuses.setdefault(operation.label, Counter())

    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        # No shrinking: each step is a request to a live, stateful service. The failure report
        # carries the request as a curl command.
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=cases_for(operation, mode, world))
    def run(case: AnyCase) -> None:
        response = case.call_and_validate(
            base_url=world.api.base_url,
            session=session,
            headers=world.headers(case, role),
            checks=CHECKS,
            timeout=30,
        )
        seen[response.status_code] += 1

    try:
        run()
    except (Exception, FailureGroup) as err:  # FailureGroup: the checks that failed
        world.failures.append(f"{operation.label} ({mode.value} data):\n{err}")


def takes_input(operation: Operation) -> bool:
    """Whether there is anything to send that could violate the schema."""
    parameters = (operation.path_parameters, operation.query, operation.headers, operation.body)
    return any(len(p) for p in parameters)


def run_schemathesis(world: World) -> int:
    """Every operation in the schema, with valid then invalid data; the number of requests."""
    schema = schemathesis.openapi.from_url(f"{world.api.base_url}/openapi.json", config=CONFIG)
    operations = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the schema itself must be usable
        operations[result.ok().label] = result.ok()
    assert set(operations) == set(ROLES), "list each operation's role in ROLES"
    sent = 0

    def count(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        nonlocal sent
        sent += 1

    with requests.Session() as session:
        session.hooks["response"].append(count)
        for label in ROLES:
            operation = operations[label]
            exercise(operation, GenerationMode.POSITIVE, world, session)
            if takes_input(operation):
                exercise(operation, GenerationMode.NEGATIVE, world, session)
    return sent


async def test_no_answer_contradicts_the_schema(api: Api) -> None:
    world = World(api, await open_cases(api), [api.seller()[0] for _ in range(2)])
    sent = await asyncio.to_thread(run_schemathesis, world)

    for label, seen in world.statuses.items():
        print(f"{label}: {dict(sorted(seen.items()))}")
    print(f"{sent} requests")
    assert not world.failures, "\n\n".join(world.failures)
    # Requests got past auth and the seller lookup: every handler had its say too.
    for label, seen in world.statuses.items():
        if label in SIGNED_BY_TWILIO:
            assert set(seen) == {403}, f"{label}: {dict(seen)}"  # none of it is Twilio's
            continue
        assert set(seen) - {401, 403, 404}, f"{label}: only {dict(seen)}"
    assert sent > 100
