"""The mail server goes away for longer than a whole case lasts, with deadlines inside.

Before the outage ends, cases open, resolve and are deactivated; reminders fall due. Once
mail is back, every notice that carries consequences arrives exactly once and in the order
its case decided it, reminders made pointless by the case's end are dropped (and say so),
and the deactivations happened on time, mail or no mail. A seller whose case closed during
the outage gets a new case at once. Another test shows the policy's notice_give_up.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import pytest

from aha.domain.models import CaseView, Resolution
from tests.fault_cases import (
    FaultStack,
    Kind,
    check_cases,
    detect,
    drive,
    explain,
    fault_stack,
    run_cases,
    settle,
)

pytestmark = pytest.mark.faults

OUTAGE = 60.0  # twice the compressed deadline


async def _closed_then_detected_again(stack: FaultStack) -> tuple[str, str, float]:
    """A case resolved while mail is down, and at once a new detection for its seller."""
    seller_id = stack.new_seller("again")
    await detect(stack, seller_id)
    await stack.service.contact_me_now(seller_id)
    await stack.service.resolve(seller_id, Resolution(issue_id="I1", note="fixed on the phone"))
    view = await stack.service.status(seller_id)
    for _ in range(50):  # the case closes in its loop, a moment after the last resolution
        if view.closed:
            break
        await asyncio.sleep(0.1)
        view = await stack.service.status(seller_id)
    assert view.closed and view.run_id is not None
    started = time.monotonic()
    await detect(stack, seller_id)
    waited = time.monotonic() - started
    await drive(stack, seller_id, "contact_me_now", time.monotonic() + 60)
    return seller_id, view.run_id, waited


async def test_a_long_mail_outage_loses_nothing_and_keeps_order(tmp_path: Path) -> None:
    async with fault_stack(tmp_path, deadline="30s", reminder="15s") as stack:

        async def outage() -> None:
            await asyncio.sleep(3.0)
            stack.mail.stop()
            await asyncio.sleep(OUTAGE)
            stack.mail.start()

        cutting = asyncio.create_task(outage())
        cases = asyncio.create_task(run_cases(stack, per_kind=5, spread=6.0, timeout=120.0))
        try:
            await asyncio.sleep(4.0)
            assert not stack.mail.running
            # Sellers whose case closed while mail was down: each gets its next case at once.
            again = await asyncio.gather(*(_closed_then_detected_again(stack) for _ in range(2)))
            for _, _, waited in again:
                # The closed case waits 5 s for its mail before it hands it over; held for the
                # outage, it would wait OUTAGE. Under the whole suite's load the handover's
                # workflow tasks take their time (19 s seen in CI), far short of that.
                assert waited < OUTAGE / 2, f"the next case waited {waited:.1f}s for the old mail"
            kinds = await cases
            assert not stack.mail.running, "the cases outlived the outage: it proves nothing"
            await cutting
        finally:
            for task in (cutting, cases):
                task.cancel()
        sellers = list(kinds) + [seller_id for seller_id, _, _ in again]
        views = await settle(stack, sellers, timeout=180.0)
        runs: list[tuple[Kind, CaseView]] = [(kind, views[s]) for s, kind in kinds.items()]
        for seller_id, run_id, _ in again:
            runs.append(("contact_me_now", views[seller_id]))
            runs.append(("contact_me_now", await stack.service.closed_run(seller_id, run_id)))
        found = check_cases(stack, runs, late_by=timedelta(seconds=10))
        print("mail outage:", OUTAGE, "s", found.summary())
        assert not found.problems, explain(stack, found)
        handed_over = [v for _, v in runs if v.notices_courier]
        assert handed_over, "no closed case had to hand its notices over: no outage was seen"
        assert found.dropped >= 1, "the never-reached cases' reminders fell due in the outage"
        for _, view in runs:
            for notice in view.notices:
                if notice.state == "dropped":
                    assert notice.kind == "reminder"
                    assert any(e.kind == "email_dropped" for e in view.timeline)


async def test_a_notice_is_given_up_only_after_notice_give_up(tmp_path: Path) -> None:
    async with fault_stack(tmp_path, deadline="60s", reminder="20s", give_up="6s") as stack:
        stack.mail.stop()
        seller_id = stack.new_seller("contact_me_now")
        await detect(stack, seller_id)
        await asyncio.sleep(2)
        view = await stack.service.status(seller_id)
        assert [(n.kind, n.state) for n in view.notices] == [("issue_opened", "pending")]
        await asyncio.sleep(12)
        view = await stack.service.status(seller_id)
        assert [(n.kind, n.state) for n in view.notices] == [("issue_opened", "failed")]
        failed = [e for e in view.timeline if e.kind == "email_failed"]
        assert failed and "issue opened" in failed[0].detail
        stack.mail.start()
        await stack.service.contact_me_now(seller_id)
        await stack.service.resolve(seller_id, Resolution(issue_id="I1", note="fixed"))
        view = (await settle(stack, [seller_id], timeout=30))[seller_id]
        assert [(n.kind, n.state) for n in view.notices] == [
            ("issue_opened", "failed"),
            ("resolved", "sent"),
        ]
        assert [m.kind for m in stack.mail.for_seller(seller_id)] == ["resolved"]
