"""`kill -9` of the Temporal server mid-flight, and a restart on the same database.

Cases are opening, being called and reaching their deadlines when the server dies; it stays
down for a few seconds, comes back on its persisted SQLite file, and the same two workers
carry on. Nothing may be lost, repeated or done after a case's end.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from tests.fault_cases import check_cases, explain, fault_stack, run_cases, settle

pytestmark = pytest.mark.faults

DOWN = 5.0


async def test_cases_survive_a_killed_and_restarted_temporal_server(tmp_path: Path) -> None:
    async with fault_stack(tmp_path, deadline="25s", reminder="12s") as stack:

        async def crash() -> None:
            # Into the window where the never-reached cases' deadlines fall due.
            await asyncio.sleep(22.0)
            stack.server.kill()
            await asyncio.sleep(DOWN)
            await stack.server.restart()

        crashing = asyncio.create_task(crash())
        try:
            kinds = await run_cases(stack, per_kind=6, spread=8.0, timeout=150.0)
            await crashing
        finally:
            crashing.cancel()
        views = await settle(stack, kinds, timeout=120.0)
        # A deadline that fell while the server was down is kept as soon as it is back;
        # a worker that lived through the outage takes a few seconds more to poll again.
        found = check_cases(
            stack,
            [(kind, views[s]) for s, kind in kinds.items()],
            late_by=timedelta(seconds=DOWN + 20),
        )
        print("server down:", DOWN, "s", found.summary())
        assert not found.problems, explain(stack, found)
        assert any(late > 1.0 for late in found.lateness), "no deadline fell in the outage"
