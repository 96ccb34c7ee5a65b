"""A call's news for its case: the placement signal, and a provider's outcome callback."""

from __future__ import annotations

import asyncio
from datetime import datetime

import structlog
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from aha.adapters.temporal.names import CALL_PLACED, REPORT_CALL_OUTCOME
from aha.domain.calls import CallTask
from aha.domain.models import CallPlaced, CallReport

log = structlog.get_logger(__name__)

# Pauses between tries of the placement signal while Temporal is unreachable (about 10 s).
ANNOUNCE_RETRIES: tuple[float | None, ...] = (0.5, 1.0, 2.0, 3.0, 3.5, None)


class SignalAnnouncer:
    """`aha.ports.PlacementAnnouncer` by the case's `call_placed` signal."""

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


class UpdateOutcomes:
    """`aha.ports.CallOutcomes` by the case's `report_call_outcome` update, to the run that
    asked for the call."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def report(self, task: CallTask, report: CallReport) -> None:
        handle = self.client.get_workflow_handle(task.case_id, run_id=task.run_id or None)
        await handle.execute_update(REPORT_CALL_OUTCOME, report)
