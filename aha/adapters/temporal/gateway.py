"""The case gateway (`aha.ports.CaseGateway`) over a Temporal client, by workflow names only.

Temporal's errors become the port's. Those of the service itself (unreachable, not found,
an argument refused) stay `RPCError`s too, so entry points that show Temporal's own message
keep doing so, while the service catches them by the port's names.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WithStartWorkflowOperation,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from aha import search_attributes as sa
from aha.adapters.temporal import names
from aha.domain.appeal_models import Appeal, AppealView
from aha.domain.appeals import AppealStart
from aha.domain.models import (
    CaseStart,
    CaseView,
    ContactChange,
    DetectionEvent,
    DetectionReceipt,
    Notice,
    SweepRequest,
    SweepResult,
)
from aha.domain.vocabulary import CaseStatus
from aha.ports import (
    AlreadyStarted,
    CaseFilter,
    CaseSummary,
    CaseUpdate,
    InvalidArgument,
    NotFound,
    QueryFailed,
    RunFailed,
    RunStatus,
    ServiceError,
    UpdateRefused,
    WrongNamespace,
)

ResultT = TypeVar("ResultT")


class TemporalServiceError(RPCError, ServiceError):
    pass


class TemporalNotFound(RPCError, NotFound):
    pass


class TemporalWrongNamespace(RPCError, WrongNamespace):
    pass


class TemporalInvalidArgument(RPCError, InvalidArgument):
    pass


def _service_error(err: RPCError) -> RPCError:
    if err.status == RPCStatusCode.NOT_FOUND and "namespace" in err.message.lower():
        kind: type[RPCError] = TemporalWrongNamespace
    elif err.status == RPCStatusCode.NOT_FOUND:
        kind = TemporalNotFound
    elif err.status == RPCStatusCode.INVALID_ARGUMENT:
        kind = TemporalInvalidArgument
    else:
        kind = TemporalServiceError
    return kind(err.message, err.status, err.raw_grpc_status)


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except RPCTimeoutOrCancelledError as err:
        # The update's own RPC gave up (no worker took it in time): a wait, not a refusal;
        # the callers' time-outs explain it (is a worker polling?).
        raise TimeoutError(str(err) or "the workflow service gave up waiting") from err
    except RPCError as err:
        if isinstance(err, ServiceError):
            raise
        raise _service_error(err) from err


@asynccontextmanager
async def _reading() -> AsyncIterator[None]:
    """A query or a result: the failures of reading a workflow, as the port names them."""
    try:
        with _translated():
            yield
    except (WorkflowQueryFailedError, WorkflowQueryRejectedError) as err:
        raise QueryFailed(str(err)) from err
    except WorkflowFailureError as err:
        raise RunFailed(str(err)) from err


def _refused(err: WorkflowUpdateFailedError) -> NoReturn:
    cause = err.cause
    if not isinstance(cause, ApplicationError):
        raise UpdateRefused(str(cause or err), None) from err
    raise UpdateRefused(cause.message, cause.type, cause.details) from err


class TemporalCases:
    """The case workflows on one Temporal client."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def open_case(
        self,
        case_id: str,
        start: CaseStart,
        event: DetectionEvent,
        *,
        task_queue: str,
        reuse_closed_id: bool,
        summary: str,
        details: str,
    ) -> DetectionReceipt:
        operation: WithStartWorkflowOperation[Any, CaseView] = WithStartWorkflowOperation(
            names.CASE_WORKFLOW,
            start,
            id=case_id,
            task_queue=task_queue,
            result_type=CaseView,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=(
                WorkflowIDReusePolicy.ALLOW_DUPLICATE
                if reuse_closed_id
                else WorkflowIDReusePolicy.REJECT_DUPLICATE
            ),
            # Visible in lists from the first moment; the workflow keeps them current after.
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.SELLER_ID, event.seller_id),
                    SearchAttributePair(sa.MARKETPLACE, event.marketplace),
                    SearchAttributePair(sa.CASE_STATUS, CaseStatus.AWAITING_CONTACT.value),
                ]
            ),
            static_summary=summary,
            static_details=details,
        )
        return await self._update_with_start(operation, names.DETECT, event, DetectionReceipt)

    async def open_appeal(
        self,
        appeal_id: str,
        start: AppealStart,
        submission: BaseModel,
        *,
        task_queue: str,
        seller_id: str,
        marketplace: str,
        summary: str,
        details: str,
    ) -> Appeal:
        operation: WithStartWorkflowOperation[Any, AppealView] = WithStartWorkflowOperation(
            names.APPEAL_WORKFLOW,
            start,
            id=appeal_id,
            task_queue=task_queue,
            result_type=AppealView,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # An ended appeal (reinstated, or its window passed) is not started again.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.SELLER_ID, seller_id),
                    SearchAttributePair(sa.MARKETPLACE, marketplace),
                    SearchAttributePair(sa.CASE_STATUS, CaseStatus.APPEAL_UNDER_REVIEW.value),
                ]
            ),
            static_summary=summary,
            static_details=details,
        )
        return await self._update_with_start(operation, names.SUBMIT_APPEAL, submission, Appeal)

    async def _update_with_start(
        self,
        operation: WithStartWorkflowOperation[Any, Any],
        update: str,
        arg: BaseModel,
        result_type: type[ResultT],
    ) -> ResultT:
        try:
            with _translated():
                result: ResultT = await self.client.execute_update_with_start_workflow(
                    update, arg, start_workflow_operation=operation, result_type=result_type
                )
                return result
        except WorkflowAlreadyStartedError as err:
            # The start's own future holds the same error; take it so asyncio does not log it.
            with contextlib.suppress(WorkflowAlreadyStartedError):
                await operation.workflow_handle()
            raise AlreadyStarted(str(err)) from err
        except WorkflowUpdateFailedError as err:
            _refused(err)

    async def appeal_view(self, appeal_id: str) -> AppealView | None:
        handle = self.client.get_workflow_handle(appeal_id, result_type=AppealView)
        try:
            with _translated():
                description = await handle.describe()
        except WrongNamespace:
            raise
        except NotFound:
            return None
        async with _reading():
            if description.status == WorkflowExecutionStatus.RUNNING:
                running: AppealView = await handle.query(names.GET_APPEAL, result_type=AppealView)
                return running
            if description.status == WorkflowExecutionStatus.COMPLETED:
                ended: AppealView = await handle.result()
                return ended
        return None

    async def status(self, workflow_id: str) -> RunStatus | None:
        try:
            with _translated():
                description = await self.client.get_workflow_handle(workflow_id).describe()
        except WrongNamespace:
            raise  # a setup mistake, not a missing workflow
        except NotFound:
            return None
        status = description.status
        return RunStatus(status.name.lower()) if status is not None else None

    async def run_state(
        self, case_id: str, run_id: str
    ) -> tuple[RunStatus, datetime | None] | None:
        handle = self.client.get_workflow_handle(case_id, run_id=run_id)
        try:
            with _translated():
                description = await handle.describe()
        except WrongNamespace:
            raise
        except NotFound:
            return None
        status = description.status
        if status is None:
            return None
        return RunStatus(status.name.lower()), description.close_time

    async def case_result(self, case_id: str, run_id: str | None = None) -> CaseView:
        handle = self.client.get_workflow_handle(case_id, run_id=run_id, result_type=CaseView)
        async with _reading():
            view: CaseView = await handle.result()
            return view

    async def query_case(self, case_id: str) -> CaseView:
        handle = self.client.get_workflow_handle(case_id)
        async with _reading():
            view: CaseView = await handle.query(names.GET_CASE, result_type=CaseView)
            return view

    async def update_case(
        self, case_id: str, update: CaseUpdate, arg: BaseModel, result_type: type[ResultT]
    ) -> ResultT:
        handle = self.client.get_workflow_handle(case_id)
        try:
            with _translated():
                result: ResultT = await handle.execute_update(
                    update.value, arg, result_type=result_type
                )
                return result
        except WorkflowUpdateFailedError as err:
            _refused(err)

    async def contact_changed(self, case_id: str, changed_by: str) -> None:
        handle = self.client.get_workflow_handle(case_id)
        with _translated():
            await handle.signal(names.CONTACT_CHANGED, ContactChange(changed_by=changed_by))

    async def owed_notices(self, courier_id: str) -> list[Notice]:
        courier = self.client.get_workflow_handle(courier_id, result_type=list[Notice])
        async with _reading():
            description = await courier.describe()
            if description.status == WorkflowExecutionStatus.COMPLETED:
                delivered: list[Notice] = await courier.result()
            else:
                delivered = await courier.query(names.GET_NOTICES, result_type=list[Notice])
            return delivered

    async def run_sweep(
        self, request: SweepRequest, workflow_id: str, task_queue: str, summary: str | None = None
    ) -> SweepResult:
        async with _reading():
            result: SweepResult = await self.client.execute_workflow(
                names.ENROLLMENT_SWEEP,
                request,
                id=workflow_id,
                task_queue=task_queue,
                result_type=SweepResult,
                static_summary=summary,
            )
            return result

    async def list_cases(self, filters: CaseFilter, limit: int) -> list[CaseSummary]:
        with _translated():
            return [
                _summary(execution)
                async for execution in self.client.list_workflows(_query(filters), limit=limit)
            ]

    async def case_page(
        self, filters: CaseFilter, page_size: int, page_token: bytes | None
    ) -> tuple[list[CaseSummary], bytes | None]:
        listing = self.client.list_workflows(
            _query(filters), page_size=page_size, next_page_token=page_token
        )
        with _translated():
            await listing.fetch_next_page()
        cases = [_summary(execution) for execution in listing.current_page or []]
        return cases, listing.next_page_token or None

    async def workflow_pollers(self, task_queue: str, seen_since: datetime) -> int:
        with _translated():
            answer = await self.client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self.client.namespace,
                    task_queue=TaskQueue(name=task_queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                )
            )
        return sum(1 for p in answer.pollers if p.last_access_time.ToDatetime(UTC) > seen_since)


