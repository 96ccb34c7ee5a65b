"""The appeal of a deactivated case: its own workflow, linked to the case run it appeals.

The case workflow ends at deactivation and stays ended; the seller's next case is a new run
of the per-seller case id. The appeal, which may last the whole appeal window, runs under
its own id (`<case id>/appeal/<case run id>`) so it never holds that id open.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.accounts import AccountActivities
    from activities.board import BoardActivities
    from activities.email import EmailActivities
    from aha import search_attributes as sa
    from aha.domain import appeals
    from aha.domain.appeal_models import Appeal, AppealReview, AppealView
    from aha.domain.appeals import AppealCase, AppealStart
    from aha.domain.emails import EmailRequest
    from aha.domain.models import PlanSubmission
    from aha.domain.policy import Policy
    from aha.domain.refusals import Refusal
    from aha.domain.vocabulary import AppealState, EmailKind, RefusalKind
    from workflows.case_effects import RETRY
    from workflows.notices import NOTICE_RETRY, failure_reason

READ_TIMEOUT = timedelta(seconds=10)
WRITE_TIMEOUT = timedelta(seconds=10)
EMAIL_TIMEOUT = timedelta(seconds=60)
# The seller must hear the decision: retried through a mail outage for this long.
EMAIL_GIVE_UP = timedelta(days=7)


def _failure(refusal: Refusal) -> ApplicationError:
    reasons = [{"field": r.field, "reason": r.reason} for r in refusal.reasons]
    details = [reasons] if reasons else []
    return ApplicationError(refusal.message, *details, type=refusal.kind.value, non_retryable=True)


@workflow.defn(name="AppealWorkflow")
class AppealWorkflow:
    @workflow.init
    def __init__(self, start: AppealStart) -> None:
        self.appeal = AppealCase(start, workflow.info().workflow_id)
        self._ready = start.window is not None
        self._wake = False
        self._decided: list[Appeal] = []
        self._published_status: str | None = None
        self._row_version = 0

    @workflow.run
    async def run(self, start: AppealStart) -> AppealView:
        if self.appeal.window is None:
            # A case recorded before `appeal_window` existed: the policy in force says.
            policy: Policy = await workflow.execute_local_activity_method(
                AccountActivities.current_policy,
                start_to_close_timeout=READ_TIMEOUT,
                retry_policy=RETRY,
                summary="read the appeal window of the policy in force",
            )
            self.appeal.set_window(appeals.window_for(None, policy))
            self._ready = True
        while True:
            await self._publish()
            while self._decided:
                await self._carry_out(self._decided.pop(0))
                await self._publish()
            if self.appeal.done(workflow.now()):
                break
            await self._wait()
        self.appeal.view.finished = True
        await self._publish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.appeal.view

    async def _wait(self) -> None:
        ends = self.appeal.view.window_ends
        if self.appeal.view.under_review() is not None or ends is None:
            await workflow.wait_condition(lambda: self._wake)
        else:
            timeout = ends - workflow.now()
            if timeout > timedelta(0):
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        lambda: self._wake,
                        timeout=timeout,
                        timeout_summary="the appeal window ends",
                    )
        self._wake = False

    async def _carry_out(self, decided: Appeal) -> None:
        view = self.appeal.view
        if decided.state == AppealState.ACCEPTED:
            await workflow.execute_activity_method(
                AccountActivities.reactivate_account,
                view.seller_id,
                start_to_close_timeout=WRITE_TIMEOUT,
                retry_policy=RETRY,
                summary="reactivate the seller's account: appeal accepted",
            )
            view.account_reactivated = True
            kind = EmailKind.APPEAL_ACCEPTED
        else:
            kind = EmailKind.APPEAL_REJECTED
        request = EmailRequest(
            key=f"{view.appeal_id}/appeal-{decided.number}/{decided.state.value}",
            seller_id=view.seller_id,
            kind=kind,
            reason=decided.reason,
            deadline=view.window_ends,
        )
        try:
            await workflow.execute_activity_method(
                EmailActivities.deliver_email,
                request,
                start_to_close_timeout=EMAIL_TIMEOUT,
                schedule_to_close_timeout=EMAIL_GIVE_UP,
                retry_policy=NOTICE_RETRY,
                summary=f"email the seller: appeal {decided.number} {decided.state.value}",
            )
        except ActivityError as err:
            workflow.logger.warning("appeal email not sent: %s", failure_reason(err))

    async def _publish(self) -> None:
        view = self.appeal.view
        workflow.set_current_details(_details(view))
        if view.status == self._published_status:
            return
        self._published_status = view.status
        workflow.upsert_search_attributes([sa.CASE_STATUS.value_set(view.status)])
        self._row_version += 1
        row = self.appeal.board_row(self._row_version)
        if row is None:
            return
        try:
            await workflow.execute_local_activity_method(
                BoardActivities.record_case_row,
                row,
                start_to_close_timeout=WRITE_TIMEOUT,
                schedule_to_close_timeout=timedelta(minutes=10),
                retry_policy=RETRY,
                summary="show the appeal on the console's board",
            )
        except ActivityError as err:
            workflow.logger.warning("board row not written: %s", failure_reason(err))

    # ---- messages ------------------------------------------------------------------------

    @workflow.query
    def get_appeal(self) -> AppealView:
        return self.appeal.view

    @workflow.update
    async def submit_appeal(self, submission: PlanSubmission) -> Appeal:
        await workflow.wait_condition(lambda: self._ready)
        try:
            # The window was unknown to the validator while the policy was being read.
            self.appeal.check_appeal(submission, workflow.now())
        except Refusal as refusal:
            raise _failure(refusal) from None
        appeal = self.appeal.appeal(submission, workflow.now())
        self._wake = True
        return appeal

    @submit_appeal.validator
    def _validate_appeal(self, submission: PlanSubmission) -> None:
        duplicate = self.appeal.duplicate_of(submission)
        if duplicate is not None:
            # A redelivered appeal is answered, not applied: a rejected update writes no history.
            raise ApplicationError(
                "this appeal is already under review",
                duplicate.model_dump(mode="json"),
                type=RefusalKind.DUPLICATE_APPEAL.value,
            )
        try:
            self.appeal.check_appeal(submission, workflow.now())
        except Refusal as refusal:
            raise _failure(refusal) from None

    @workflow.update
    def review_appeal(self, review: AppealReview) -> Appeal:
        decided = self.appeal.review(review, workflow.now())
        self._decided.append(decided)
        self._wake = True
        return decided

    @review_appeal.validator
    def _validate_review(self, review: AppealReview) -> None:
        try:
            self.appeal.check_review(review)
        except Refusal as refusal:
            raise _failure(refusal) from None


def _details(view: AppealView) -> str:
    lines = [
        f"**Appeal of case {view.case_id}** (run {view.case_run_id}): {view.status}",
        "",
        f"- Deactivated: {view.deactivated_at.isoformat()}",
    ]
    if view.window_ends is not None:
        lines.append(f"- Appeal window ends: {view.window_ends.isoformat()}")
    for appeal in view.appeals:
        line = f"- Appeal {appeal.number} by {appeal.submitted_by}: {appeal.state}"
        if appeal.decided_by:
            line += f" by {appeal.decided_by}"
        if appeal.reason:
            line += f" ({appeal.reason})"
        lines.append(line)
    if view.account_reactivated:
        lines.append("- Account reactivated")
    return "\n".join(lines)
