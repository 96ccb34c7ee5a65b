"""Every committed history must replay on today's workflow code: a non-deterministic change
fails here, not in production where cases run for days."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.case import CaseWorkflow
from workflows.notices import CaseNotices

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_committed() -> None:
    assert len(HISTORIES) >= 3


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    data = json.loads(path.read_text())
    started = data["events"][0]["workflowExecutionStartedEventAttributes"]
    workflow_id = started.get("workflowId") or path.stem
    replayer = Replayer(
        workflows=[CaseWorkflow, CaseNotices], data_converter=pydantic_data_converter
    )
    await replayer.replay_workflow(WorkflowHistory.from_json(workflow_id, data))
