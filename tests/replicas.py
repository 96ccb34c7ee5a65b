"""Several `aha api` processes as subprocesses, and the actors' view of a case through them.

`HttpCases` has the methods of `CaseService` that the fault actors use (tests/fault_cases.py),
each one an HTTP request with the token of the role that may make it, sent to the next API
process in turn: every actor's detections and actions are spread over all of them.
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from aha.dev import free_port
from aha.domain.models import (
    CallAttempt,
    CallReport,
    CaseView,
    ContactReceipt,
    DetectionEvent,
    DetectionReceipt,
    Issue,
    Plan,
    PlanSubmission,
    Resolution,
    Review,
)
from tests.fault_harness import _kill_group, _spawn, aha_command, tail

SERVICE_ROLES = ("detector", "telephony", "specialist")


class TokensFile:
    """A real tokens file: one token per service role, and one per seller added."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.roles = {role: f"{role}-{uuid.uuid4().hex}" for role in SERVICE_ROLES}
        self.sellers: dict[str, str] = {}
        self.path.write_text("".join(self._entry(r, t) for r, t in self.roles.items()))

    @staticmethod
    def _entry(role: str, token: str) -> str:
        return f'[[token]]\nrole = "{role}"\nname = "{role}"\ntoken = "{token}"\n\n'

    def add_seller(self, seller_id: str) -> None:
        token = f"seller-{uuid.uuid4().hex}"
        self.sellers[seller_id] = token
        with self.path.open("a", encoding="utf-8") as file:
            file.write(self._entry(f"seller:{seller_id}", token))


class ApiProcess:
    """`aha api` on a free port, in its own session; its log is `<directory>/api-<n>.log`."""

    def __init__(self, directory: Path, env: Mapping[str, str], n: int) -> None:
        self.port = free_port()
        self.n = n
        self.log_path = directory / f"api-{n}.log"
        self.log_path.touch()
        # As the workers get theirs: none of this process's AHA_* or TEMPORAL_* settings.
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AHA_", "TEMPORAL_"))
        } | dict(env)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._process: Any = None

    def start(self) -> None:
        command = [*aha_command(), "api", "--host", "127.0.0.1", "--port", str(self.port)]
        self._process = _spawn(command, self.log_path, self.env)

    def wait_ready(self, timeout: float = 30.0) -> None:
        give_up_at = time.monotonic() + timeout
        while time.monotonic() < give_up_at:
            if self._process.poll() is not None:
                raise AssertionError(f"api {self.n} exited:\n{tail(self.log_path)}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(
            f"api {self.n} was not ready in {timeout:.0f}s:\n{tail(self.log_path)}"
        )

    def kill(self) -> None:
        if self._process is not None:
            _kill_group(self._process)


class RefusedOrFailed(Exception):
    """The API answered with an error: the actor looks at the case again."""


class HttpCases:
    """The fault actors' `CaseService`, over HTTP, round-robin across the API processes."""

    def __init__(self, base_urls: list[str], tokens: TokensFile, timeout: float = 20.0) -> None:
        self.tokens = tokens
        self._clients = [httpx.AsyncClient(base_url=url, timeout=timeout) for url in base_urls]
        self._next = itertools.cycle(range(len(base_urls)))
        self.requests: Counter[str] = Counter()  # base URL -> requests answered 2xx

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def _call(self, method: str, path: str, token: str, body: Any = None) -> Any:
        client = self._clients[next(self._next)]
        response = await client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code >= 300:
            raise RefusedOrFailed(f"{method} {path}: {response.status_code} {response.text[:200]}")
        self.requests[str(client.base_url)] += 1
        return response.json()

    def _seller(self, seller_id: str) -> str:
        return self.tokens.sellers[seller_id]

    async def detect(self, event: DetectionEvent) -> DetectionReceipt:
        body = event.model_dump(mode="json", exclude={"reported_by", "label", "guidance"})
        answer = await self._call("POST", "/v1/detections", self.tokens.roles["detector"], body)
        return DetectionReceipt(
            case_id=answer["case_id"],
            created=answer["created"],
            issue_id=answer["issue_id"],
            duplicate=False,
        )

    async def status(self, seller_id: str) -> CaseView:
        path = f"/v1/sellers/{seller_id}/case"
        return CaseView.model_validate(
            await self._call("GET", path, self.tokens.roles["specialist"])
        )

    async def contact_me_now(self, seller_id: str) -> ContactReceipt:
        path = f"/v1/sellers/{seller_id}/case/contact-me-now"
        return ContactReceipt.model_validate(
            await self._call("POST", path, self._seller(seller_id))
        )

    async def report_call_outcome(self, seller_id: str, report: CallReport) -> CallAttempt:
        path = f"/v1/sellers/{seller_id}/case/calls/{report.attempt}/outcome"
        body = {"outcome": report.outcome}
        return CallAttempt.model_validate(
            await self._call("POST", path, self.tokens.roles["telephony"], body)
        )

    async def submit_plan(self, seller_id: str, plan: PlanSubmission) -> Plan:
        body = plan.model_dump(mode="json", exclude={"submitted_by"})
        path = f"/v1/sellers/{seller_id}/case/plan"
        return Plan.model_validate(await self._call("POST", path, self._seller(seller_id), body))

    async def review_plan(self, seller_id: str, review: Review) -> Plan:
        body = {"decision": review.decision, "questions": review.questions}
        path = f"/v1/sellers/{seller_id}/case/review"
        return Plan.model_validate(
            await self._call("POST", path, self.tokens.roles["specialist"], body)
        )

    async def resolve(self, seller_id: str, resolution: Resolution) -> Issue:
        path = f"/v1/sellers/{seller_id}/case/issues/{resolution.issue_id}/resolve"
        body = {"note": resolution.note}
        return Issue.model_validate(
            await self._call("POST", path, self.tokens.roles["specialist"], body)
        )
