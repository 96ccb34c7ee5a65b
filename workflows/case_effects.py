"""How a case's emails and calls are carried out, in each edition of the case's rules.

Edition 1 sends and dials one after another inside the main loop; later editions run them
beside it with bounded retries (edition 3 queues emails in a `NoticeCourier` instead, and
dials through the fenced `dial` activity).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from functools import partial
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.notices import NoticeCourier, failure_reason, hand_over

with workflow.unsafe.imports_passed_through():
    from activities.calls import PLACEMENT_REASON, CallActivities
    from activities.email import EmailActivities
    from activities.staff import StaffActivities
    from aha.domain.calls import CallTask
    from aha.domain.case import Case, Edition, caller
    from aha.domain.effects import AlertStaff, Effect, PlaceCall, SendEmail
    from aha.domain.emails import EmailRequest
    from aha.domain.models import CallAttempt, Notice, StaffAlert
    from aha.domain.vocabulary import EmailKind, TimelineKind

ACTIVITY_TIMEOUT = timedelta(seconds=60)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["UnknownSeller"],
)
# Emails and calls give up after this; the case records the failure and carries on.
EFFECT_GIVE_UP = timedelta(minutes=10)
EFFECT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["UnknownSeller", "EmailRejected"],
)
# A dial is one quick call to the dialer: a crashed attempt is retried after this.
DIAL_TIMEOUT = timedelta(seconds=20)
# How long a closed case waits for its last emails before handing them over.
NOTICE_HANDOFF_AFTER = timedelta(seconds=5)


class CaseEffects:
    """The emails and calls a case decided and has not yet carried out."""

    def __init__(self, case: Case, wake: Callable[[], None]) -> None:
        self.case = case
        self.wake = wake
        self.outbox: list[EmailRequest] = []
        self.to_dial: list[CallAttempt] = []
        self.running: set[asyncio.Task[None]] = set()
        self.dialing: dict[int, workflow.ActivityHandle[str]] = {}
        self.courier: NoticeCourier | None = None
        self._delivering: asyncio.Task[None] | None = None
        self._requests: dict[str, EmailRequest] = {}
        self.alerts: list[StaffAlert] = []
        # By key, in the order raised: cancelling them at closure issues commands, and a
        # set's order (by address) could differ on replay.
        self.alerting: dict[str, asyncio.Task[None]] = {}

    def carry_out(self, effects: list[Effect]) -> None:
        """Queue what the case decided; the main loop starts it (a courier, at once)."""
        for effect in effects:
            if isinstance(effect, PlaceCall):
                self.to_dial.append(effect.attempt)
            elif isinstance(effect, AlertStaff):
                self.alerts.append(effect.alert)
            elif isinstance(effect, SendEmail) and self.courier is not None:
                request = effect.request
                notice = Notice(key=request.key, kind=request.kind, queued_at=workflow.now())
                self.courier.queue(notice, request)
            elif isinstance(effect, SendEmail):
                self.outbox.append(effect.request)

    def start_courier(self, give_up: timedelta) -> None:
        """Edition 3: emails leave one at a time, in order, through a `NoticeCourier`."""
        self.courier = NoticeCourier(
            self.case.view.notices,
            self._requests,
            give_up,
            lambda kind, detail: self.case.record(kind, detail, now=workflow.now()),
            lambda notice: self.case.stale_reason(
                EmailKind(notice.kind), self._requests.get(notice.key)
            ),
        )
        self._delivering = asyncio.create_task(self.courier.run())

    async def finish(self) -> None:
        """The case has closed: carry out its last emails (and any call already decided)."""
        if self.case.edition >= Edition.ORDERED:
            await self._finish_notices()
        elif self.case.edition >= Edition.BACKGROUND:
            self.start()
            await workflow.wait_condition(lambda: self.settled)
        else:
            await self.send_outbox()

    async def _finish_notices(self) -> None:
        """Wait briefly for the last emails, then hand what is still owed to `CaseNotices`."""
        courier, delivering, policy = self.courier, self._delivering, self.case.policy
        assert courier is not None and delivering is not None and policy is not None
        # Dials were cancelled at closure; they settle at once.
        await workflow.wait_condition(lambda: self.settled)
        owed = await courier.wind_up(delivering, NOTICE_HANDOFF_AFTER)
        if not owed:
            return
        view = self.case.view
        courier_id = await hand_over(
            owed,
            self._requests,
            view.case_id,
            view.seller_id,
            workflow.info().run_id,
            policy.notice_give_up,
        )
        view.notices_courier = courier_id
        self.case.record(
            TimelineKind.NOTICES_HANDED_OVER,
            f"{len(owed)} email(s) still owed are delivered by workflow {courier_id}",
            now=workflow.now(),
        )

    @property
    def settled(self) -> bool:
        return not self.running

    def cancel_dials(self) -> None:
        """The case is closing: no call in flight may ring after its end, and no SLA alert
        is still worth sending."""
        for handle in self.dialing.values():
            handle.cancel()
        for task in self.alerting.values():
            task.cancel()

    def _alert_done(self, key: str, _task: asyncio.Task[None]) -> None:
        self.alerting.pop(key, None)

    async def _alert_staff(self, alert: StaffAlert) -> None:
        what = alert.kind.replace("_", " ")
        try:
            told = await workflow.execute_activity_method(
                StaffActivities.alert_staff,
                alert,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=EFFECT_GIVE_UP,
                retry_policy=EFFECT_RETRY,
                summary=f"tell the team: {what} ({alert.target})",
            )
        except asyncio.CancelledError:
            if not self.case.closing:
                raise  # the workflow itself is being cancelled or evicted: let it go
            return  # the case closed first
        except ActivityError as err:
            detail = f"{what} alert not delivered: {failure_reason(err)}"
            self.case.record(TimelineKind.STAFF_ALERT_FAILED, detail, now=workflow.now())
            return
        self.case.record(TimelineKind.STAFF_ALERT_SENT, f"{what} alert: {told}", now=workflow.now())

    # ---- edition 1: one after another ----------------------------------------------------

    async def send_outbox(self) -> None:
        while self.outbox:
            request = self.outbox.pop(0)
            await workflow.execute_activity_method(
                EmailActivities.send_email,
                request,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
                summary=f"email the seller: {request.kind.replace('_', ' ')}",
            )

    async def dial_queued(self) -> None:
        while self.to_dial:
            attempt = self.to_dial.pop(0)
            if attempt.outcome is not None:
                continue
            await workflow.execute_activity_method(
                CallActivities.place_call,
                self._call_task(attempt),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
                summary=f"call attempt {attempt.number} ({caller(attempt)})",
            )
            self.case.dial_completed(attempt, workflow.now())

    # ---- later editions: beside the main loop --------------------------------------------

    def start(self) -> None:
        while self.alerts:
            # Beside the other effects, and never waited for: a case's end cancels them.
            alert = self.alerts.pop(0)
            task = asyncio.create_task(self._alert_staff(alert))
            self.alerting[alert.key] = task
            task.add_done_callback(partial(self._alert_done, alert.key))
        while self.outbox:
            self._spawn(self._send_email(self.outbox.pop(0)), wake=False)
        while self.to_dial:
            attempt = self.to_dial.pop(0)
            if attempt.outcome is None:
                # A placed call starts its report timeout, so the loop must look again.
                self._spawn(self._dial(attempt), wake=True)

    def _spawn(self, effect: Coroutine[Any, Any, None], wake: bool) -> None:
        task = asyncio.create_task(effect)
        self.running.add(task)

        def finished(done: asyncio.Task[None]) -> None:
            self.running.discard(done)
            if wake:
                self.wake()

        task.add_done_callback(finished)

    async def _send_email(self, request: EmailRequest) -> None:
        what = request.kind.replace("_", " ")
        try:
            await workflow.execute_activity_method(
                EmailActivities.send_email,
                request,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=EFFECT_GIVE_UP,
                retry_policy=EFFECT_RETRY,
                summary=f"email the seller: {what}",
            )
        except ActivityError as err:
            detail = f"{what} email not delivered: {failure_reason(err)}"
            self.case.record(TimelineKind.EMAIL_FAILED, detail, now=workflow.now())
            return
        self.case.record(TimelineKind.EMAIL_SENT, f"{what} email", now=workflow.now())

    async def _dial(self, attempt: CallAttempt) -> None:
        if self.case.edition >= Edition.ORDERED:
            await self._dial_fenced(attempt)
            return
        try:
            await workflow.execute_activity_method(
                CallActivities.place_call,
                self._call_task(attempt),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=EFFECT_GIVE_UP,
                retry_policy=EFFECT_RETRY,
                summary=f"call attempt {attempt.number} ({caller(attempt)})",
            )
        except ActivityError as err:
            self.case.dial_failed(attempt, failure_reason(err), workflow.now())
            return
        self.case.dial_completed(attempt, workflow.now())

    async def _dial_fenced(self, attempt: CallAttempt) -> None:
        if self.case.closing:
            return  # spawned just before the case began to close: never dial it
        task = self._call_task(attempt)
        task.run_id = workflow.info().run_id
        task.fence = self.case.run_key
        handle = workflow.start_activity_method(
            CallActivities.dial,
            task,
            start_to_close_timeout=DIAL_TIMEOUT,
            schedule_to_close_timeout=EFFECT_GIVE_UP,
            retry_policy=EFFECT_RETRY,
            summary=f"call attempt {attempt.number} ({caller(attempt)})",
        )
        self.dialing[attempt.number] = handle
        try:
            placement = await handle
        except asyncio.CancelledError:
            if not self.case.closing:
                raise  # the workflow itself is being cancelled or evicted: let it go
            return  # cancelled at closure: the attempt is recorded as abandoned
        except ActivityError as err:
            self.case.dial_failed(attempt, failure_reason(err), workflow.now())
            return
        finally:
            del self.dialing[attempt.number]
        if placement == "sealed":
            return
        reason = PLACEMENT_REASON.get(placement)
        if reason is not None and placement.startswith("not_placed:"):
            self.case.call_not_placed(attempt, reason, workflow.now())
            return
        self.case.dial_completed(attempt, workflow.now())
        if reason is not None:
            self.case.consent_regranted(attempt, reason, workflow.now())

    def _call_task(self, attempt: CallAttempt) -> CallTask:
        view = self.case.view
        return CallTask(
            key=f"{self.case.run_key}/call/{attempt.number}",
            case_id=view.case_id,
            seller_id=view.seller_id,
            attempt=attempt.number,
            seller_initiated=attempt.seller_initiated,
            issue_types=[i.type for i in view.open_issues()],
            guidance=attempt.guidance,
            check_consent=self.case.edition >= Edition.CONSENT,
        )
