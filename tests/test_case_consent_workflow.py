"""Consent and the do-not-call list in a real case workflow under time skipping: the dial asks
the store just before it rings, a call not placed is recorded with a note to use email, email
goes on, and contact me now still rings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aha.adapters.sqlite.consent import SqliteCallConsents
from aha.domain.models import CallReport, CaseView
from tests.conftest import ALWAYS_CALLABLE, Cases, a_plan

H = timedelta(hours=1)
FIRST_ATTEMPT = ALWAYS_CALLABLE + '[sla]\nfirst_attempt_within = "16m"\nwarn_at = 0.5\n'


def settled(view: CaseView, number: int) -> bool:
    if len(view.call_attempts) < number:
        return False
    attempt = view.call_attempts[number - 1]
    return attempt.placed_at is not None or attempt.not_placed is not None


async def test_consent_withdrawn_mid_case_stops_proactive_calls_not_email_or_contact_me_now(
    cases: Cases,
) -> None:
    consents = SqliteCallConsents(cases.db)
    seller = cases.new_seller()
    await cases.detect(seller)
    view = await cases.wait_for_call(seller, 1)
    assert view.call_attempts[0].not_placed is None
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="no_answer"))

    consents.set_consent(seller, False, changed_by=seller)
    await cases.advance(seller, 3 * H + timedelta(minutes=1))
    view = await cases.wait_for(seller, lambda v: settled(v, 2))
    second = view.call_attempts[1]
    assert second.placed_at is None and second.not_placed == "consent withdrawn"
    assert view.use_email_because == "consent withdrawn"
    assert not view.pending_calls()
    note = next(e for e in view.timeline if e.kind == "call_not_placed")
    assert note.detail == ("attempt 2 not placed: consent withdrawn; use email to reach the seller")
    # Email goes on: a reminder 24 hours before the deadline still reaches the seller.
    await cases.advance(seller, 46 * H)
    view = await cases.view(seller)
    assert all(a.placed_at is None for a in view.call_attempts[1:]), "no proactive call rang"
    assert len(view.call_attempts) > 2, "each proactive call is checked again, not skipped"
    mails = await cases.wait_for_emails(seller, 2)
    assert [m["X-Aha-Kind"] for m in mails] == ["issue_opened", "reminder"]

    # Contact me now rings despite the withdrawal, and re-grants consent for that call only.
    receipt = await cases.service.contact_me_now(seller)
    view = await cases.wait_for_call(seller, receipt.attempt)
    called = view.call_attempts[receipt.attempt - 1]
    assert called.seller_initiated and called.not_placed is None
    view = await cases.wait_for(
        seller, lambda v: v.call_attempts[receipt.attempt - 1].consent_regranted is not None
    )
    assert view.call_attempts[receipt.attempt - 1].consent_regranted == "consent withdrawn"
    assert any(e.kind == "consent_regranted" for e in view.timeline)
    # The seller's own call changes nothing for the next proactive one: email it is.
    assert view.use_email_because == "consent withdrawn"
    assert consents.consent(seller).consent is False, "the withdrawal stands after the call"


async def test_a_number_on_the_do_not_call_list_is_not_dialled_and_unlisting_it_resumes(
    cases_with: Callable[[str], Any],
) -> None:
    async with cases_with(FIRST_ATTEMPT) as cases:
        consents = SqliteCallConsents(cases.db)
        seller = cases.new_seller(phone="+12125550177")
        consents.add("+1 212 555 0177", "asked by phone never to be called", "ops")
        await cases.detect(seller)
        view = await cases.wait_for(seller, lambda v: settled(v, 1))
        assert view.call_attempts[0].not_placed == "number on do-not-call list"
        assert view.use_email_because == "number on do-not-call list"
        # The first-attempt clock is met: the team tried in time.
        clock = next(c for c in view.sla if c.target == "first_attempt")
        assert clock.met_at is not None and clock.state == "met"

        assert consents.remove("+12125550177")
        await cases.advance(seller, 3 * H + timedelta(minutes=1))
        view = await cases.wait_for_call(seller, 2)
        assert view.call_attempts[1].not_placed is None
        assert view.use_email_because is None


async def test_a_plan_needing_a_call_waits_while_consent_is_withdrawn(cases: Cases) -> None:
    consents = SqliteCallConsents(cases.db)
    seller = cases.new_seller()
    consents.set_consent(seller, False, changed_by=seller)
    await cases.detect(seller)
    await cases.service.submit_plan(seller, a_plan())
    view = await cases.wait_for(seller, lambda v: settled(v, 1))
    assert view.call_attempts[0].not_placed == "consent withdrawn"
