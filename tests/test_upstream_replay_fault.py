"""A history the pinned Temporal SDK cannot replay, kept to tell us when an upgrade fixes it.

The worker-kill fault test wrote it: a worker was killed while it held a case's workflow
task; the retried task carried both the dial's `call_placed` signal and a `contact_me_now`
update. Live, the worker handled the signal (cancelling the loop's timer, writing the board
row by local activity) before the update; on replay the SDK delivers the two together and
runs the update first, so the case's task fails with TMPRL1100 on every worker from then on.
No workflow code decides that order. README "Fault tests" gives the operator's remedy (a
reset to the task before). When this test fails, the SDK replays it: drop the remedy.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from workflows.case import CaseWorkflow
from workflows.notices import CaseNotices

HISTORY = Path(__file__).parent / "upstream" / "signal_then_update_after_worker_kill.json"


async def test_the_sdk_still_cannot_replay_a_signal_and_an_update_in_a_retried_task() -> None:
    history = WorkflowHistory.from_json("at-risk-case", json.loads(HISTORY.read_text()))
    replayer = Replayer(
        workflows=[CaseWorkflow, CaseNotices], data_converter=pydantic_data_converter
    )
    with pytest.raises(NondeterminismError, match="TimerCanceled"):
        await replayer.replay_workflow(history)
