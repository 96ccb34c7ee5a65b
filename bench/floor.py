"""Engine-floor workflows: the least a workflow can do, for comparison with a case.

They live apart from the benchmark script on purpose: the sandbox re-imports a workflow's
module for every run, and this one imports nothing but temporalio, so the floor pays no
import cost that a case does not pay too. Its one activity is a no-op, registered on the
floor's worker beside the floor workflows.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

ACTIVITY_TIMEOUT = timedelta(seconds=30)
NO_RETRY = RetryPolicy(maximum_attempts=1)  # a no-op that failed is an error, not a retry


@workflow.defn(name="BenchBareWorkflow")
class BareWorkflow:
    """Starts and completes: one workflow task."""

    @workflow.run
    async def run(self) -> None:
        return None


@workflow.defn(name="BenchSignalWorkflow")
class SignalWorkflow:
    """Waits for one signal, then completes."""

    def __init__(self) -> None:
        self._finished = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._finished)

    @workflow.signal
    def finish(self) -> None:
        self._finished = True


@workflow.defn(name="BenchUpdatesWorkflow")
class UpdatesWorkflow:
    """A case's message shape without its work: update-with-start, two updates, completion."""

    STEPS = 3

    def __init__(self) -> None:
        self._steps = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._steps >= self.STEPS)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._steps

    @workflow.update
    def step(self) -> int:
        self._steps += 1
        return self._steps


@activity.defn(name="BenchNoop")
async def noop(step: str) -> str:
    """An activity that does nothing: what an activity costs the engine and the SDK alone."""
    return step


@workflow.defn(name="BenchResolvedShapeWorkflow")
class ResolvedShapeWorkflow:
    """A resolved case's shape without its work: update-with-start, two updates, three
    activities, completion.

    The activities stand where a resolved case's are: the first update (the detection) starts
    two beside the main loop, as the case starts its issue email and its dial; the second
    update waits for the second of them, as a call outcome can only be reported once the call
    is placed; after the third (the resolution) the third activity runs in sequence before
    completion, as the case's seal does. What a resolved case does beyond this shape: two
    local activities (policy, profile) in its first task, the `call_placed` signal, a second
    email after the seal, timers, search attributes and its timeline.
    """

    STEPS = 3

    def __init__(self) -> None:
        self._steps = 0
        self._dialled = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._steps >= 1)
        beside = [
            asyncio.create_task(self._activity("email")),
            asyncio.create_task(self._dial()),
        ]
        await workflow.wait_condition(lambda: self._steps >= self.STEPS)
        await asyncio.gather(*beside)
        await self._activity("seal")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._steps

    async def _activity(self, step: str) -> None:
        await workflow.execute_activity(
            noop, step, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=NO_RETRY
        )

    async def _dial(self) -> None:
        await self._activity("dial")
        self._dialled = True

    @workflow.update
    async def step(self) -> int:
        self._steps += 1
        step = self._steps
        if step == 2:
            await workflow.wait_condition(lambda: self._dialled)
        return step
