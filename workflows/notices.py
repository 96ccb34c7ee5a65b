"""A case's emails, delivered one at a time in the order the case decided them.

`NoticeCourier` runs beside a case's main loop, so a mail outage never holds the deadline
back; it is also the whole of `CaseNotices`, the workflow that takes over the notices a
closed case still owes, so that the seller's next case does not wait for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, FailureError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.email import EmailActivities
    from aha.domain.emails import EmailRequest
    from aha.domain.models import Notice
    from aha.domain.vocabulary import NoticeState, TimelineKind

DELIVERY_TIMEOUT = timedelta(seconds=60)
# An attempt heartbeats as it connects and sends: one on a dead worker is retried after this.
DELIVERY_HEARTBEAT = timedelta(seconds=20)
# Retries cost no history: the server keeps them. A minute apart at most, so mail flows again
# within a minute of an outage ending.
NOTICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["UnknownSeller", "EmailRejected"],
)

Record = Callable[[TimelineKind, str], None]
StaleReason = Callable[[Notice], str | None]


def failure_reason(err: ActivityError) -> str:
    """What went wrong in an activity, as the timeline says it."""
    return err.cause.message if isinstance(err.cause, FailureError) else err.message


class NoticeCourier:
    """Delivers `notices` in order; `stale` says why a notice should be dropped instead."""

    def __init__(
        self,
        notices: list[Notice],
        requests: dict[str, EmailRequest],
        give_up: timedelta,
        record: Record,
        stale: StaleReason = lambda _notice: None,
    ) -> None:
        self.notices = notices
        self.requests = requests
        self.give_up = give_up
        self.record = record
        self.stale = stale
        self._stopping = False
        self._in_flight: workflow.ActivityHandle[str] | None = None
        self._current: Notice | None = None
        self._recalled = False

    def queue(self, notice: Notice, request: EmailRequest) -> None:
        self.notices.append(notice)
        self.requests[notice.key] = request

    def pending(self) -> list[Notice]:
        return [n for n in self.notices if n.state == "pending"]

    @property
    def idle(self) -> bool:
        return self._in_flight is None and not self.pending()

    async def run(self) -> None:
        while True:
            await workflow.wait_condition(lambda: self._stopping or bool(self.pending()))
            if self._stopping:
                return
            notice = self.pending()[0]
            reason = self.stale(notice)
            if reason is not None:
                self.drop(notice, reason)
                continue
            await self._deliver(notice)

    async def stop(self) -> None:
        """Stop after the email in flight, if any, is recalled; it stays pending if unsent."""
        self._stopping = True
        if self._in_flight is not None:
            self._recalled = True
            self._in_flight.cancel()
            await workflow.wait_condition(lambda: self._in_flight is None)

    async def wind_up(self, delivering: asyncio.Task[None], patience: timedelta) -> list[Notice]:
        """Wait up to `patience` for the last emails, then stop; returns what is still owed."""
        self.drop_stale()
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self.idle,
                timeout=patience,
                timeout_summary="hand over the emails still owed",
            )
        await self.stop()
        await delivering
        self.drop_stale()
        return self.pending()

    def drop_stale(self) -> None:
        """Drop at once every waiting notice that has become pointless."""
        for notice in self.pending():
            reason = self.stale(notice)
            if notice is not self._current and reason is not None:
                self.drop(notice, reason)

    def drop(self, notice: Notice, reason: str) -> None:
        self._settle(notice, NoticeState.DROPPED, reason)
        self.record(TimelineKind.EMAIL_DROPPED, f"{self._what(notice)} email dropped: {reason}")

    def _settle(self, notice: Notice, state: NoticeState, detail: str = "") -> None:
        notice.state = state
        notice.settled_at = workflow.now()
        notice.detail = detail

    @staticmethod
    def _what(notice: Notice) -> str:
        return notice.kind.replace("_", " ")

    async def _deliver(self, notice: Notice) -> None:
        what = self._what(notice)
        self._current = notice
        self._in_flight = workflow.start_activity_method(
            EmailActivities.deliver_email,
            self.requests[notice.key],
            start_to_close_timeout=DELIVERY_TIMEOUT,
            heartbeat_timeout=DELIVERY_HEARTBEAT,
            schedule_to_close_timeout=self.give_up,
            retry_policy=NOTICE_RETRY,
            # A recalled email must be known unsent (or sent) before the next one may go.
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            summary=f"email the seller: {what}",
        )
        try:
            delivery = await self._in_flight
        except asyncio.CancelledError:
            if not self._recalled:
                raise  # the workflow itself is being cancelled or evicted: let it go
            return  # recalled, it stays pending: whoever delivers it next asks the ledger
        except ActivityError as err:
            if not self._recalled:
                self._settle(notice, NoticeState.FAILED, failure_reason(err))
                self.record(
                    TimelineKind.EMAIL_FAILED, f"{what} email not delivered: {failure_reason(err)}"
                )
            return
        finally:
            self._in_flight = None
            self._current = None
        if delivery == "dropped":
            self.drop(notice, "its case closed before it could be sent")
        else:
            self._settle(notice, NoticeState.SENT)
            self.record(TimelineKind.EMAIL_SENT, f"{what} email")


class NoticeHandoff(BaseModel):
    case_id: str
    seller_id: str
    notices: list[Notice]
    requests: list[EmailRequest]
    give_up: timedelta


@workflow.defn(name="CaseNotices")
class CaseNotices:
    """Delivers, in order, the notices a closed case still owed when it ended."""

    @workflow.init
    def __init__(self, handoff: NoticeHandoff) -> None:
        self.timeline: list[str] = []
        self.courier = NoticeCourier(
            [n.model_copy() for n in handoff.notices],
            {r.key: r for r in handoff.requests},
            handoff.give_up,
            self._record,
        )

    def _record(self, kind: TimelineKind, detail: str) -> None:
        self.timeline.append(f"{workflow.now():%Y-%m-%dT%H:%M:%SZ} {kind}: {detail}")
        workflow.logger.info("%s: %s", kind, detail)

    @workflow.run
    async def run(self, handoff: NoticeHandoff) -> list[Notice]:
        delivering = asyncio.create_task(self.courier.run())
        await workflow.wait_condition(lambda: self.courier.idle)
        await self.courier.stop()
        await delivering
        return self.courier.notices

    @workflow.query
    def get_notices(self) -> list[Notice]:
        return self.courier.notices


async def hand_over(
    owed: list[Notice],
    requests: dict[str, EmailRequest],
    case_id: str,
    seller_id: str,
    run_id: str,
    give_up: timedelta,
) -> str:
    """Start the `CaseNotices` workflow that delivers `owed`; returns its id."""
    courier_id = f"case-notices-{seller_id}-{run_id}"
    # What is left of the oldest owed notice's budget, so no notice outlives give_up.
    spent = workflow.now() - min(n.queued_at for n in owed)
    await workflow.start_child_workflow(
        CaseNotices.run,
        NoticeHandoff(
            case_id=case_id,
            seller_id=seller_id,
            notices=owed,
            requests=[requests[n.key] for n in owed],
            give_up=max(give_up - spent, timedelta(minutes=1)),
        ),
        id=courier_id,
        parent_close_policy=ParentClosePolicy.ABANDON,
        static_summary=f"Emails still owed by the closed case of seller {seller_id}",
    )
    return courier_id