def _query(filters: CaseFilter) -> str:
    # The service has checked the values against closed sets or strict patterns.
    # The appeal statuses are the appeal workflows' own: those lists list appeals.
    appeals = filters.status in (CaseStatus.APPEAL_UNDER_REVIEW, CaseStatus.REINSTATED)
    query = f"WorkflowType = '{names.APPEAL_WORKFLOW if appeals else names.CASE_WORKFLOW}'"
    if filters.status is not None:
        query += f" AND CaseStatus = '{filters.status}'"
    if filters.marketplace is not None:
        query += f" AND Marketplace = '{filters.marketplace}'"
    if filters.deadline_by is not None:
        by = filters.deadline_by.strftime("%Y-%m-%dT%H:%M:%SZ")
        query += f" AND ExecutionStatus = 'Running' AND DeactivationDeadline <= '{by}'"
    return query


def _summary(execution: WorkflowExecution) -> CaseSummary:
    attrs = execution.typed_search_attributes
    return CaseSummary(
        case_id=execution.id,
        seller_id=attrs.get(sa.SELLER_ID),
        status=attrs.get(sa.CASE_STATUS),
        marketplace=attrs.get(sa.MARKETPLACE),
        deadline=attrs.get(sa.DEACTIVATION_DEADLINE),
        issue_types=list(attrs.get(sa.ISSUE_TYPES) or []),
        call_attempts=attrs.get(sa.CALL_ATTEMPTS),
        workflow_status=execution.status.name.lower() if execution.status else "",
    )
