"""Record case histories for the replay tests: `python -m tests.record_histories`.

Run it when a workflow change is meant to be compatible, commit the new files beside the
old ones, and keep the old ones: they are what running cases look like in production.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from aha.dev import temporal_binary
from aha.domain.models import CallReport, PlanSubmission, Resolution, Review
from aha.domain.policy import parse_policy
from tests.conftest import ALWAYS_CALLABLE, Cases, dev_server_args, running_cases
from tests.fault_harness import StoppableMail

HISTORIES = Path(__file__).parent / "histories"
PLAN = PlanSubmission(
    root_cause="A supplier sent goods that did not match the listings",
    corrective_actions=["Removed the listings"],
    preventive_measures=["Buy only from authorised distributors"],
)


async def plan_questioned_then_resolved(cases: Cases, seller: str) -> None:
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    await cases.service.submit_plan(seller, PLAN)
    await cases.service.review_plan(
        seller, Review(decision="request_info", questions=["Which supplier?"])
    )
    await cases.wait_for_call(seller, 2)
    await cases.service.report_call_outcome(seller, CallReport(attempt=2, outcome="answered"))
    await cases.service.review_plan(seller, Review(decision="accept"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")


async def never_reached_deactivated(cases: Cases, seller: str) -> None:
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="busy"))
    await cases.detect(seller, issue_type="review_policy_violation")
    await cases.run_to_end(seller)


async def invalid_number_fixed_contact_me_now(cases: Cases, seller: str) -> None:
    await cases.detect(seller, detected_at=datetime.now(UTC) - timedelta(hours=1))
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="invalid_number"))
    await cases.advance(seller, timedelta(hours=50))
    cases.store.upsert(
        seller,
        email=f"{seller}@sellers.example",
        phone="+13125550100",
        timezone="America/Chicago",
    )
    await cases.service.contact_changed(seller)
    await cases.wait_for_call(seller, 2)
    await cases.service.contact_me_now(seller)
    await cases.wait_for_call(seller, 3)
    await cases.service.report_call_outcome(seller, CallReport(attempt=3, outcome="answered"))
    await cases.service.resolve(seller, Resolution(issue_id="I1", note="fixed together"))
    await cases.wait_for(seller, lambda v: v.status == "resolved")


async def resolved_during_mail_outage(cases: Cases, seller: str) -> None:
    """The case closes while mail is down and hands its owed notices to CaseNotices."""
    mail = cases.mail
    assert isinstance(mail, StoppableMail)
    mail.stop()
    await cases.detect(seller)
    await cases.service.contact_me_now(seller)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    await cases.service.resolve(seller, Resolution(issue_id="I1", note="fixed together"))
    await cases.wait_for(seller, lambda v: v.closed)
    await cases.advance(seller, timedelta(seconds=10))
    view = await cases.wait_for(seller, lambda v: v.notices_courier is not None, timeout=30)
    mail.start()
    assert view.notices_courier is not None
    courier = cases.client.get_workflow_handle(view.notices_courier)
    await courier.result()


SCENARIOS: dict[str, Callable[[Cases, str], Awaitable[None]]] = {
    "plan_questioned_then_resolved": plan_questioned_then_resolved,
    "never_reached_deactivated": never_reached_deactivated,
    "invalid_number_fixed_contact_me_now": invalid_number_fixed_contact_me_now,
    "resolved_during_mail_outage": resolved_during_mail_outage,
}


async def main(tag: str) -> None:
    env = await WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=temporal_binary(),
        dev_server_extra_args=dev_server_args(),
        data_converter=pydantic_data_converter,
    )
    async with env:
        with tempfile.TemporaryDirectory() as tmp, StoppableMail() as catcher:
            mail = (Path(tmp), catcher.port)
            async with running_cases(env, Path(tmp), mail, parse_policy(ALWAYS_CALLABLE)) as cases:
                cases.mail = catcher
                for name, scenario in SCENARIOS.items():
                    seller = cases.new_seller()
                    await scenario(cases, seller)
                    handle = cases.client.get_workflow_handle(f"at-risk-case-{seller}")
                    write(f"{tag}-{name}", await handle.fetch_history())
                    view = await cases.view(seller)
                    if view.notices_courier:
                        courier = cases.client.get_workflow_handle(view.notices_courier)
                        write(f"{tag}-{name}-notices", await courier.fetch_history())


def write(name: str, history: WorkflowHistory) -> None:
    path = HISTORIES / f"{name}.json"
    path.write_text(json.dumps(json.loads(history.to_json()), indent=1))
    print(f"wrote {path} ({len(history.events)} events)")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "v1"))
