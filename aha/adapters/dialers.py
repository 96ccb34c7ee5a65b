"""Dialers (`aha.ports.Dialer`): who places a call attempt.

`ManualDialer` leaves the attempt to a specialist who dials and reports the outcome;
`SimulatedDialer` stands in for a telephony provider in the demo and answers through the same
outcome callback a real provider would use.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import structlog

from aha.domain.calls import CallTask
from aha.domain.models import CallReport
from aha.domain.vocabulary import CallOutcome
from aha.ports import CallOutcomes

log = structlog.get_logger(__name__)


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
        outcomes: CallOutcomes,
        answer_probability: float = 0.4,
        delay_seconds: float = 5.0,
        choose: Callable[[], float] = random.random,
    ) -> None:
        self.outcomes = outcomes
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
            await self.outcomes.report(
                task, CallReport(attempt=task.attempt, outcome=outcome, reported_by="telephony")
            )
        except Exception as err:  # the case may have closed meanwhile; a real provider shrugs too
            log.info(
                "simulated outcome not taken",
                seller_id=task.seller_id,
                workflow_id=task.case_id,
                error=str(err),
            )
