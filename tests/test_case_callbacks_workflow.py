"""Seller-scheduled callbacks in a real case workflow under time skipping: the call placed at
its time (outside calling hours too), replaced, cancelled, waiting for a call in progress, and
refused in the past or after the deadline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from aha.domain.models import CallbackRequest, CallReport, CaseView
from aha.service import CaseError
from tests.conftest import DAYTIME_ONLY, Cases

H = timedelta(hours=1)
# How late a timer may fire under time skipping, and a call be dialled after it.
SLACK = timedelta(seconds=5)


async def unanswered_first_call(cases: Cases, seller: str) -> datetime:
    """The case opens and its first proactive call goes unanswered; returns the time then."""
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="no_answer"))
    return await cases.now(seller)


def attempts(view: CaseView) -> list[tuple[bool, bool]]:
    return [(a.seller_initiated, a.callback) for a in view.call_attempts]


async def test_a_callback_is_placed_at_its_time(cases: Cases) -> None:
    seller = cases.new_seller()
    now = await unanswered_first_call(cases, seller)
    at = now + 2 * H
    callback = await cases.service.schedule_callback(
        seller, CallbackRequest(at=at, requested_by="seller")
    )
    assert callback.at == at
    view = await cases.wait_for(seller, lambda v: v.callback is not None)
    assert view.callback is not None and view.callback.at == at

    await cases.advance(seller, H + 50 * timedelta(minutes=1))
    view = await cases.view(seller)
    assert len(view.call_attempts) == 1, "nothing before the seller's time"

    await cases.advance(seller, 20 * timedelta(minutes=1))
    view = await cases.wait_for_call(seller, 2)
    second = view.call_attempts[1]
    assert (second.seller_initiated, second.callback) == (True, True)
    assert second.scheduled_for == at
    assert second.placed_at is not None and at <= second.placed_at < at + SLACK
    assert view.callback is None
    assert "callback_due" in [e.kind for e in view.timeline]

    await cases.service.report_call_outcome(seller, CallReport(attempt=2, outcome="answered"))
    view = await cases.wait_for(seller, lambda v: v.reached)
    assert view.status == "engaged"


async def test_a_callback_rings_outside_calling_hours(cases_with: Callable[[str], Any]) -> None:
    async with cases_with(DAYTIME_ONLY) as cases:
        seller = cases.new_seller(timezone="Asia/Tokyo")
        await cases.detect(seller)
        start = await cases.now(seller)
        # The next 23:00 in Tokyo (14:00 UTC), outside the 08:00-21:00 window.
        at = start.replace(hour=14, minute=0, second=0, microsecond=0)
        if at <= start + H:
            at += 24 * H
        await cases.service.schedule_callback(seller, CallbackRequest(at=at))
        await cases.advance(seller, at - start + timedelta(minutes=1))
        view = await cases.wait_for(
            seller, lambda v: any(a.callback and a.placed_at for a in v.call_attempts)
        )
        callback_call = next(a for a in view.call_attempts if a.callback)
        assert callback_call.scheduled_for == at
        assert callback_call.placed_at is not None
        assert f"{callback_call.placed_at.astimezone(ZoneInfo('Asia/Tokyo')):%H:%M}" == "23:00"


async def test_a_new_callback_replaces_the_pending_one(cases: Cases) -> None:
    seller = cases.new_seller()
    now = await unanswered_first_call(cases, seller)
    await cases.service.schedule_callback(seller, CallbackRequest(at=now + 2 * H))
    later = now + 5 * H
    await cases.service.schedule_callback(seller, CallbackRequest(at=later))
    view = await cases.view(seller)
    assert view.callback is not None and view.callback.at == later
    assert [e.kind for e in view.timeline][-2:] == ["callback_scheduled", "callback_replaced"]

    await cases.advance(seller, 4 * H)
    assert len((await cases.view(seller)).call_attempts) == 1, "the replaced time never rings"
    await cases.advance(seller, H + timedelta(minutes=1))
    view = await cases.wait_for_call(seller, 2)
    assert attempts(view) == [(False, False), (True, True)]
    assert view.call_attempts[1].scheduled_for == later


async def test_a_cancelled_callback_is_not_placed_and_proactive_calls_resume(
    cases: Cases,
) -> None:
    seller = cases.new_seller()
    now = await unanswered_first_call(cases, seller)
    await cases.service.schedule_callback(seller, CallbackRequest(at=now + 2 * H))
    cancelled = await cases.service.cancel_callback(seller, "seller")
    assert cancelled.at == now + 2 * H
    assert (await cases.view(seller)).callback is None
    with pytest.raises(CaseError) as caught:
        await cases.service.cancel_callback(seller, "seller")
    assert caught.value.kind == "NoCallback"

    # The policy retries an unanswered call after 3 hours: that proactive call comes next.
    await cases.advance(seller, 3 * H + timedelta(minutes=1))
    view = await cases.wait_for_call(seller, 2)
    assert attempts(view) == [(False, False), (False, False)]


async def test_a_callback_waits_for_the_call_in_progress(cases: Cases) -> None:
    seller = cases.new_seller()
    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    now = await cases.now(seller)
    await cases.service.schedule_callback(
        seller, CallbackRequest(at=now + 10 * timedelta(minutes=1))
    )
    await cases.advance(seller, 20 * timedelta(minutes=1))
    view = await cases.view(seller)
    assert len(view.call_attempts) == 1 and view.callback is not None

    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="busy"))
    view = await cases.wait_for_call(seller, 2)
    assert attempts(view) == [(False, False), (True, True)]


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(-H, "at is in the past"), (73 * H, "at is not before the case's deadline")],
    ids=["past", "after the deadline"],
)
async def test_a_callback_in_the_past_or_after_the_deadline_is_refused(
    cases: Cases, offset: timedelta, reason: str
) -> None:
    seller = cases.new_seller()
    await cases.detect(seller)
    now = await cases.now(seller)
    with pytest.raises(CaseError) as caught:
        await cases.service.schedule_callback(seller, CallbackRequest(at=now + offset))
    assert caught.value.kind == "InvalidCallback"
    [detail] = caught.value.details
    assert detail["field"] == "at" and detail["reason"].startswith(reason)
    view = await cases.view(seller)
    assert view.callback is None
    assert not any(e.kind.startswith("callback") for e in view.timeline)
