"""Placing call attempts through a dialer.

The phone network lies outside our world: the dialer (`aha.ports.Dialer`) hands the attempt
to a specialist or a telephony provider, and the outcome comes back through the case.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from aha.domain.calls import CallTask
from aha.domain.consent import NotPlaced, call_verdict, overridden
from aha.ports import CallConsents, DeliveryLedger, Dialer, PlacementAnnouncer, SellerDirectory

log = structlog.get_logger(__name__)

# Longer than one dial attempt may take (its 20 s timeout), so a live one is never overtaken.
CLAIM_HOLD = timedelta(seconds=30)

Placement = Literal[
    "placed",
    "already_placed",
    "sealed",
    # The consent edition: what stopped a proactive call, or what a seller-initiated one
    # went ahead despite.
    "not_placed:consent",
    "not_placed:dnc",
    "placed_despite:consent",
    "placed_despite:dnc",
]
NOT_PLACED: dict[NotPlaced, Placement] = {
    NotPlaced.CONSENT_WITHDRAWN: "not_placed:consent",
    NotPlaced.DO_NOT_CALL: "not_placed:dnc",
}
PLACED_DESPITE: dict[NotPlaced, Placement] = {
    NotPlaced.CONSENT_WITHDRAWN: "placed_despite:consent",
    NotPlaced.DO_NOT_CALL: "placed_despite:dnc",
}
# What a placement says stopped the call, or what the call went ahead despite.
PLACEMENT_REASON = {
    placement: reason
    for table in (NOT_PLACED, PLACED_DESPITE)
    for reason, placement in table.items()
}
T = TypeVar("T")


class CallActivities:
    def __init__(
        self,
        directory: SellerDirectory,
        dialer: Dialer,
        deliveries: DeliveryLedger,
        announcer: PlacementAnnouncer | None = None,
        *,
        consents: CallConsents,
    ) -> None:
        self.directory = directory
        self.dialer = dialer
        self.deliveries = deliveries
        self.announcer = announcer
        self.consents = consents

    @activity.defn
    async def dial(self, task: CallTask) -> Placement:
        """Hand the attempt to the dialer once across every worker, unless its case closed.

        The case hears of the placement by a signal at once; the activity's completion,
        which a crash can delay by a whole timeout, only confirms it.
        """
        return await self._place(task, announce=True)

    async def _place(self, task: CallTask, announce: bool) -> Placement:
        # The ledger and the directory block (a database round trip, a lock wait): they run
        # off the event loop, so one slow claim never stalls the worker's other activities.
        # One thread for the whole claim, since an SQLite connection stays in its thread.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dial") as own_thread:
            loop = asyncio.get_running_loop()

            def blocking(work: Callable[..., T], *args: Any) -> asyncio.Future[T]:
                return loop.run_in_executor(own_thread, work, *args)

            held = ExitStack()
            claim = await blocking(
                held.enter_context, self.deliveries.claim(task.key, "call", CLAIM_HOLD, task.fence)
            )
            try:
                if claim.outcome == "busy":
                    raise ApplicationError(
                        "another worker is placing this call", type="DeliveryBusy"
                    )
                if claim.outcome == "sealed":
                    log.info("call not placed: its case closed", seller_id=task.seller_id,
                             workflow_id=task.case_id, attempt=task.attempt)  # fmt: skip
                    return "sealed"
                if claim.outcome == "already_sent":
                    return "already_placed"
                contact = await blocking(self.directory.get, task.seller_id)
                if contact is None:
                    raise ApplicationError(
                        f"unknown seller {task.seller_id!r}",
                        type="UnknownSeller",
                        non_retryable=True,
                    )
                despite: Placement | None = None
                if task.check_consent:
                    # Asked here, after the claim and just before the dial, never remembered.
                    consent = await blocking(self.consents.consent, task.seller_id)
                    listed = contact.phone != "" and (
                        await blocking(self.consents.listed, contact.phone) is not None
                    )
                    stop = call_verdict(consent.consent, listed, task.seller_initiated)
                    if stop is not None:
                        log.info("call not placed", seller_id=task.seller_id, reason=str(stop),
                                 workflow_id=task.case_id, attempt=task.attempt)  # fmt: skip
                        return NOT_PLACED[stop]
                    went_ahead = overridden(consent.consent, listed)
                    if went_ahead is not None:
                        despite = PLACED_DESPITE[went_ahead]
                await self.dialer.dial(task, contact.phone)
                placed_at = datetime.now(UTC)
                await blocking(claim.mark_sent)
            finally:
                await blocking(held.close)
        if announce and self.announcer is not None:
            await self.announcer.call_placed(task, placed_at)
        log.info("call placed", seller_id=task.seller_id, workflow_id=task.case_id,
                 attempt=task.attempt, seller_initiated=task.seller_initiated)  # fmt: skip
        return despite or "placed"

    @activity.defn
    async def place_call(self, task: CallTask) -> bool:
        """The call of a case opened before v3; True when it was placed now.

        The same claims as `dial`, but no signal: such a case records the placement itself
        when the activity completes.
        """
        return await self._place(task, announce=False) == "placed"
