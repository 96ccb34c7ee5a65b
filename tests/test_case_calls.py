"""Proactive calls: report timeouts, retry spacing, local hours, invalid numbers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from aha.domain.models import CallReport, Review
from aha.service import Rejected
from tests.conftest import DAYTIME_ONLY, Cases, a_plan


async def test_invalid_number_stops_calls_until_the_seller_fixes_it(cases: Cases) -> None:
    seller = cases.new_seller()
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(
        seller, CallReport(attempt=1, outcome="invalid_number", reported_by="telephony")
    )
    emails = await cases.wait_for_emails(seller, 2)
    assert emails[-1]["X-Aha-Kind"] == "invalid_number"

    await cases.advance(seller, timedelta(hours=8))
    view = await cases.view(seller)
    assert len(view.call_attempts) == 1 and view.next_call_at is None
    assert view.calling_stopped_reason and "invalid" in view.calling_stopped_reason
    with pytest.raises(Rejected, match="update your emergency phone number"):
        await cases.service.contact_me_now(seller)

    cases.store.upsert(
        seller,
        email=f"{seller}@sellers.example",
        phone="+13125550100",
        timezone="America/New_York",
    )
    assert await cases.service.contact_changed(seller)
    view = await cases.wait_for_call(seller, 2)
    assert any(e.kind == "phone_updated" for e in view.timeline)
    assert view.calling_stopped_reason is None


async def test_unreported_call_counts_as_no_answer_and_retry_waits(cases: Cases) -> None:
    seller = cases.new_seller()
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    await cases.advance(seller, timedelta(minutes=31))
    view = await cases.view(seller)
    first = view.call_attempts[0]
    assert first.outcome == "no_answer" and first.reported_by.startswith("system")
    assert first.outcome_at is not None and first.placed_at is not None
    assert first.outcome_at - first.placed_at >= timedelta(minutes=30)
    assert view.next_call_at == first.outcome_at + timedelta(hours=3)

    # The specialist was on the phone longer than the report timeout: the late truth wins.
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    view = await cases.view(seller)
    assert view.call_attempts[0].outcome == "answered" and view.status == "engaged"
    assert view.next_call_at is None


async def test_a_seller_being_called_is_not_rung_again(cases: Cases) -> None:
    seller = cases.new_seller()
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="no_answer"))
    pressed = await cases.service.contact_me_now(seller)
    await cases.wait_for_call(seller, pressed.attempt)
    await cases.service.submit_plan(seller, a_plan())
    await cases.service.review_plan(seller, Review(decision="request_info", questions=["Who?"]))

    await asyncio.sleep(1)  # room for a wrong second call to be placed
    view = await cases.view(seller)
    assert view.status == "call_required" and len(view.call_attempts) == 2

    await cases.service.report_call_outcome(
        seller, CallReport(attempt=pressed.attempt, outcome="answered")
    )
    assert (await cases.view(seller)).status == "plan_under_review"


async def test_calls_wait_for_local_hours_but_contact_me_now_does_not(
    cases_with: Any,
) -> None:
    async with cases_with(DAYTIME_ONLY) as cases:
        now = datetime.now(UTC)
        night_zone = next(z for z in NIGHT_ZONE_CANDIDATES if not _daytime(now, z))
        seller = cases.new_seller(timezone=night_zone)
        await cases.detect(seller)
        view = await cases.wait_for(seller, lambda v: v.next_call_at is not None)
        assert view.call_attempts == []
        local = view.next_call_at.astimezone(ZoneInfo(night_zone))
        assert (local.hour, local.minute) == (8, 0)

        receipt = await cases.service.contact_me_now(seller)
        view = await cases.wait_for(
            seller, lambda v: v.call_attempts and v.call_attempts[0].placed_at
        )
        assert receipt.attempt == 1 and view.call_attempts[0].seller_initiated


NIGHT_ZONE_CANDIDATES = [f"Etc/GMT{offset:+d}" for offset in range(-12, 13)]


def _daytime(moment: datetime, zone: str) -> bool:
    return 7 <= moment.astimezone(ZoneInfo(zone)).hour < 21
