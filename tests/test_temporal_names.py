"""The workflows, their handlers and the activities keep their public Temporal names, and the
adapter calls them by those names; nothing below the workflows needs to import them: the HTTP
app and the service load neither the workflows, nor the activities, nor smtplib.

The names are spelled out here, not read from one side: running cases, histories and any
client outside this code know them by these strings, so renaming one on both the workflow
and the gateway side still breaks them, and must fail here.
"""

from __future__ import annotations

import subprocess
import sys
import zoneinfo
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity, workflow

import worker
from aha.adapters.temporal import names
from aha.config import Settings
from aha.policy_file import load_policy
from aha.ports import CaseUpdate
from workflows.appeal import AppealWorkflow
from workflows.case import CaseWorkflow
from workflows.enrollment import EnrollmentSweep
from workflows.notices import CaseNotices

CASE_UPDATES = {
    "extend_deadline",
    "detect",
    "contact_me_now",
    "report_call_outcome",
    "submit_plan",
    "review_plan",
    "resolve_issue",
    "claim_case",
    "release_case",
    "assign_case",
    "schedule_callback",
    "cancel_callback",
}
CASE_SIGNALS = {"contact_changed", "call_placed"}
APPEAL_UPDATES = {"submit_appeal", "review_appeal"}
ACTIVITIES = {
    "current_policy",
    "seller_profile",
    "deactivate_account",
    "seal_case",
    "reactivate_account",
    "send_email",
    "deliver_email",
    "place_call",
    "dial",
    "evaluate_page",
    "plan_pages",
    "record_case_row",
    "alert_staff",
}


def _definition(cls: type) -> workflow._Definition:
    defn = workflow._Definition.from_class(cls)
    assert defn is not None, f"{cls.__name__} is not a workflow definition"
    return defn


@pytest.mark.parametrize(
    ("cls", "name", "updates", "signals", "queries"),
    [
        (CaseWorkflow, "CaseWorkflow", CASE_UPDATES, CASE_SIGNALS, {"get_case"}),
        (CaseNotices, "CaseNotices", set(), set(), {"get_notices"}),
        (EnrollmentSweep, "EnrollmentSweep", set(), set(), set()),
        (AppealWorkflow, "AppealWorkflow", APPEAL_UPDATES, set(), {"get_appeal"}),
    ],
    ids=["CaseWorkflow", "CaseNotices", "EnrollmentSweep", "AppealWorkflow"],
)
def test_each_workflow_answers_to_its_public_names(
    cls: type, name: str, updates: set[str], signals: set[str], queries: set[str]
) -> None:
    defn = _definition(cls)
    assert defn.name == name
    assert set(defn.updates) == updates
    assert set(defn.signals) == signals
    assert set(defn.queries) == queries


def test_the_gateway_calls_the_public_names() -> None:
    assert names.CASE_WORKFLOW == "CaseWorkflow"
    assert names.NOTICES_WORKFLOW == "CaseNotices"
    assert names.ENROLLMENT_SWEEP == "EnrollmentSweep"
    assert names.DETECT == "detect"
    assert names.REPORT_CALL_OUTCOME == "report_call_outcome"
    assert {names.DETECT, *(u.value for u in CaseUpdate)} == CASE_UPDATES | APPEAL_UPDATES
    assert names.APPEAL_WORKFLOW == "AppealWorkflow"
    assert {names.SUBMIT_APPEAL, names.REVIEW_APPEAL} == APPEAL_UPDATES
    assert names.GET_APPEAL == "get_appeal"
    assert names.CONTACT_CHANGED == "contact_changed"
    assert names.CALL_PLACED == "call_placed"
    assert names.GET_CASE == "get_case"
    assert names.GET_NOTICES == "get_notices"


@pytest.fixture
def host_tzpath() -> Iterator[None]:
    """build_worker pins the process to the tzdata package's zones: put the host's back."""
    before = zoneinfo.TZPATH
    yield
    zoneinfo.reset_tzpath(to=before)
    zoneinfo.ZoneInfo.clear_cache()


def test_the_worker_registers_the_public_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, host_tzpath: None
) -> None:
    registered: dict[str, Any] = {}

    def capture(client: object, **options: Any) -> object:
        registered.update(options)
        return object()

    monkeypatch.setattr(worker, "Worker", capture)
    settings = replace(Settings(), db_path=str(tmp_path / "aha.db"), dialer="manual")
    worker.build_worker(object(), settings, load_policy(None))  # type: ignore[arg-type]

    workflows = {_definition(cls).name for cls in registered["workflows"]}
    assert workflows == {"CaseWorkflow", "CaseNotices", "EnrollmentSweep", "AppealWorkflow"}
    activities = [activity._Definition.must_from_callable(fn) for fn in registered["activities"]]
    assert sorted(a.name for a in activities) == sorted(ACTIVITIES)


HEAVY = ("workflows", "activities", "worker", "smtplib")


@pytest.mark.parametrize("module", ["api.app", "aha.service"])
def test_importing_stays_light(module: str) -> None:
    # A fresh interpreter: this one has loaded the workflows already.
    probe = (
        f"import sys, {module}\n"
        f"heavy = {HEAVY!r}\n"
        "print('\\n'.join(sorted(n for n in sys.modules if n.split('.')[0] in heavy)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == [], f"importing {module} loads {', '.join(loaded)}"
