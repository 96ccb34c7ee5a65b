"""The names the Temporal adapter calls the workflows by are the ones they answer to, and
nothing below the workflows needs to import them: the HTTP app and the service load neither
the workflows, nor the activities, nor smtplib."""

from __future__ import annotations

import subprocess
import sys

import pytest
from temporalio import workflow

from aha.adapters.temporal import names
from aha.ports import CaseUpdate
from workflows.case import CaseWorkflow
from workflows.enrollment import EnrollmentSweep
from workflows.notices import CaseNotices


def _definition(cls: type) -> workflow._Definition:
    return workflow._Definition.must_from_class(cls)


def test_the_case_answers_to_every_name_the_gateway_uses() -> None:
    case = _definition(CaseWorkflow)
    assert case.name == names.CASE_WORKFLOW
    assert {names.DETECT, *(u.value for u in CaseUpdate)} <= set(case.updates)
    assert names.REPORT_CALL_OUTCOME in case.updates
    assert {names.CONTACT_CHANGED, names.CALL_PLACED} <= set(case.signals)
    assert names.GET_CASE in case.queries


def test_the_other_workflows_answer_to_their_names() -> None:
    assert _definition(EnrollmentSweep).name == names.ENROLLMENT_SWEEP
    notices = _definition(CaseNotices)
    assert notices.name == names.NOTICES_WORKFLOW
    assert names.GET_NOTICES in notices.queries


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
