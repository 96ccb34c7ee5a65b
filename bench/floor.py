"""Engine-floor workflows: the least a workflow can do, for comparison with a case.

They live apart from the benchmark script on purpose: the sandbox re-imports a workflow's
module for every run, and this one imports nothing but temporalio, so the floor pays no
import cost that a case does not pay too.
"""

from __future__ import annotations

from temporalio import workflow


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
