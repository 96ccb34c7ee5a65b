"""Deliberately non-deterministic versions of `CaseWorkflow`, for tests/test_replay.py.

Each registers under the real workflow's name and changes one command: replaying a committed
history with it must fail, or the replay test is not comparing anything. They live in their
own module because the workflow sandbox imports a workflow's module afresh for every run.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.case import CLOSING_TIMEOUT, CaseWorkflow
from workflows.case_effects import RETRY

with workflow.unsafe.imports_passed_through():
    from activities.accounts import AccountActivities
    from aha.domain.models import CaseStart, CaseView


@workflow.defn(name="CaseWorkflow")
class WaitsBeforeStarting(CaseWorkflow):
    """A command added: a timer before anything else the case does."""

    @workflow.init
    def __init__(self, start: CaseStart) -> None:
        super().__init__(start)

    @workflow.run
    async def run(self, start: CaseStart) -> CaseView:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(start)


@workflow.defn(name="CaseWorkflow")
class PublishesNothing(CaseWorkflow):
    """Commands removed: the case never upserts its search attributes."""

    @workflow.init
    def __init__(self, start: CaseStart) -> None:
        super().__init__(start)

    @workflow.run
    async def run(self, start: CaseStart) -> CaseView:
        return await super().run(start)

    def _publish(self) -> None:
        self.case.refresh_status()


@workflow.defn(name="CaseWorkflow")
class SealsWithAnotherActivity(CaseWorkflow):
    """A command changed: closing schedules another activity type where it sealed the run."""

    @workflow.init
    def __init__(self, start: CaseStart) -> None:
        super().__init__(start)

    @workflow.run
    async def run(self, start: CaseStart) -> CaseView:
        return await super().run(start)

    async def _seal(self) -> None:
        self.case.closing = True
        await workflow.execute_activity_method(
            AccountActivities.deactivate_account,
            self.case.view.seller_id,
            start_to_close_timeout=CLOSING_TIMEOUT,
            retry_policy=RETRY,
        )
