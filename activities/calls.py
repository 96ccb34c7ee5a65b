"""Placing call attempts through a dialer.

The phone network lies outside our world: `ManualDialer` leaves the attempt to a specialist
who dials and reports the outcome; `SimulatedDialer` stands in for a telephony provider in the
demo and answers through the same outcome callback a real provider would use.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

import structlog
from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from aha.directory import SellerDirectory
from aha.domain.models import CallPlaced, CallReport
from aha.domain.vocabulary import CallOutcome
from aha.ledger import DeliveryLedger

log = structlog.get_logger(__name__)

REPORT_CALL_OUTCOME = "report_call_outcome"
CALL_PLACED = "call_placed"
# Longer than one dial attempt may take (its 20 s timeout), so a live one is never overtaken.
CLAIM_HOLD = timedelta(seconds=30)

Placement = Literal["placed", "already_placed", "sealed"]
# Pauses between tries of the placement signal while Temporal is unreachable (about 10 s).
ANNOUNCE_RETRIES: tuple[float | None, ...] = (0.5, 1.0, 2.0, 3.0, 3.5, None)


class CallTask(BaseModel):
    """What the person or system placing the call needs: never the number itself."""

    key: str
    case_id: str
    seller_id: str
    attempt: int
    seller_initiated: bool
    issue_types: list[str]
    guidance: list[str]
    # The case run that asked for the call: once it is sealed (closed), nothing is dialled.
    run_id: str = ""
    fence: str | None = None


class Dialer(Protocol):
    async def dial(self, task: CallTask, phone: str) -> None: ...


class ManualDialer:
    """A specialist sees the task in `aha calls pending`, dials, and reports the outcome."""

    async def dial(self, task: CallTask, phone: str) -> None:
        log.info(
            "call task queued for a specialist",
            seller_id=task.seller_id,
            workflow_id=task.case_id,
            run_id=task.run_id,
            attempt=task.attempt,
        )


class SimulatedDialer:
    """A fake phone network: reports an outcome after a delay, like a provider's callback."""

    def __init__(
        self,
        client: Client,
        answer_probability: float = 0.4,
        delay_seconds: float = 5.0,
        choose: Callable[[], float] = random.random,
    ) -> None:
        self.client = client
        self.answer_probability = answer_probability
        self.delay_seconds = delay_seconds
        self.choose = choose
        self._callbacks: set[asyncio.Task[None]] = set()

    def _outcome(self) -> CallOutcome:
        roll = self.choose()
        if roll < self.answer_probability:
            return CallOutcome.ANSWERED
        others = [
            CallOutcome.NO_ANSWER,
            CallOutcome.NO_ANSWER,
            CallOutcome.BUSY,
            CallOutcome.VOICEMAIL,
        ]
        spread = (roll - self.answer_probability) / max(1e-9, 1 - self.answer_probability)
        return others[min(len(others) - 1, int(spread * len(others)))]

    async def dial(self, task: CallTask, phone: str) -> None:
        callback = asyncio.create_task(self._report_later(task))
        self._callbacks.add(callback)
        callback.add_done_callback(self._callbacks.discard)

    async def _report_later(self, task: CallTask) -> None:
        await asyncio.sleep(self.delay_seconds)
        outcome = self._outcome()
        try:
            handle = self.client.get_workflow_handle(task.case_id, run_id=task.run_id or None)
            await handle.execute_update(
                REPORT_CALL_OUTCOME,
                CallReport(attempt=task.attempt, outcome=outcome, reported_by="telephony"),
            )
        except Exception as err:  # the case may have closed meanwhile; a real provider shrugs too
            log.info(
                "simulated outcome not taken",
                seller_id=task.seller_id,
                workflow_id=task.case_id,
                error=str(err),
            )


class PlacementAnnouncer(Protocol):
    """Tells the case a call was handed to the dialer, before the activity's completion does."""

    async def call_placed(self, task: CallTask, placed_at: datetime) -> None: ...


class SignalAnnouncer:
    def __init__(self, client: Client) -> None:
        self.client = client

    async def call_placed(self, task: CallTask, placed_at: datetime) -> None:
        handle = self.client.get_workflow_handle(task.case_id, run_id=task.run_id or None)
        placed = CallPlaced(attempt=task.attempt, placed_at=placed_at)
        # Through a short server outage too: the completion alone may come much later.
        for pause in ANNOUNCE_RETRIES:
            try:
                await handle.signal(CALL_PLACED, placed)
                return
            except RPCError as err:
                if err.status != RPCStatusCode.UNAVAILABLE or pause is None:
                    error = err.status.name
                    break
            except Exception as err:  # e.g. the case completed meanwhile
                error = type(err).__name__
                break
            await asyncio.sleep(pause)
        # The completion still tells the case; the call is placed either way.
        log.info("call placement not announced", seller_id=task.seller_id,
                 workflow_id=task.case_id, error=error)  # fmt: skip


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
