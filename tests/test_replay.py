"""Every committed history must replay on today's workflow code: a non-deterministic change
fails here, not in production where cases run for days. Versions of the case with one command
added, removed or changed must fail, or replay is not comparing anything."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.replay_mutants import PublishesNothing, SealsWithAnotherActivity, WaitsBeforeStarting
from workflows.case import CaseWorkflow
from workflows.notices import CaseNotices

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def history(path: Path) -> WorkflowHistory:
    data = load(path)
    started = data["events"][0]["workflowExecutionStartedEventAttributes"]
    return WorkflowHistory.from_json(started.get("workflowId") or path.stem, data)


def events(path: Path, kind: str) -> list[dict[str, Any]]:
    """The attributes of each event of one kind, such as "TIMER_STARTED", in order."""
    key = "".join(w.capitalize() for w in kind.split("_"))
    key = key[0].lower() + key[1:] + "EventAttributes"
    return [e[key] for e in load(path)["events"] if e["eventType"] == f"EVENT_TYPE_{kind}"]


def workflow_type(path: Path) -> str:
    name: str = events(path, "WORKFLOW_EXECUTION_STARTED")[0]["workflowType"]["name"]
    return name


CASE_HISTORIES = [p for p in HISTORIES if workflow_type(p) == "CaseWorkflow"]
SEALING_HISTORIES = [
    p
    for p in CASE_HISTORIES
    if any(e["activityType"]["name"] == "seal_case" for e in events(p, "ACTIVITY_TASK_SCHEDULED"))
]


def ids(paths: Sequence[Path]) -> list[str]:
    return [p.stem for p in paths]


def test_histories_are_committed() -> None:
    assert len(HISTORIES) >= 3


@pytest.mark.parametrize("path", HISTORIES, ids=ids(HISTORIES))
async def test_history_replays(path: Path) -> None:
    replayer = Replayer(
        workflows=[CaseWorkflow, CaseNotices], data_converter=pydantic_data_converter
    )
    await replayer.replay_workflow(history(path))


# ---- a non-deterministic change must fail ---------------------------------------------------


def test_some_histories_seal_their_case() -> None:
    assert len(SEALING_HISTORIES) >= 3


@pytest.mark.parametrize(
    ("mutant", "path"),
    [(m, p) for m in (WaitsBeforeStarting, PublishesNothing) for p in CASE_HISTORIES]
    + [(SealsWithAnotherActivity, p) for p in SEALING_HISTORIES],
    ids=lambda value: value.__name__ if isinstance(value, type) else value.stem,
)
async def test_a_nondeterministic_change_fails_replay(mutant: type, path: Path) -> None:
    replayer = Replayer(workflows=[mutant, CaseNotices], data_converter=pydantic_data_converter)
    with pytest.raises(NondeterminismError, match=r"\[TMPRL1100\] Nondeterminism error"):
        await replayer.replay_workflow(history(path))
