"""SIGTERM to a worker with activities in flight: it stops polling, lets them finish within
AHA_WORKER_SHUTDOWN_GRACE, and exits 0. Its emails go out once, without waiting for any
activity timeout, and another worker carries the cases on."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fault_cases import check_cases, detect, drive, explain, fault_stack, settle

pytestmark = pytest.mark.faults

MAIL_DELAY = 3.0  # each email holds its activity this long: in flight when SIGTERM lands


async def test_sigterm_lets_activities_in_flight_finish_then_exits_0(tmp_path: Path) -> None:
    async with fault_stack(
        tmp_path,
        deadline="60s",
        reminder="20s",
        workers=1,
        worker_env={"AHA_WORKER_SHUTDOWN_GRACE": "20s"},
    ) as stack:
        worker = stack.workers[0]
        stack.mail.slow_down(MAIL_DELAY)
        sellers = [stack.new_seller("contact_me_now") for _ in range(6)]
        await asyncio.gather(*(detect(stack, s) for s in sellers))
        while len(stack.mail.data_started) < len(sellers):  # every opening email is sending
            await asyncio.sleep(0.05)
        signalled = datetime.now(UTC)
        started = time.monotonic()
        code = await asyncio.to_thread(worker.terminate, 40.0)
        stopped = datetime.now(UTC)
        took = time.monotonic() - started
        assert code == 0, f"the worker exited {code}"
        assert took < 20, f"the worker took {took:.1f}s to stop"
        in_flight = [m for m in stack.mail.messages() if m.received_at > signalled]
        assert len(in_flight) == len(sellers), "the emails in flight were not let finish"
        assert "worker stopping" in worker.log_path.read_text()

        # The next worker (a deploy's new version) finishes the cases.
        stack.mail.slow_down(0)
        worker.start()
        await asyncio.to_thread(worker.wait_ready)
        await asyncio.gather(
            *(drive(stack, s, "contact_me_now", time.monotonic() + 60) for s in sellers)
        )
        views = await settle(stack, sellers, timeout=60.0)
        found = check_cases(
            stack, [("contact_me_now", views[s]) for s in sellers], timedelta(seconds=5)
        )
        assert not found.problems, explain(stack, found)
        db = sqlite3.connect(stack.store.path)
        for view in views.values():
            opened = next(n for n in view.notices if n.kind == "issue_opened")
            claims, sent_at = db.execute(
                "SELECT claims, sent_at FROM deliveries WHERE key = ?", (opened.key,)
            ).fetchone()
            # Sent by the stopping worker in one claim: no timeout, no retry, no second try.
            assert claims == 1 and datetime.fromisoformat(sent_at) < stopped
