"""Deadline extensions and the "contact" mode in a real case workflow under time skipping: the
deadline the case keeps, its search attribute, its reminders and the seller's emails."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aha import search_attributes as sa
from aha.domain.models import CallReport, Extension, Resolution
from aha.service import case_id_for
from tests.conftest import ALWAYS_CALLABLE, Cases

EXTENDING = 'max_extension = "72h"\n' + ALWAYS_CALLABLE
CONTACT = (
    'deadline_applies_to = "contact"\nresolution_window = "4d"\nengagement_timeout = "72h"\n'
    + ALWAYS_CALLABLE
)
H = timedelta(hours=1)


def kinds(cases: Cases, seller: str) -> list[str]:
    return [str(m["X-Aha-Kind"]) for m in cases.emails(seller)]


async def deadline_attribute(cases: Cases, seller: str) -> Any:
    described = await cases.client.get_workflow_handle(case_id_for(seller)).describe()
    return described.typed_search_attributes.get(sa.DEACTIVATION_DEADLINE)


async def reach(cases: Cases, seller: str, attempt: int = 1) -> None:
    await cases.wait_for_call(seller, attempt)
    await cases.service.report_call_outcome(seller, CallReport(attempt=attempt, outcome="answered"))


async def test_an_extension_moves_the_deactivation_the_reminders_and_the_search_attribute(
    cases_with: Callable[[str], Any],
) -> None:
    async with cases_with(EXTENDING) as cases:
        seller = cases.new_seller()
        await cases.detect(seller)
        await reach(cases, seller)
        view = await cases.view(seller)
        original = view.issues[0].deadline
        until = original + 24 * H

        issue = await cases.service.extend(
            seller,
            Extension(
                issue_id="I1", until=until, reason="seller at a trade fair", extended_by="lee"
            ),
        )
        assert issue.deadline == until and issue.original_deadline == original
        assert [(x.by, x.reason) for x in issue.extensions] == [("lee", "seller at a trade fair")]
        view = await cases.wait_for(seller, lambda v: v.deadline == until)
        assert any(e.kind == "deadline_extended" for e in view.timeline)
        assert await deadline_attribute(cases, seller) == until

        mails = await cases.wait_for_emails(seller, 2)
        assert [m["X-Aha-Kind"] for m in mails] == ["issue_opened", "deadline_extended"]
        assert "New deadline:" in mails[1].get_content()

        # Past the original 24-hour reminder's moment: it is not sent for a moved deadline.
        await cases.advance(seller, 49 * H)
        assert kinds(cases, seller) == ["issue_opened", "deadline_extended"]
        # Past the original deadline: still open.
        await cases.advance(seller, 24 * H)
        view = await cases.view(seller)
        assert view.status == "engaged"
        emails = await cases.wait_for_emails(seller, 3)
        assert [m["X-Aha-Kind"] for m in emails][-1] == "reminder"

        view = await cases.run_to_end(seller)
        assert view.status == "deactivated" and view.closure_reason == "deadline_passed"
        deactivated = next(e for e in view.timeline if e.kind == "account_deactivated")
        assert until <= deactivated.at < until + timedelta(seconds=5)
        emails = await cases.wait_for_emails(seller, 5)
        assert [m["X-Aha-Kind"] for m in emails] == [
            "issue_opened",
            "deadline_extended",
            "reminder",
            "reminder",
            "deactivated",
        ]


async def test_contact_mode_reached_is_not_deactivated_at_72h_but_when_the_window_passes(
    cases_with: Callable[[str], Any],
) -> None:
    async with cases_with(CONTACT) as cases:
        seller = cases.new_seller()
        await cases.detect(seller)
        await reach(cases, seller)
        view = await cases.wait_for(seller, lambda v: v.deadline_lifted_at is not None)
        window_end = view.deadline_lifted_at + 4 * 24 * H
        assert view.deadline == window_end
        assert await deadline_attribute(cases, seller) == window_end
        mails = await cases.wait_for_emails(seller, 2)
        assert [m["X-Aha-Kind"] for m in mails] == ["issue_opened", "deadline_lifted"]
        assert "will not be deactivated as long as" in mails[1].get_content()

        # The seller keeps in touch (contact me now, answered) before 72 hours of silence.
        await cases.advance(seller, 60 * H)
        await cases.service.contact_me_now(seller)
        await reach(cases, seller, 2)
        await cases.advance(seller, 13 * H)
        view = await cases.view(seller)
        assert view.status == "engaged", "no deactivation at the 72-hour mark"

        view = await cases.run_to_end(seller)
        assert view.status == "deactivated"
        assert view.closure_reason == "resolution_window_passed"
        deactivated = next(e for e in view.timeline if e.kind == "account_deactivated")
        assert window_end <= deactivated.at < window_end + timedelta(seconds=5)
        last = cases.emails(seller)[-1]
        assert last["X-Aha-Kind"] == "deactivated"
        assert "resolution window passed" in last.get_content()


async def test_contact_mode_resolved_inside_the_window(cases_with: Callable[[str], Any]) -> None:
    async with cases_with(CONTACT) as cases:
        seller = cases.new_seller()
        await cases.detect(seller)
        await reach(cases, seller)
        await cases.advance(seller, 70 * H)
        await cases.service.contact_me_now(seller)
        await reach(cases, seller, 2)
        await cases.advance(seller, 10 * H)  # past the original 72-hour deadline
        await cases.service.resolve(seller, Resolution(issue_id="I1", note="listings fixed"))
        view = await cases.run_to_end(seller)
        assert view.status == "resolved"
        assert cases.store.get(seller).account_status == "active"


async def test_contact_mode_a_seller_who_stops_engaging_is_deactivated(
    cases_with: Callable[[str], Any],
) -> None:
    async with cases_with(CONTACT) as cases:
        seller = cases.new_seller()
        await cases.detect(seller)
        await reach(cases, seller)
        view = await cases.wait_for(seller, lambda v: v.engagement_due_at is not None)
        due = view.engagement_due_at
        view = await cases.run_to_end(seller)
        assert view.status == "deactivated"
        assert view.closure_reason == "seller_disengaged"
        deactivated = next(e for e in view.timeline if e.kind == "account_deactivated")
        assert due <= deactivated.at < due + timedelta(seconds=5)
        assert deactivated.at < view.deadline_lifted_at + 4 * 24 * H
        last = cases.emails(seller)[-1]
        assert last["X-Aha-Kind"] == "deactivated"
        assert "We stopped hearing from you" in last.get_content()


async def test_resolution_mode_reached_is_still_deactivated_at_the_deadline(
    cases_with: Callable[[str], Any],
) -> None:
    async with cases_with(EXTENDING) as cases:
        seller = cases.new_seller()
        await cases.detect(seller)
        await reach(cases, seller)
        view = await cases.run_to_end(seller)
        assert view.deadline_lifted_at is None
        assert view.status == "deactivated" and view.closure_reason == "deadline_passed"
