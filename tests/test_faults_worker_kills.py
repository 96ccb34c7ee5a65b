"""64 cases of every kind through twenty `kill -9`s of the `aha worker` processes.

Real processes only: a dev server on a persisted database, two `aha worker` subprocesses
sharing one SQLite directory and ledger, a real SMTP server. One worker is killed and
restarted every few seconds while cases open, move and close.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.fault_cases import (
    check_cases,
    every,
    explain,
    fault_stack,
    run_cases,
    settle,
    worker_killer,
)

pytestmark = pytest.mark.faults


async def test_every_case_ends_right_through_repeated_worker_kills(tmp_path: Path) -> None:
    # 90 s: a case that needs two answered calls can meet two lost dials (20 s each) and two
    # sticky-queue waits (10 s each) and still be resolved in time. The kills go on past the
    # first deadlines.
    async with fault_stack(tmp_path, deadline="90s", reminder="25s") as stack:
        async with every(5.0, worker_killer(stack), times=20) as kills:
            kinds = await run_cases(stack, per_kind=16, spread=20.0, timeout=240.0)
        views = await settle(stack, kinds, timeout=180.0)
        found = check_cases(
            # A deadline due on a worker just killed waits the sticky queue's 10 s, and may
            # meet a second kill: two waits, and the seconds a restarted worker takes to poll
            # again. Never early, and never later than this.
            stack,
            [(kind, views[s]) for s, kind in kinds.items()],
            timedelta(seconds=25),
            # A dial whose worker died before its result reached the case is shown when the
            # retry's result does: the 20 s dial timeout, then the sticky queue's 10 s if the
            # case's worker was killed too; a retry can meet a second kill.
            placement_lag_limit=2 * (20 + 10) + 5,
        )
        print("worker kills:", len(kills), found.summary())
        assert len(kills) >= 10
        assert not found.problems, explain(stack, found)
        assert found.emails >= 2 * len(kinds)
