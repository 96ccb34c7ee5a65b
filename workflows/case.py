"""The at-risk case: one durable workflow per seller's open case, around the pure `Case`.

Handlers ask `Case` and wake the main loop; the loop carries out what the case decided
(emails, calls, deactivation) and sleeps in one timer until the next thing falls due.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    # Passed through, these load once per worker rather than once per case; none of them
    # (the shell's own helpers included) keeps state of its own.
    from activities.accounts import AccountActivities
    from aha.catalogue_file import shipped_catalogue
    from aha.domain.case import Case, Edition
    from aha.domain.effects import CloseResolved, Deactivate
    from aha.domain.models import (
        CallAttempt,
        Callback,
        CallbackCancel,
        CallbackRequest,
        CallPlaced,
        CallReport,
        CaseStart,
        CaseView,
        ContactChange,
        ContactReceipt,
        ContactRequest,
        DetectionEvent,
        DetectionReceipt,
        Extension,
        Issue,
        Ownership,
        OwnershipChange,
        Plan,
        PlanSubmission,
        Resolution,
        Review,
        SellerProfile,
        TimelineEntry,
    )
    from aha.domain.policy import Policy
    from aha.domain.refusals import Refusal
    from aha.domain.vocabulary import ClosureReason
    from workflows.case_board import BoardWriter
    from workflows.case_effects import ACTIVITY_TIMEOUT, RETRY, CaseEffects
    from workflows.case_metrics import CaseMetrics
    from workflows.case_publisher import CasePublisher
    from workflows.notices import failure_reason


# Patches: cases opened before a change replay the old way. Remove a patch's old branch
# (then the patch itself, via deprecate_patch) once no case from before it is still open.
# v2: side effects run beside the main loop with bounded retries, so a mail or dialer
# outage can no longer hold the deadline back; policy and profile load together.
BACKGROUND_EFFECTS = "background-effects-v2"
# v3: emails go out one at a time in the order the case decided them, those that carry
# consequences for as long as the policy's notice_give_up; the case seals its run as it
# closes, so no call or stale email follows its end, even one retried after a crash; a call
# shows as placed as soon as the dialer has it; and notices still owed at the end go on in
# their own workflow, so the seller's next case never waits for them.
ORDERED_NOTICES = "ordered-notices-v3"
# v4: SLA clocks that warn the owner and tell supervisors of breaches, and the case's row on
# the console's board, written at every change.
CONSOLE = "console-v4"
# v5: proactive calls and the first-attempt SLA clock follow the calling calendar of the
# seller's marketplace (from the directory), holidays included.
CALLING_CALENDARS = "calling-calendars-v5"
# v8: a supervisor may extend an issue's deadline (audited, reminders recomputed), and the
# policy's deadline_applies_to = "contact" lifts the deadline once the seller is reached.
DEADLINE_RULES = "deadline-rules-v8"
# v10: proactive calls prefer the seller's preferred contact windows inside the calendar,
# until the policy's preferred_windows_until before the earliest open deadline.
PREFERRED_WINDOWS = "preferred-windows-v10"
# v11: consent to calls and the do-not-call list are checked just before every dial; a call
# not placed is recorded with a note to use email; contact me now rings regardless.
CALL_CONSENT = "call-consent-v11"
# v9: the seller may schedule a callback (one pending, replaced or cancelled); the case places
# it at its time, outside the calling calendar, once any call in progress has ended.
SELLER_CALLBACKS = "seller-callbacks-v9"

LOCAL_READ_TIMEOUT = timedelta(seconds=10)
# Sealing and deactivating are quick database writes: a short timeout keeps a crash from
# delaying the deactivation by more than a few seconds.
CLOSING_TIMEOUT = timedelta(seconds=10)


def _failure(refusal: Refusal) -> ApplicationError:
    if refusal.receipt is not None:
        # A redelivered event is answered, not applied: a rejected update writes no history.
        return ApplicationError(refusal.message, refusal.receipt, type=refusal.kind.value)
    reasons = [{"field": r.field, "reason": r.reason} for r in refusal.reasons]
    details = [reasons] if reasons else []
    return ApplicationError(refusal.message, *details, type=refusal.kind.value, non_retryable=True)


@workflow.defn(name="CaseWorkflow")
class CaseWorkflow:
    @workflow.init
    def __init__(self, start: CaseStart) -> None:
        info = workflow.info()
        self._metrics = CaseMetrics()
        self.case = Case(
            start,
            info.workflow_id,
            info.run_id,
            on_record=self._log,
            guidance_for=shipped_catalogue().guidance,
        )
        self._wake = False
        self._profile_stale = False
        self._profile_changed_by = "system"
        self._effects = CaseEffects(self.case, self._request_wake)
        self._publisher = CasePublisher()
        self._board = BoardWriter()
        self._board_writing: asyncio.Task[None] | None = None

    # ---- the main loop -------------------------------------------------------------------

    @workflow.run
    async def run(self, start: CaseStart) -> CaseView:
        self.case.edition = self._edition()
        if self.case.edition >= Edition.BACKGROUND:
            policy, profile = await asyncio.gather(self._load_policy(), self._load_profile())
        else:
            policy = await self._load_policy()
            self.case.policy = policy  # edition 1 answers a detection before the profile is in
            profile = await self._load_profile()
        if self.case.edition >= Edition.ORDERED:
            self._effects.start_courier(policy.notice_give_up)
        if self.case.edition >= Edition.CONSOLE:
            self._board_writing = asyncio.create_task(self._board.run())
        self.case.begin(policy, profile, workflow.now())
        await workflow.wait_condition(lambda: bool(self.case.view.issues))
        while not self.case.view.closed:
            await self._step()
        await workflow.wait_condition(lambda: self._effects.settled)
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self.case.edition >= Edition.CONSOLE:
            await self._board.flush()
        return self.case.view

    @staticmethod
    def _edition() -> Edition:
        """The one place that asks which rules this case opened under."""
        if not workflow.patched(BACKGROUND_EFFECTS):
            return Edition.SEQUENTIAL
        if not workflow.patched(ORDERED_NOTICES):
            return Edition.BACKGROUND
        if not workflow.patched(CONSOLE):
            return Edition.ORDERED
        if not workflow.patched(CALLING_CALENDARS):
            return Edition.CONSOLE
        if not workflow.patched(DEADLINE_RULES):
            return Edition.CALENDARS
        if not workflow.patched(SELLER_CALLBACKS):
            return Edition.DEADLINES
        if not workflow.patched(PREFERRED_WINDOWS):
            return Edition.CALLBACKS
        if not workflow.patched(CALL_CONSENT):
            return Edition.PREFERRED_WINDOWS
        return Edition.CONSENT

    async def _step(self) -> None:
        if self._profile_stale:
            self._profile_stale = False
            await self._refresh_profile()
        effects = self.case.tick(workflow.now())
        for effect in effects:
            if isinstance(effect, Deactivate):
                await self._deactivate(effect.reason)
                return
            if isinstance(effect, CloseResolved):
                await self._close_resolved()
                return
        self._effects.carry_out(effects)
        if self.case.edition >= Edition.BACKGROUND:
            self._effects.carry_out(self.case.plan_calls(workflow.now()))
            self._effects.start()
        else:
            await self._effects.send_outbox()
            self._effects.carry_out(self.case.plan_calls(workflow.now()))
            await self._effects.dial_queued()
        self._publish()
        await self._sleep_until_next_due()

    async def _sleep_until_next_due(self) -> None:
        due = self.case.next_due()
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

    def _log(self, entry: TimelineEntry) -> None:
        extra = {"seller_id": self.case.view.seller_id, "who": entry.who}
        workflow.logger.info("%s: %s", entry.kind, entry.detail, extra=extra)
        self._metrics.recorded(entry, self.case.view)

    def _request_wake(self) -> None:
        self._wake = True

    def _publish(self) -> None:
        self.case.refresh_status()
        self._publisher.publish(self.case.view)
        if self.case.edition >= Edition.CONSOLE:
            self._board.offer(self.case.view)

    # ---- endings -------------------------------------------------------------------------

    def _closed_on_board(self) -> None:
        """The queue drops the case as it closes, not once its last emails are settled."""
        if self.case.edition >= Edition.CONSOLE:
            self._board.offer(self.case.view)

    async def _seal(self) -> None:
        """From here on no fenced effect (a call, a reminder) runs, wherever it was retried."""
        self.case.closing = True
        await workflow.execute_activity_method(
            AccountActivities.seal_case,
            self.case.run_key,
            start_to_close_timeout=CLOSING_TIMEOUT,
            retry_policy=RETRY,
            summary="seal the case: no call or reminder after its end",
        )

    async def _close_resolved(self) -> None:
        if self.case.edition >= Edition.ORDERED:
            await self._seal()
        self._effects.cancel_dials()
        self._effects.carry_out(self.case.close_resolved(workflow.now()))
        self._closed_on_board()
        await self._effects.finish()
        self._publish()

    async def _deactivate(self, reason: ClosureReason) -> None:
        self.case.start_deactivation(reason, workflow.now())
        if self.case.edition >= Edition.ORDERED:
            await self._seal()
        await workflow.execute_activity_method(
            AccountActivities.deactivate_account,
            self.case.view.seller_id,
            start_to_close_timeout=CLOSING_TIMEOUT
            if self.case.edition >= Edition.ORDERED
            else ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary="deactivate the seller's account",
        )
        self._effects.cancel_dials()
        self._effects.carry_out(self.case.deactivated(workflow.now()))
        self._closed_on_board()
        await self._effects.finish()
        self._publish()

    # ---- the policy and the seller's contact data ----------------------------------------

    async def _load_policy(self) -> Policy:
        policy: Policy = await self._read(
            AccountActivities.current_policy, [], "load the policy in force"
        )
        return policy

    async def _load_profile(self) -> SellerProfile:
        profile: SellerProfile = await self._read(
            AccountActivities.seller_profile,
            [self.case.view.seller_id],
            "read the seller's time zone and phone status",
        )
        return profile

    async def _read(self, method: Any, args: list[Any], summary: str) -> Any:
        if self.case.edition >= Edition.BACKGROUND:
            # A local read: as a local activity it costs no round trip through the server,
            # so a detection's answer does not wait for two extra workflow tasks.
            return await workflow.execute_local_activity_method(
                method,
                args=args,
                start_to_close_timeout=LOCAL_READ_TIMEOUT,
                retry_policy=RETRY,
                summary=summary,
            )
        return await workflow.execute_activity_method(
            method,
            args=args,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary=summary,
        )

    async def _refresh_profile(self) -> None:
        try:
            profile = await self._load_profile()
        except ActivityError as err:
            self.case.profile_unavailable(failure_reason(err), workflow.now())
            return
        self.case.profile_refreshed(profile, self._profile_changed_by, workflow.now())

    # ---- messages ------------------------------------------------------------------------

    def _refuse_if(self, check: Any, *args: Any) -> None:
        try:
            check(*args, workflow.now())
        except Refusal as refusal:
            raise _failure(refusal) from None

    @workflow.query
    def get_case(self) -> CaseView:
        return self.case.view

    @workflow.update
    async def detect(self, event: DetectionEvent) -> DetectionReceipt:
        await workflow.wait_condition(lambda: self.case.policy is not None)
        receipt, effects = self.case.detect(event, workflow.now())
        if not receipt.duplicate:
            self._effects.carry_out(effects)
            self._wake = True
        return receipt

    @detect.validator
    def _validate_detect(self, event: DetectionEvent) -> None:
        self._refuse_if(self.case.check_detect, event)

    @workflow.update
    def contact_me_now(self, request: ContactRequest | None = None) -> ContactReceipt:
        who = request.requested_by if request else "seller"
        receipt, effects = self.case.contact_me_now(who, workflow.now())
        if receipt.created:
            self._effects.carry_out(effects)
            self._wake = True
        return receipt

    @contact_me_now.validator
    def _validate_contact_me_now(self, request: ContactRequest | None = None) -> None:
        self._refuse_if(self.case.check_contact_me_now)

    @workflow.update
    def report_call_outcome(self, report: CallReport) -> CallAttempt:
        attempt, effects = self.case.report_call_outcome(report, workflow.now())
        self._effects.carry_out(effects)
        self._wake = True
        return attempt

    @report_call_outcome.validator
    def _validate_call_outcome(self, report: CallReport) -> None:
        self._refuse_if(self.case.check_call_outcome, report)

    @workflow.update
    def submit_plan(self, submission: PlanSubmission) -> Plan:
        plan = self.case.submit_plan(submission, workflow.now())
        self._wake = True
        return plan

    @submit_plan.validator
    def _validate_plan(self, submission: PlanSubmission) -> None:
        self._refuse_if(self.case.check_plan, submission)

    @workflow.update
    def review_plan(self, review: Review) -> Plan:
        plan = self.case.review_plan(review, workflow.now())
        self._wake = True
        return plan

    @review_plan.validator
    def _validate_review(self, review: Review) -> None:
        self._refuse_if(self.case.check_review, review)

    @workflow.update
    def resolve_issue(self, resolution: Resolution) -> Issue:
        issue = self.case.resolve_issue(resolution, workflow.now())
        self._wake = True
        return issue

    @resolve_issue.validator
    def _validate_resolve(self, resolution: Resolution) -> None:
        self._refuse_if(self.case.check_resolution, resolution)

    @workflow.update
    def extend_deadline(self, extension: Extension) -> Issue:
        issue, effects = self.case.extend(extension, workflow.now())
        self._effects.carry_out(effects)
        self._wake = True
        return issue

    @extend_deadline.validator
    def _validate_extend(self, extension: Extension) -> None:
        self._refuse_if(self.case.check_extend, extension)

    @workflow.update
    def schedule_callback(self, request: CallbackRequest) -> Callback:
        callback = self.case.schedule_callback(request, workflow.now())
        self._wake = True
        return callback

    @schedule_callback.validator
    def _validate_schedule_callback(self, request: CallbackRequest) -> None:
        self._refuse_if(self.case.check_callback, request)

    @workflow.update
    def cancel_callback(self, cancel: CallbackCancel) -> Callback:
        callback = self.case.cancel_callback(cancel.cancelled_by, workflow.now())
        self._wake = True
        return callback

    @cancel_callback.validator
    def _validate_cancel_callback(self, cancel: CallbackCancel) -> None:
        self._refuse_if(self.case.check_cancel_callback)

    @workflow.update
    def claim_case(self, change: OwnershipChange) -> Ownership:
        ownership = self.case.claim(change, workflow.now())
        self._wake = True
        return ownership

    @claim_case.validator
    def _validate_claim(self, change: OwnershipChange) -> None:
        self._refuse_if(self.case.check_claim, change)

    @workflow.update
    def release_case(self, change: OwnershipChange) -> Ownership:
        ownership = self.case.release(change, workflow.now())
        self._wake = True
        return ownership

    @release_case.validator
    def _validate_release(self, change: OwnershipChange) -> None:
        self._refuse_if(self.case.check_release, change)

    @workflow.update
    def assign_case(self, change: OwnershipChange) -> Ownership:
        ownership = self.case.assign(change, workflow.now())
        self._wake = True
        return ownership

    @assign_case.validator
    def _validate_assign(self, change: OwnershipChange) -> None:
        self._refuse_if(self.case.check_assign, change)

    @workflow.signal(name="call_placed")
    def call_placed(self, placed: CallPlaced) -> None:
        """The dial activity handed the attempt to the dialer (before its completion lands)."""
        if self.case.attempt(placed.attempt) is None:
            return
        # The case's own clock, not the dialer's: the two differ under time skipping, and
        # the signal lands within milliseconds of the dial.
        self.case.call_placed(placed.attempt, workflow.now())
        self.case.refresh_status()
        self._wake = True

    @workflow.signal
    def contact_changed(self, change: ContactChange | None = None) -> None:
        """The seller's contact data changed in the directory: read it again."""
        self._profile_changed_by = change.changed_by if change else "system"
        self._profile_stale = True
        self._wake = True
