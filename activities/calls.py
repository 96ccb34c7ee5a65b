"""Placing call attempts through a dialer.

The phone network lies outside our world: the dialer (`aha.ports.Dialer`) hands the attempt
to a specialist or a telephony provider, and the outcome comes back through the case.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from aha.domain.calls import CallTask
from aha.ports import DeliveryLedger, Dialer, PlacementAnnouncer, SellerDirectory

log = structlog.get_logger(__name__)

# Longer than one dial attempt may take (its 20 s timeout), so a live one is never overtaken.
CLAIM_HOLD = timedelta(seconds=30)

Placement = Literal["placed", "already_placed", "sealed"]


class CallActivities:
    def __init__(
        self,
        directory: SellerDirectory,
        dialer: Dialer,
        deliveries: DeliveryLedger,
        announcer: PlacementAnnouncer | None = None,
    ) -> None:
        self.directory = directory
        self.dialer = dialer
        self.deliveries = deliveries
        self.announcer = announcer

    @activity.defn
    async def dial(self, task: CallTask) -> Placement:
        """Hand the attempt to the dialer once across every worker, unless its case closed.

        The case hears of the placement by a signal at once; the activity's completion,
        which a crash can delay by a whole timeout, only confirms it.
        """
        return await self._place(task, announce=True)

    async def _place(self, task: CallTask, announce: bool) -> Placement:
        with self.deliveries.claim(task.key, "call", CLAIM_HOLD, task.fence) as claim:
            if claim.outcome == "busy":
                raise ApplicationError("another worker is placing this call", type="DeliveryBusy")
            if claim.outcome == "sealed":
                log.info("call not placed: its case closed", seller_id=task.seller_id,
                         workflow_id=task.case_id, attempt=task.attempt)  # fmt: skip
                return "sealed"
            if claim.outcome == "already_sent":
                return "already_placed"
            contact = self.directory.get(task.seller_id)
            if contact is None:
                raise ApplicationError(
                    f"unknown seller {task.seller_id!r}", type="UnknownSeller", non_retryable=True
                )
            await self.dialer.dial(task, contact.phone)
            placed_at = datetime.now(UTC)
            claim.mark_sent()
        if announce and self.announcer is not None:
            await self.announcer.call_placed(task, placed_at)
        log.info("call placed", seller_id=task.seller_id, workflow_id=task.case_id,
                 attempt=task.attempt, seller_initiated=task.seller_initiated)  # fmt: skip
        return "placed"

    @activity.defn
    async def place_call(self, task: CallTask) -> bool:
        """The call of a case opened before v3; True when it was placed now.

        The same claims as `dial`, but no signal: such a case records the placement itself
        when the activity completes.
        """
        return await self._place(task, announce=False) == "placed"
