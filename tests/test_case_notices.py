"""A case's emails as notices: each listed with its fate, delivered in order, the pointless
ones dropped with the reason, and those still owed at the end handed to CaseNotices.

The second test points the worker at a mail port where nothing listens, so every email
fails and is retried, as in an outage (the fault tests do the same with real outages).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from aha.dev import free_port
from aha.domain.models import CallReport, Resolution
from aha.domain.policy import parse_policy
from tests.conftest import ALWAYS_CALLABLE, Cases, running_cases


async def test_each_email_is_a_notice_with_its_fate_in_the_order_decided(cases: Cases) -> None:
    seller = cases.new_seller()
    await cases.detect(seller)
    await cases.service.contact_me_now(seller)
    await cases.service.resolve(seller, Resolution(issue_id="I1", note="fixed together"))
    view = await cases.wait_for(
        seller, lambda v: v.closed and all(n.state == "sent" for n in v.notices)
    )
    assert [(n.kind, n.state) for n in view.notices] == [
        ("issue_opened", "sent"),
        ("resolved", "sent"),
    ]
    assert all(n.settled_at and n.settled_at >= n.queued_at for n in view.notices)
    kinds = [m["X-Aha-Kind"] for m in await cases.wait_for_emails(seller, 2)]
    assert kinds == ["issue_opened", "resolved"]
    assert view.notices_courier is None, "nothing was owed at the end"
    sealed = cases.store.deliveries.is_sealed(f"{view.case_id}/{view.run_id}")
    assert sealed, "closing sealed the run"


async def test_an_outage_drops_the_pointless_and_hands_over_the_rest(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    nothing_listens = (tmp_path, free_port())
    async with running_cases(env, tmp_path, nothing_listens, parse_policy(ALWAYS_CALLABLE)) as c:
        seller = c.new_seller()
        await c.detect(seller)
        await c.wait_for_call(seller, 1)
        await c.service.report_call_outcome(seller, CallReport(attempt=1, outcome="invalid_number"))
        view = await c.wait_for(seller, lambda v: len(v.notices) == 2)
        assert [(n.kind, n.state) for n in view.notices] == [
            ("issue_opened", "pending"),
            ("invalid_number", "pending"),
        ], "the second waits behind the first, which the outage holds up"

        c.store.upsert(
            seller, email=f"{seller}@sellers.example", phone="+13125550100", timezone="UTC"
        )
        await c.service.contact_changed(seller)
        await c.wait_for_call(seller, 2)
        await c.service.report_call_outcome(seller, CallReport(attempt=2, outcome="answered"))
        await c.service.resolve(seller, Resolution(issue_id="I1", note="fixed on the phone"))
        await c.wait_for(seller, lambda v: v.closed)
        await c.advance(seller, timedelta(seconds=10))
        view = await c.wait_for(seller, lambda v: v.notices_courier is not None)

        states = [(n.kind, n.state) for n in view.notices]
        assert states == [
            ("issue_opened", "pending"),
            ("invalid_number", "dropped"),
            ("resolved", "pending"),
        ]
        dropped = [e for e in view.timeline if e.kind == "email_dropped"]
        assert len(dropped) == 1 and "case closed" in dropped[0].detail
        handed = [e for e in view.timeline if e.kind == "notices_handed_over"]
        assert handed and "2 email(s)" in handed[0].detail

        courier = c.client.get_workflow_handle(view.notices_courier)
        description = await courier.describe()
        assert description.status == WorkflowExecutionStatus.RUNNING
        case = await c.client.get_workflow_handle(view.case_id).describe()
        assert case.status == WorkflowExecutionStatus.COMPLETED, "the case did not wait"
        await courier.terminate("test over: no mail server will ever answer")
