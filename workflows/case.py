"""The at-risk case: one durable workflow per seller's open case.

Handlers only change state and wake the main loop; the loop does every side effect
(emails, calls, deactivation) and sleeps in one timer until the next thing falls due.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

from workflows.notices import CaseNotices, NoticeCourier, NoticeHandoff, failure_reason

with workflow.unsafe.imports_passed_through():
    from activities.accounts import AccountActivities
    from activities.calls import CallActivities, CallTask
    from activities.email import EmailActivities
    from aha import search_attributes as sa
    from aha.domain import calling, deadlines
    from aha.domain.emails import EmailRequest
    from aha.domain.guidance import guidance_for
    from aha.domain.models import (
        CallAttempt,
        CallPlaced,
        CallReport,
        CaseStart,
        CaseView,
        ContactChange,
        ContactReceipt,
        ContactRequest,
        DetectionEvent,
        DetectionReceipt,
        Issue,
        Notice,
        Plan,
        PlanSubmission,
        Resolution,
        Review,
        SellerProfile,
        TimelineEntry,
    )
    from aha.domain.policy import Policy
    from aha.domain.vocabulary import (
        CallOutcome,
        CaseStatus,
        ClosureReason,
        EmailKind,
        IssueStatus,
        ReviewState,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=60)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["UnknownSeller"],
)


# Patches: cases opened before a change replay the old way. Remove a patch's old branch
# (then the patch itself, via deprecate_patch) once no case from before it is still open.
# v2: side effects run beside the main loop with bounded retries, so a mail or dialer
# outage can no longer hold the deadline back; policy and profile load together.
BACKGROUND_EFFECTS = "background-effects-v2"
# Emails and calls give up after this; the case records the failure and carries on.
EFFECT_GIVE_UP = timedelta(minutes=10)
LOCAL_READ_TIMEOUT = timedelta(seconds=10)
# v3: emails go out one at a time in the order the case decided them, those that carry
# consequences for as long as the policy's notice_give_up; the case seals its run as it
# closes, so no call or stale email follows its end, even one retried after a crash; a call
# shows as placed as soon as the dialer has it; and notices still owed at the end go on in
# their own workflow, so the seller's next case never waits for them.
ORDERED_NOTICES = "ordered-notices-v3"
# Sealing and deactivating are quick database writes: a short timeout keeps a crash from
# delaying the deactivation by more than a few seconds.
CLOSING_TIMEOUT = timedelta(seconds=10)
# A dial is one quick call to the dialer: a crashed attempt is retried after this.
DIAL_TIMEOUT = timedelta(seconds=20)
# How long a closed case waits for its last emails before handing them over.
NOTICE_HANDOFF_AFTER = timedelta(seconds=5)
# Emails that the case's end makes pointless; the others carry consequences and always go.
DROPPABLE_NOTICES = ("reminder", "invalid_number")


# Closure reasons that do not wait for a deadline, and what the seller is told.
IMMEDIATE_REASONS = {
    "not_enrolled": (
        "the account is not enrolled in Account Health Assurance, so the standard process "
        "applies and the account is deactivated at once"
    ),
    "immediate_policy": (
        "suspected fraud, deception or illegal activity deactivates an account at once, "
        "protected or not"
    ),
}

# Who "reported" an attempt nobody reported in time: a person's late report may replace it.
NO_REPORT = "system (no report in time)"

EFFECT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["UnknownSeller", "EmailRejected"],
)


def _rejected(message: str, kind: str, *details: Any) -> ApplicationError:
    return ApplicationError(message, *details, type=kind, non_retryable=True)


def _timed_out(attempt: CallAttempt) -> bool:
    """No report came in time; a late report from a person still tells the truth."""
    return attempt.reported_by == NO_REPORT


@workflow.defn(name="CaseWorkflow")
class CaseWorkflow:
    @workflow.init
    def __init__(self, start: CaseStart) -> None:
        self.view = CaseView(
            case_id=workflow.info().workflow_id,
            run_id=workflow.info().run_id,
            seller_id=start.seller_id,
            marketplace=start.marketplace,
        )
        self.policy: Policy | None = None
        self.profile: SellerProfile | None = None
        self._wake = False
        self._profile_stale = False
        self._profile_changed_by = "system"
        self._outbox: list[EmailRequest] = []
        self._to_dial: list[CallAttempt] = []
        self._reminders: dict[str, datetime] = {}
        self._reminder_issue: dict[str, str] = {}
        self._reminders_sent: set[str] = set()
        self._call_not_before: datetime | None = None
        self._invalid_phone_version: int | None = None
        self._published: dict[str, object] = {}
        self._effects: set[asyncio.Task[None]] = set()
        self._background = False
        self._closing = False
        self._deactivate_now: ClosureReason | None = None
        self._ordered = False
        self._courier: NoticeCourier | None = None
        self._delivering: asyncio.Task[None] | None = None
        self._email_requests: dict[str, EmailRequest] = {}
        self._dialing: dict[int, workflow.ActivityHandle[str]] = {}
        self.view.protected = start.protected
        self.view.protection = start.protection or None

    # ---- the main loop -------------------------------------------------------------------

    @workflow.run
    async def run(self, start: CaseStart) -> CaseView:
        self._background = workflow.patched(BACKGROUND_EFFECTS)
        self._ordered = self._background and workflow.patched(ORDERED_NOTICES)
        if self._background:
            self.policy, self.profile = await asyncio.gather(
                self._load_policy(), self._load_profile()
            )
        else:
            self.policy = await self._load_policy()
            self.profile = await self._load_profile()
        assert self.profile is not None
        self.view.policy = self.policy
        if self._ordered:
            assert self.policy is not None
            self._courier = NoticeCourier(
                self.view.notices,
                self._email_requests,
                self.policy.notice_give_up,
                self._record,
                self._stale_reason,
            )
            self._delivering = asyncio.create_task(self._courier.run())
        self.view.timezone = self.profile.timezone
        self.view.opened_at = workflow.now()
        self._call_not_before = workflow.now()
        await workflow.wait_condition(lambda: bool(self.view.issues))
        while not self.view.closed:
            await self._step()
        await workflow.wait_condition(lambda: not self._effects)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view

    async def _step(self) -> None:
        if self._profile_stale:
            self._profile_stale = False
            await self._refresh_profile()
        now = workflow.now()
        self._expire_unreported_calls(now)
        if self._deactivate_now is not None:
            await self._deactivate(self._deactivate_now)
            return
        if not self.view.open_issues():
            await self._close_resolved()
            return
        case_deadline = self._case_deadline()
        if case_deadline is not None and now >= case_deadline:
            await self._deactivate()
            return
        self._queue_due_reminders(now)
        if self._background:
            self._schedule_proactive_call(now)
            self._start_effects()
        else:
            await self._send_outbox()
            self._schedule_proactive_call(workflow.now())
            await self._dial_queued()
        self._publish()
        await self._sleep_until_next_due()

    async def _sleep_until_next_due(self) -> None:
        due = self._next_due()
        if due is None:
            await workflow.wait_condition(lambda: self._wake)
        else:
            when, what = due
            timeout = when - workflow.now()
            if timeout > timedelta(0):
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        lambda: self._wake, timeout=timeout, timeout_summary=what
                    )
        self._wake = False

    def _next_due(self) -> tuple[datetime, str] | None:
        assert self.policy is not None
        candidates: list[tuple[datetime, str]] = []
        case_deadline = self._case_deadline()
        if case_deadline is not None:
            candidates.append((case_deadline, "deactivation deadline"))
        reminder = deadlines.next_reminder(self._reminders, self._reminders_sent)
        if reminder is not None:
            candidates.append((reminder, "reminder email"))
        if self.view.next_call_at is not None:
            candidates.append((self.view.next_call_at, "next proactive call"))
        for attempt in self.view.pending_calls():
            if attempt.placed_at is not None:
                expiry = attempt.placed_at + self.policy.call_report_timeout
                candidates.append((expiry, f"outcome of call attempt {attempt.number}"))
        return min(candidates, default=None)

    # ---- deadlines and endings -----------------------------------------------------------

    def _case_deadline(self) -> datetime | None:
        return deadlines.case_deadline(i.deadline for i in self.view.open_issues())

    async def _seal(self) -> None:
        """From here on no fenced effect (a call, a reminder) runs, wherever it was retried."""
        self._closing = True
        await workflow.execute_activity_method(
            AccountActivities.seal_case,
            self._run_key(),
            start_to_close_timeout=CLOSING_TIMEOUT,
            retry_policy=RETRY,
            summary="seal the case: no call or reminder after its end",
        )

    def _run_key(self) -> str:
        return f"{self.view.case_id}/{workflow.info().run_id}"

    async def _close_resolved(self) -> None:
        if self._ordered:
            await self._seal()
        self._record("case_resolved", "every issue resolved before its deadline")
        self.view.closure_reason = ClosureReason.RESOLVED
        self._close(CaseStatus.RESOLVED)
        self._email(EmailKind.RESOLVED, "resolved", issues=self.view.issues)
        await self._finish_effects()
        self._publish()

    async def _deactivate(
        self, closure_reason: ClosureReason = ClosureReason.DEADLINE_PASSED
    ) -> None:
        # From here on the case takes no more actions: the deadline (or the rule) has won.
        self._closing = True
        if closure_reason == "deadline_passed":
            overdue = [i for i in self.view.open_issues() if i.deadline <= workflow.now()]
            reason = "deadline passed with unresolved issue(s) " + ", ".join(i.id for i in overdue)
        else:
            overdue = self.view.open_issues()
            reason = IMMEDIATE_REASONS[closure_reason]
        self.view.closure_reason = closure_reason
        if self._ordered:
            await self._seal()
        await workflow.execute_activity_method(
            AccountActivities.deactivate_account,
            self.view.seller_id,
            start_to_close_timeout=CLOSING_TIMEOUT if self._ordered else ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary="deactivate the seller's account",
        )
        self._record("account_deactivated", reason)
        self._close(CaseStatus.DEACTIVATED)
        self._email(EmailKind.DEACTIVATED, "deactivated", issues=overdue, reason=reason)
        await self._finish_effects()
        self._publish()

    async def _finish_effects(self) -> None:
        if self._ordered:
            await self._finish_notices()
            return
        if self._background:
            self._start_effects()
            await workflow.wait_condition(lambda: not self._effects)
        else:
            await self._send_outbox()

    async def _finish_notices(self) -> None:
        """Wait briefly for the last emails, then hand what is still owed to `CaseNotices`."""
        assert self._courier is not None and self._delivering is not None
        # Dials were cancelled at closure; they settle at once.
        await workflow.wait_condition(lambda: not self._effects)
        self._courier.drop_stale()
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._courier is not None and self._courier.idle,
                timeout=NOTICE_HANDOFF_AFTER,
                timeout_summary="hand over the emails still owed",
            )
        await self._courier.stop()
        await self._delivering
        self._courier.drop_stale()
        owed = self._courier.pending()
        if not owed:
            return
        courier_id = f"case-notices-{self.view.seller_id}-{workflow.info().run_id}"
        assert self.policy is not None
        # What is left of the oldest owed notice's budget, so no notice outlives notice_give_up.
        spent = workflow.now() - min(n.queued_at for n in owed)
        budget = max(self.policy.notice_give_up - spent, timedelta(minutes=1))
        await workflow.start_child_workflow(
            CaseNotices.run,
            NoticeHandoff(
                case_id=self.view.case_id,
                seller_id=self.view.seller_id,
                notices=owed,
                requests=[self._email_requests[n.key] for n in owed],
                give_up=budget,
            ),
            id=courier_id,
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"Emails still owed by the closed case of seller {self.view.seller_id}",
        )
        self.view.notices_courier = courier_id
        self._record(
            "notices_handed_over",
            f"{len(owed)} email(s) still owed are delivered by workflow {courier_id}",
        )

    def _stale_reason(self, notice: Notice) -> str | None:
        if notice.kind not in DROPPABLE_NOTICES:
            return None
        if self._closing or self.view.closed:
            return "the case closed first"
        request = self._email_requests.get(notice.key)
        if request is None:
            return None
        if notice.kind == "reminder":
            issue = self.view.issue(request.issues[0].id) if request.issues else None
            if issue is None or issue.status != "open":
                return "its issue was resolved first"
        newer_phone = (
            self.profile is not None
            and request.phone_version is not None
            and request.phone_version != self.profile.phone_version
        )
        if notice.kind == "invalid_number" and newer_phone:
            return "the emergency phone number was changed first"
        return None

    def _close(self, status: CaseStatus) -> None:
        self._closing = True
        for handle in self._dialing.values():
            handle.cancel()
        for attempt in self.view.pending_calls():
            self._record(
                "call_abandoned", f"attempt {attempt.number} had no outcome when the case closed"
            )
        self.view.status = status
        self.view.closed_at = workflow.now()
        self.view.next_call_at = None

    # ---- emails --------------------------------------------------------------------------

    def _email(
        self, kind: EmailKind, step: str, issues: list[Issue] | None = None, reason: str = ""
    ) -> None:
        request = EmailRequest(
            key=f"{self.view.case_id}/{workflow.info().run_id}/email/{step}",
            seller_id=self.view.seller_id,
            kind=kind,
            issues=issues or [],
            deadline=self._case_deadline(),
            reason=reason,
        )
        if self._courier is None:
            self._outbox.append(request)
            return
        if kind in DROPPABLE_NOTICES:
            request.fence = self._run_key()
        if kind == "invalid_number" and self.profile is not None:
            request.phone_version = self.profile.phone_version
        self._courier.queue(Notice(key=request.key, kind=kind, queued_at=workflow.now()), request)

    def _queue_due_reminders(self, now: datetime) -> None:
        for key in deadlines.due_reminders(self._reminders, now, self._reminders_sent):
            self._reminders_sent.add(key)
            issue = self.view.issue(self._reminder_issue[key])
            if issue is None or issue.status != "open":
                continue
            self._email(EmailKind.REMINDER, key, issues=[issue])
            if not self._background:
                self._record("reminder_sent", f"reminder email for issue {issue.id}")

    async def _send_outbox(self) -> None:
        while self._outbox:
            request = self._outbox.pop(0)
            await workflow.execute_activity_method(
                EmailActivities.send_email,
                request,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
                summary=f"email the seller: {request.kind.replace('_', ' ')}",
            )

    # ---- side effects beside the main loop (v2) ------------------------------------------

    def _start_effects(self) -> None:
        while self._outbox:
            self._spawn(self._send_email(self._outbox.pop(0)), wake=False)
        while self._to_dial:
            attempt = self._to_dial.pop(0)
            if attempt.outcome is None:
                # A placed call starts its report timeout, so the loop must look again.
                self._spawn(self._dial(attempt), wake=True)

    def _spawn(self, effect: Coroutine[Any, Any, None], wake: bool) -> None:
        task = asyncio.create_task(effect)
        self._effects.add(task)

        def finished(done: asyncio.Task[None]) -> None:
            self._effects.discard(done)
            if wake:
                self._wake = True

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
            self._record("email_failed", f"{what} email not delivered: {failure_reason(err)}")
            return
        self._record("email_sent", f"{what} email")

    async def _dial(self, attempt: CallAttempt) -> None:
        if self._ordered:
            await self._dial_fenced(attempt)
            return
        who = "seller (contact me now)" if attempt.seller_initiated else "proactive"
        try:
            await workflow.execute_activity_method(
                CallActivities.place_call,
                self._call_task(attempt),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=EFFECT_GIVE_UP,
                retry_policy=EFFECT_RETRY,
                summary=f"call attempt {attempt.number} ({who})",
            )
        except ActivityError as err:
            if attempt.outcome is None:
                self._record("call_failed", f"attempt {attempt.number}: {failure_reason(err)}")
                self._apply_outcome(attempt, CallOutcome.NO_ANSWER, "system (dialer failed)")
            return
        attempt.placed_at = workflow.now()
        self._record("call_placed", f"attempt {attempt.number} placed ({who})")

    async def _dial_fenced(self, attempt: CallAttempt) -> None:
        if self._closing:
            return  # spawned just before the case began to close: never dial it
        who = "seller (contact me now)" if attempt.seller_initiated else "proactive"
        task = self._call_task(attempt)
        task.run_id = workflow.info().run_id
        task.fence = self._run_key()
        handle = workflow.start_activity_method(
            CallActivities.dial,
            task,
            start_to_close_timeout=DIAL_TIMEOUT,
            schedule_to_close_timeout=EFFECT_GIVE_UP,
            retry_policy=EFFECT_RETRY,
            summary=f"call attempt {attempt.number} ({who})",
        )
        self._dialing[attempt.number] = handle
        try:
            placement = await handle
        except asyncio.CancelledError:
            if not self._closing:
                raise  # the workflow itself is being cancelled or evicted: let it go
            return  # cancelled at closure: the attempt is recorded as abandoned
        except ActivityError as err:
            if not self._closing and attempt.outcome is None:
                self._record("call_failed", f"attempt {attempt.number}: {failure_reason(err)}")
                self._apply_outcome(attempt, CallOutcome.NO_ANSWER, "system (dialer failed)")
            return
        finally:
            del self._dialing[attempt.number]
        if placement != "sealed":
            self._placed(attempt, workflow.now(), who)

    def _placed(self, attempt: CallAttempt, at: datetime, who: str) -> None:
        if attempt.placed_at is not None or attempt.outcome is not None or self.view.closed:
            return
        attempt.placed_at = at
        self._record("call_placed", f"attempt {attempt.number} placed ({who})")

    def _call_task(self, attempt: CallAttempt) -> CallTask:
        return CallTask(
            key=f"{self.view.case_id}/{workflow.info().run_id}/call/{attempt.number}",
            case_id=self.view.case_id,
            seller_id=self.view.seller_id,
            attempt=attempt.number,
            seller_initiated=attempt.seller_initiated,
            issue_types=[i.type for i in self.view.open_issues()],
            guidance=attempt.guidance,
        )

    # ---- calls ---------------------------------------------------------------------------

    def _calling_stopped_reason(self) -> str | None:
        assert self.profile is not None
        if not self.profile.has_phone:
            return "no emergency phone on file"
        if self._invalid_phone_version == self.profile.phone_version:
            return "the emergency phone number is invalid; waiting for the seller to fix it"
        return None

    def _needs_proactive_call(self) -> bool:
        if self.view.closed or self._calling_stopped_reason() is not None:
            return False
        return self.view.status == "call_required" or not self.view.reached

    def _schedule_proactive_call(self, now: datetime) -> None:
        assert self.policy is not None and self.profile is not None
        self.view.calling_stopped_reason = self._calling_stopped_reason()
        self.view.next_call_at = None
        if not self._needs_proactive_call() or self._call_not_before is None:
            return
        pending = self.view.pending_calls()
        if self._background and pending:
            return  # one call at a time: never ring a seller who is already being called
        if any(not a.seller_initiated for a in pending):
            return
        placed = [a.placed_at for a in self.view.call_attempts if not a.seller_initiated]
        slot = calling.next_call_slot(
            max(self._call_not_before, now),
            self.profile.timezone,
            self.policy.calling_hours,
            self.policy.max_call_attempts_per_day,
            [p for p in placed if p is not None],
        )
        case_deadline = self._case_deadline()
        if case_deadline is not None and slot >= case_deadline:
            return
        if slot > now:
            self.view.next_call_at = slot
            return
        self._to_dial.append(self._new_attempt(seller_initiated=False, scheduled_for=slot))

    def _new_attempt(self, seller_initiated: bool, scheduled_for: datetime) -> CallAttempt:
        guidance = []
        for issue in self.view.open_issues():
            guidance += [f"{issue.id}: {step}" for step in guidance_for(issue.type)]
        attempt = CallAttempt(
            number=len(self.view.call_attempts) + 1,
            seller_initiated=seller_initiated,
            scheduled_for=scheduled_for,
            guidance=guidance,
        )
        self.view.call_attempts.append(attempt)
        return attempt

    async def _dial_queued(self) -> None:
        while self._to_dial:
            attempt = self._to_dial.pop(0)
            if attempt.outcome is not None:
                continue
            who = "seller (contact me now)" if attempt.seller_initiated else "proactive"
            await workflow.execute_activity_method(
                CallActivities.place_call,
                self._call_task(attempt),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
                summary=f"call attempt {attempt.number} ({who})",
            )
            attempt.placed_at = workflow.now()
            self._record("call_placed", f"attempt {attempt.number} placed ({who})")

    def _expire_unreported_calls(self, now: datetime) -> None:
        assert self.policy is not None
        for attempt in self.view.pending_calls():
            if attempt.placed_at and now >= attempt.placed_at + self.policy.call_report_timeout:
                self._apply_outcome(attempt, CallOutcome.NO_ANSWER, NO_REPORT)

    def _apply_outcome(self, attempt: CallAttempt, outcome: CallOutcome, who: str) -> None:
        assert self.policy is not None and self.profile is not None
        now = workflow.now()
        attempt.outcome = outcome
        attempt.outcome_at = now
        attempt.reported_by = who
        self._record("call_outcome", f"attempt {attempt.number}: {outcome}", who)
        plan = self.view.plan
        if outcome == "answered":
            if not self.view.reached:
                self._record("seller_reached", f"answered call attempt {attempt.number}", who)
            self.view.reached = True
            if plan and plan.review_state == "info_requested":
                plan.review_state = ReviewState.UNDER_REVIEW
                self._record(
                    "plan_back_in_review", "call answered after the request for information"
                )
        elif outcome == "invalid_number":
            self._invalid_phone_version = self.profile.phone_version
            self._record("calling_stopped", "invalid emergency phone number; seller emailed")
            self._email(EmailKind.INVALID_NUMBER, f"invalid-number/{self.profile.phone_version}")
        elif not attempt.seller_initiated:
            delay = calling.retry_delay(outcome, self.policy)
            if delay is not None:
                self._call_not_before = now + delay
        self._refresh_status()

    # ---- the seller's contact data -------------------------------------------------------

    async def _load_policy(self) -> Policy:
        if self._background:
            # A local read: as a local activity it costs no round trip through the server,
            # so a detection's answer does not wait for two extra workflow tasks.
            return await workflow.execute_local_activity_method(
                AccountActivities.current_policy,
                start_to_close_timeout=LOCAL_READ_TIMEOUT,
                retry_policy=RETRY,
                summary="load the policy in force",
            )
        return await workflow.execute_activity_method(
            AccountActivities.current_policy,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary="load the policy in force",
        )

    async def _load_profile(self) -> SellerProfile:
        if self._background:
            return await workflow.execute_local_activity_method(
                AccountActivities.seller_profile,
                self.view.seller_id,
                start_to_close_timeout=LOCAL_READ_TIMEOUT,
                retry_policy=RETRY,
                summary="read the seller's time zone and phone status",
            )
        return await workflow.execute_activity_method(
            AccountActivities.seller_profile,
            self.view.seller_id,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary="read the seller's time zone and phone status",
        )

    async def _refresh_profile(self) -> None:
        assert self.profile is not None
        before = self.profile
        try:
            self.profile = await self._load_profile()
        except ActivityError as err:
            self._record(
                "profile_unavailable", f"kept the last contact profile: {failure_reason(err)}"
            )
            return
        self.view.timezone = self.profile.timezone
        if self.profile.phone_version != before.phone_version:
            self._record(
                "phone_updated",
                "the emergency phone number changed",
                self._profile_changed_by,
            )
            self._call_not_before = workflow.now()
        if self.profile.timezone != before.timezone:
            self._record(
                "timezone_updated",
                f"time zone is now {self.profile.timezone}",
                self._profile_changed_by,
            )

    # ---- state, timeline and what the UI shows -------------------------------------------

    def _record(self, kind: str, detail: str, who: str = "system") -> None:
        self.view.timeline.append(
            TimelineEntry(at=workflow.now(), kind=kind, detail=detail, who=who)
        )
        workflow.logger.info(
            "%s: %s", kind, detail, extra={"seller_id": self.view.seller_id, "who": who}
        )

    def _refresh_status(self) -> None:
        if self.view.closed:
            return
        plan = self.view.plan
        if plan and plan.review_state == "under_review":
            self.view.status = CaseStatus.PLAN_UNDER_REVIEW
        elif plan and plan.review_state == "info_requested":
            self.view.status = CaseStatus.CALL_REQUIRED
        elif self.view.reached:
            self.view.status = CaseStatus.ENGAGED
        else:
            self.view.status = CaseStatus.AWAITING_CONTACT
        self.view.deadline = self._case_deadline() or self.view.deadline

    def _publish(self) -> None:
        """Keep search attributes and the UI's current details in step with the case."""
        self._refresh_status()
        view = self.view
        issue_types = sorted({i.type for i in view.issues})
        current: dict[str, object] = {
            "status": view.status,
            "types": issue_types,
            "deadline": view.deadline,
            "attempts": len(view.call_attempts),
        }
        if current != self._published:
            updates: list[SearchAttributeUpdate[Any]] = [
                sa.CASE_STATUS.value_set(view.status),
                sa.ISSUE_TYPES.value_set(issue_types),
                sa.CALL_ATTEMPTS.value_set(len(view.call_attempts)),
            ]
            if not self._published:
                updates += [
                    sa.SELLER_ID.value_set(view.seller_id),
                    sa.MARKETPLACE.value_set(view.marketplace),
                ]
            if view.status == "resolved":
                # A resolved case must not show up in "deadline before X" searches.
                updates.append(sa.DEACTIVATION_DEADLINE.value_unset())
            elif view.deadline is not None:
                updates.append(sa.DEACTIVATION_DEADLINE.value_set(view.deadline))
            workflow.upsert_search_attributes(updates)
            self._published = current
        workflow.set_current_details(self._details_markdown())

    def _details_markdown(self) -> str:
        view = self.view

        def when(moment: datetime) -> str:
            local = deadlines.local_deadline_text(moment, view.timezone) if view.timezone else ""
            return f"{moment:%Y-%m-%d %H:%M} UTC ({local})"

        lines = [f"- **Status:** `{view.status}`"]
        if view.deadline:
            lines.append(f"- **Deadline:** {when(view.deadline)}")
        if view.next_call_at:
            lines.append(f"- **Next scheduled call:** {when(view.next_call_at)}")
        elif view.calling_stopped_reason and not view.closed:
            lines.append(f"- **Calling stopped:** {view.calling_stopped_reason}")
        lines += [
            "",
            "| issue | type | severity | status | deadline (UTC) |",
            "|---|---|---|---|---|",
        ]
        for i in view.issues:
            lines.append(
                f"| {i.id} | {i.type} | {i.severity} | {i.status} | {i.deadline:%Y-%m-%d %H:%M} |"
            )
        recent = view.call_attempts[-3:]
        if recent:
            lines += ["", "**Last attempts:**", ""]
            for a in recent:
                origin = "seller" if a.seller_initiated else "proactive"
                placed = f"{a.placed_at:%Y-%m-%d %H:%M} UTC" if a.placed_at else "dialling"
                lines.append(f"- #{a.number} ({origin}) {placed}: {a.outcome or 'pending'}")
        return "\n".join(lines)

    def _wake_loop(self) -> None:
        self._refresh_status()
        self._wake = True

    def _reject_if_closed(self) -> None:
        if self.view.closed:
            raise _rejected(f"the case is closed ({self.view.status})", "CaseClosed")
        if self._closing:
            now = workflow.now()
            overdue = any(i.deadline <= now for i in self.view.open_issues())
            why = ": its deadline has passed" if overdue or not self._ordered else ""
            raise _rejected(f"the case is closing{why}", "CaseClosed")

    def _reject_if_past_deadline(self, issue_ids: list[str]) -> None:
        now = workflow.now()
        late = [i.id for i in self.view.issues if i.id in issue_ids and i.deadline <= now]
        if late:
            raise _rejected(f"the deadline of issue {', '.join(late)} has passed", "DeadlinePassed")

    # ---- messages ------------------------------------------------------------------------

    @workflow.query
    def get_case(self) -> CaseView:
        return self.view

    @workflow.update
    async def detect(self, event: DetectionEvent) -> DetectionReceipt:
        await workflow.wait_condition(lambda: self.policy is not None)
        assert self.policy is not None
        duplicate = self.view.receipt_for(event.event_id)
        if duplicate is not None:
            return duplicate
        created = not self.view.issues
        now = workflow.now()
        issue = Issue(
            id=f"I{len(self.view.issues) + 1}",
            event_id=event.event_id,
            type=event.issue_type,
            severity=event.severity,
            description=event.description,
            detected_at=event.detected_at,
            opened_at=now,
            deadline=deadlines.issue_deadline(event.detected_at, self.policy),
        )
        self.view.issues.append(issue)
        for key, moment in deadlines.reminder_times(
            issue.id, issue.deadline, now, self.policy
        ).items():
            self._reminders[key] = moment
            self._reminder_issue[key] = issue.id
        kind = "case_opened" if created else "issue_added"
        self._record(
            kind,
            f"{issue.id}: {issue.type} ({issue.severity}), event {event.event_id}",
            event.reported_by,
        )
        assert self.policy is not None
        if event.issue_type in self.policy.immediate_deactivation_issue_types:
            self._deactivate_now = ClosureReason.IMMEDIATE_POLICY
        elif not self.view.protected:
            self._deactivate_now = ClosureReason.NOT_ENROLLED
        if self._deactivate_now is not None:
            self._closing = True
            self._record("immediate_deactivation", IMMEDIATE_REASONS[self._deactivate_now])
        else:
            self._email(EmailKind.ISSUE_OPENED, f"issue-opened/{issue.id}", issues=[issue])
        self._wake_loop()
        return DetectionReceipt(case_id=self.view.case_id, created=created, issue_id=issue.id)

    @detect.validator
    def _validate_detect(self, event: DetectionEvent) -> None:
        if event.seller_id != self.view.seller_id:
            raise _rejected("the event is for another seller", "WrongSeller")
        receipt = self.view.receipt_for(event.event_id)
        if receipt is not None:
            # A redelivered event is answered, not applied: a rejected update writes no history.
            raise ApplicationError(
                f"event {event.event_id} already received", receipt, type="DuplicateEvent"
            )
        self._reject_if_closed()

    @workflow.update
    def contact_me_now(self, request: ContactRequest | None = None) -> ContactReceipt:
        who = request.requested_by if request else "seller"
        for attempt in self.view.pending_calls():
            if attempt.seller_initiated:
                return ContactReceipt(attempt=attempt.number, created=False)
        attempt = self._new_attempt(seller_initiated=True, scheduled_for=workflow.now())
        self._to_dial.append(attempt)
        self._record(
            "contact_me_now", f"seller asked to be called now (attempt {attempt.number})", who
        )
        if not self.view.reached:
            self._record("seller_reached", "the seller pressed contact me now", who)
        self.view.reached = True
        self._wake_loop()
        return ContactReceipt(attempt=attempt.number, created=True)

    @contact_me_now.validator
    def _validate_contact_me_now(self, request: ContactRequest | None = None) -> None:
        self._reject_if_closed()
        if self._background and self._calling_stopped_reason() is not None:
            raise _rejected(
                "we cannot call you: update your emergency phone number first", "NoWorkingPhone"
            )

    @workflow.update
    def report_call_outcome(self, report: CallReport) -> CallAttempt:
        attempt = self.view.call_attempts[report.attempt - 1]
        self._apply_outcome(attempt, report.outcome, report.reported_by)
        self._wake_loop()
        return attempt

    @report_call_outcome.validator
    def _validate_call_outcome(self, report: CallReport) -> None:
        self._reject_if_closed()
        if not 1 <= report.attempt <= len(self.view.call_attempts):
            raise _rejected(f"there is no call attempt {report.attempt}", "UnknownAttempt")
        attempt = self.view.call_attempts[report.attempt - 1]
        if attempt.placed_at is None:
            raise _rejected(
                f"call attempt {report.attempt} is still being placed; report it once dialled",
                "NotPlaced",
            )
        if attempt.outcome is not None and not _timed_out(attempt):
            raise _rejected(
                f"call attempt {report.attempt} was already reported: {attempt.outcome}",
                "AlreadyReported",
            )

    @workflow.update
    def submit_plan(self, submission: PlanSubmission) -> Plan:
        issue_ids = submission.issue_ids or [i.id for i in self.view.open_issues()]
        self.view.plan = Plan(
            root_cause=submission.root_cause.strip(),
            corrective_actions=[a.strip() for a in submission.corrective_actions],
            preventive_measures=[p.strip() for p in submission.preventive_measures],
            issue_ids=issue_ids,
            submitted_at=workflow.now(),
            submitted_by=submission.submitted_by,
        )
        self._record("plan_submitted", f"plan for {', '.join(issue_ids)}", submission.submitted_by)
        self._wake_loop()
        return self.view.plan

    @submit_plan.validator
    def _validate_plan(self, submission: PlanSubmission) -> None:
        self._reject_if_closed()
        if self.view.status == "plan_under_review":
            raise _rejected("a plan is already under review", "PlanUnderReview")
        if self.view.status == "call_required":
            raise _rejected(
                "the team needs to speak with you first: answer its call or press contact me now",
                "CallRequired",
            )
        # (field, reason) pairs, so that a form can show each reason beside its field.
        problems: list[tuple[str, str]] = []
        if not submission.root_cause.strip():
            problems.append(("root_cause", "root_cause is empty"))
        for field in ("corrective_actions", "preventive_measures"):
            items = getattr(submission, field)
            if not items:
                problems.append((field, f"{field} needs at least one entry"))
            elif any(not item.strip() for item in items):
                problems.append((field, f"{field} has an empty entry"))
        for issue_id in submission.issue_ids:
            issue = self.view.issue(issue_id)
            if issue is None:
                problems.append(("issue_ids", f"unknown issue {issue_id}"))
            elif issue.status != "open":
                problems.append(("issue_ids", f"issue {issue_id} is already resolved"))
        if problems:
            raise _rejected(
                "; ".join(reason for _, reason in problems),
                "InvalidPlan",
                [{"field": field, "reason": reason} for field, reason in problems],
            )
        self._reject_if_past_deadline(
            submission.issue_ids or [i.id for i in self.view.open_issues()]
        )

    @workflow.update
    def review_plan(self, review: Review) -> Plan:
        plan = self.view.plan
        assert plan is not None
        plan.reviewed_at = workflow.now()
        plan.reviewed_by = review.reviewer
        if review.decision == "accept":
            plan.review_state = ReviewState.ACCEPTED
            self._record(
                "plan_accepted", f"plan accepted for {', '.join(plan.issue_ids)}", review.reviewer
            )
            for issue_id in plan.issue_ids:
                self._resolve(issue_id, "plan of action accepted", review.reviewer)
        else:
            plan.review_state = ReviewState.INFO_REQUESTED
            plan.questions = [q.strip() for q in review.questions]
            self._call_not_before = workflow.now()
            self._record(
                "info_requested",
                "call required before resolution: " + " | ".join(plan.questions),
                review.reviewer,
            )
        self._wake_loop()
        return plan

    @review_plan.validator
    def _validate_review(self, review: Review) -> None:
        self._reject_if_closed()
        plan = self.view.plan
        if plan is None or plan.review_state == "accepted":
            raise _rejected("there is no plan to review", "NoPlan")
        if plan.review_state == "info_requested":
            raise _rejected(
                "more information was requested: a call must be answered first", "CallRequired"
            )
        if review.decision == "request_info" and not any(q.strip() for q in review.questions):
            reason = "request_info needs at least one question"
            raise _rejected(reason, "InvalidReview", [{"field": "questions", "reason": reason}])
        if review.decision == "accept":
            self._reject_if_past_deadline(plan.issue_ids)

    @workflow.update
    def resolve_issue(self, resolution: Resolution) -> Issue:
        self._resolve(resolution.issue_id, resolution.note.strip(), resolution.resolved_by)
        self._wake_loop()
        issue = self.view.issue(resolution.issue_id)
        assert issue is not None
        return issue

    @resolve_issue.validator
    def _validate_resolve(self, resolution: Resolution) -> None:
        self._reject_if_closed()
        issue = self.view.issue(resolution.issue_id)
        if issue is None:
            raise _rejected(f"unknown issue {resolution.issue_id}", "UnknownIssue")
        if issue.status != "open":
            raise _rejected(f"issue {issue.id} is already resolved", "AlreadyResolved")
        if not resolution.note.strip():
            reason = "a resolution needs a note"
            raise _rejected(reason, "InvalidResolution", [{"field": "note", "reason": reason}])
        self._reject_if_past_deadline([issue.id])
        if not self.view.reached:
            raise _rejected("the seller has not been reached yet", "NotReached")
        plan = self.view.plan
        if plan and plan.review_state == "info_requested" and issue.id in plan.issue_ids:
            raise _rejected(
                f"issue {issue.id} needs an answered call after the request for information",
                "CallRequired",
            )

    def _resolve(self, issue_id: str, note: str, who: str) -> None:
        issue = self.view.issue(issue_id)
        if issue is None or issue.status != "open":
            return
        issue.status = IssueStatus.RESOLVED
        issue.resolved_at = workflow.now()
        issue.resolved_by = who
        issue.resolution = note
        self._record("issue_resolved", f"{issue.id}: {note}", who)

    @workflow.signal(name="call_placed")
    def call_placed(self, placed: CallPlaced) -> None:
        """The dial activity handed the attempt to the dialer (before its completion lands)."""
        if not 1 <= placed.attempt <= len(self.view.call_attempts):
            return
        attempt = self.view.call_attempts[placed.attempt - 1]
        who = "seller (contact me now)" if attempt.seller_initiated else "proactive"
        # The case's own clock, not the dialer's: the two differ under time skipping, and
        # the signal lands within milliseconds of the dial.
        self._placed(attempt, workflow.now(), who)
        self._wake_loop()

    @workflow.signal
    def contact_changed(self, change: ContactChange | None = None) -> None:
        """The seller's contact data changed in the directory: read it again."""
        self._profile_changed_by = change.changed_by if change else "system"
        self._profile_stale = True
        self._wake = True
