"""Every path a case can take, on a real server with time skipping, through the service."""

from __future__ import annotations

from datetime import timedelta

from aha.models import CallReport, Resolution
from tests.conftest import Cases


async def test_answered_call_then_direct_resolution(cases: Cases) -> None:
    seller = cases.new_seller()
    receipt = await cases.detect(seller)
    assert receipt.created and receipt.case_id == f"at-risk-case-{seller}"

    view = await cases.wait_for(
        seller, lambda v: bool(v.call_attempts and v.call_attempts[0].placed_at)
    )
    assert view.status == "awaiting_contact"
    assert view.call_attempts[0].guidance, "the specialist's call task carries the guidance"

    [opened] = await cases.wait_for_emails(seller, 1)
    body = opened.get_content()
    assert opened["X-Aha-Kind"] == "issue_opened"
    assert "Contact me now" in body and "plan of action" in body
    assert "EST" in body or "EDT" in body, "deadline shown in the seller's local time"

    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    view = await cases.view(seller)
    assert view.status == "engaged" and view.next_call_at is None

    await cases.service.resolve(seller, Resolution(issue_id="I1", note="listings fixed"))
    view = await cases.wait_for(seller, lambda v: v.status == "resolved")
    assert view.issues[0].resolution == "listings fixed"
    emails = await cases.wait_for_emails(seller, 2)
    assert emails[-1]["X-Aha-Kind"] == "resolved"
    assert len(view.call_attempts) == 1


async def test_never_reached_is_deactivated_at_the_deadline(cases: Cases) -> None:
    seller = cases.new_seller()
    await cases.detect(seller)
    view = await cases.run_to_end(seller)
    assert view.status == "deactivated"
    deadline = view.issues[0].deadline
    deactivated = next(e for e in view.timeline if e.kind == "account_deactivated")
    assert deadline <= deactivated.at < deadline + timedelta(seconds=5)
    assert cases.store.get(seller).account_status == "deactivated"
    kinds = [m["X-Aha-Kind"] for m in cases.emails(seller)]
    assert kinds[0] == "issue_opened" and kinds[-1] == "deactivated"
    assert kinds.count("reminder") == 2
