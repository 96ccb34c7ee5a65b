"""A timed-out wait names a missing worker only when no worker polls the task queue."""

from __future__ import annotations

import asyncio
import uuid

from aha.adapters.temporal.gateway import TemporalCases
from aha.service import CaseService
from tests.conftest import Cases


async def test_a_wait_blames_no_worker_while_one_polls(cases: Cases) -> None:
    address = cases.client.service_client.config.target_host
    for _ in range(50):  # the fixture's worker has just started: wait for its first poll
        message = await cases.service.explain_wait(30, address)
        if "although" in message:
            break
        await asyncio.sleep(0.1)
    assert "although 1 worker(s) poll" in message
    assert "is a worker running" not in message


async def test_a_wait_asks_for_a_worker_when_none_polls(cases: Cases) -> None:
    address = cases.client.service_client.config.target_host
    nobody = CaseService(TemporalCases(cases.client), cases.store, f"nobody-polls-{uuid.uuid4()}")
    message = await nobody.explain_wait(30, address)
    assert message.startswith("no answer within 30s: is a worker running on task queue")
