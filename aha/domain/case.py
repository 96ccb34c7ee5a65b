"""The at-risk case's rules: what a case holds, and what each event and each moment decides.

`Case` knows nothing of Temporal. Every method takes the time as an argument; an action
either returns what changed and the effects to carry out, or raises a `Refusal` and changes
nothing (each action has a `check_*` that raises first, so a caller can refuse before it
records anything).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import IntEnum

from aha.domain import calendar, callbacks, calling, deadlines, plan_parts, preferred, sla
from aha.domain.consent import USE_EMAIL
from aha.domain.effects import (
    AlertStaff,
    CloseResolved,
    Deactivate,
    Effect,
    PlaceCall,
    SendEmail,
)
from aha.domain.emails import EmailRequest
from aha.domain.models import (
    CallAttempt,
    Callback,
    CallbackRequest,
    CallReport,
    CaseStart,
    CaseView,
    ContactReceipt,
    DeadlineExtension,
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
    StaffAlert,
    TimelineEntry,
)
from aha.domain.policy import Policy, format_duration
from aha.domain.refusals import FieldReason, Refusal, invalid_field
from aha.domain.vocabulary import (
    CallOutcome,
    CaseStatus,
    ClockState,
    ClosureReason,
    EmailKind,
    IssueStatus,
    RefusalKind,
    ReviewDecision,
    ReviewState,
    SlaState,
    SlaTarget,
    StaffAlertKind,
    TimelineKind,
)


class Edition(IntEnum):
    """The rules a case opened under; a case keeps its edition for its whole life."""

    # Emails and calls one after another in the main loop.
    SEQUENTIAL = 1
    # Emails and calls beside the loop, one call at a time; no call without a working phone.
    BACKGROUND = 2
    # Emails in order and fenced by the run; closing seals the run; placement is signalled.
    ORDERED = 3
    # SLA clocks with staff alerts; the case keeps its row on the console's board.
    CONSOLE = 4
    # Proactive calls and the first-attempt clock follow the marketplace's calling calendar.
    CALENDARS = 5
    # Audited deadline extensions, and the policy's "contact" reading of the deadline.
    DEADLINES = 8
    # Callbacks the seller schedules: placed at their time, outside the calling calendar.
    CALLBACKS = 9
    # Proactive calls prefer the seller's preferred contact windows, short of the deadline.
    PREFERRED_WINDOWS = 10
    # Consent and the do-not-call list are checked just before every dial.
    CONSENT = 11


# Closure reasons that do not wait for a deadline, and what the seller is told.
IMMEDIATE_REASONS = {
    ClosureReason.NOT_ENROLLED: (
        "the account is not enrolled in Account Health Assurance, so the standard process "
        "applies and the account is deactivated at once"
    ),
    ClosureReason.IMMEDIATE_POLICY: (
        "suspected fraud, deception or illegal activity deactivates an account at once, "
        "protected or not"
    ),
}
# What "working with us" means in the "contact" mode: the seller's engagements.
ENGAGEMENTS = "an answered call, contact me now or a plan of action"

# Who "reported" an attempt nobody reported in time: a person's late report may replace it.
NO_REPORT = "system (no report in time)"
DIALER_FAILED = "system (dialer failed)"
CONSENT_CHECK = "system (consent check)"

# Emails that the case's end makes pointless; the others carry consequences and always go.
DROPPABLE_NOTICES = (EmailKind.REMINDER, EmailKind.INVALID_NUMBER)

Recorded = Callable[[TimelineEntry], None]
# The guidance for an issue type whose detection event carried none (cases opened before
# issue types were data): the shell passes the shipped catalogue's.
GuidanceFor = Callable[[str], list[str]]


def caller(attempt: CallAttempt) -> str:
    if attempt.callback:
        return "seller (scheduled callback)"
    return "seller (contact me now)" if attempt.seller_initiated else "proactive"


class Case:
    def __init__(
        self,
        start: CaseStart,
        case_id: str,
        run_id: str,
        on_record: Recorded | None = None,
        guidance_for: GuidanceFor = lambda _type: [],
    ) -> None:
        self.view = CaseView(
            case_id=case_id,
            run_id=run_id,
            seller_id=start.seller_id,
            marketplace=start.marketplace,
            protected=start.protected,
            protection=start.protection or None,
        )
        self.policy: Policy | None = None
        self.profile: SellerProfile | None = None
        # Set once, as the workflow starts: a case keeps the rules it opened under.
        self.edition = Edition.SEQUENTIAL
        # Closing has begun: no new action, no new call.
        self.closing = False
        self._on_record = on_record
        self._guidance_for = guidance_for
        self._effects: list[Effect] = []
        self._reminders: dict[str, datetime] = {}
        self._reminder_issue: dict[str, str] = {}
        self._reminders_sent: set[str] = set()
        self._call_not_before: datetime | None = None
        self._invalid_phone_version: int | None = None
        self._deactivate_now: ClosureReason | None = None
        self._overdue: list[Issue] = []
        self._deactivation_reason = ""
        # The marketplace whose calendar the case calls in: the seller's record at open.
        self._calling_marketplace = start.marketplace

    # ---- life ----------------------------------------------------------------------------

    def begin(self, policy: Policy, profile: SellerProfile, now: datetime) -> None:
        self.policy, self.profile = policy, profile
        self.view.policy = policy
        self.view.timezone = profile.timezone
        self.view.opened_at = now
        self._call_not_before = now
        if self.edition >= Edition.CALENDARS:
            # The directory knows where the seller trades; a detection may name another.
            self._calling_marketplace = profile.marketplace
            self.view.calling_marketplace = profile.marketplace
        if self.edition >= Edition.CONSOLE:
            self.view.sla_state = SlaState.OK
        if self.edition >= Edition.PREFERRED_WINDOWS:
            self.view.preferred_windows = profile.preferred_windows

    @property
    def run_key(self) -> str:
        """Names this run of the case: sealed at its end, it fences late calls and reminders."""
        return f"{self.view.case_id}/{self.view.run_id}"

    def deadline(self) -> datetime | None:
        return deadlines.case_deadline(i.deadline for i in self.view.open_issues())

    def tick(self, now: datetime) -> list[Effect]:
        """What falls due at `now`: an ending, or the reminders to send."""
        self._expire_unreported_calls(now)
        if self._deactivate_now is not None:
            return self._take([Deactivate(self._deactivate_now)])
        if not self.view.open_issues():
            return self._take([CloseResolved()])
        case_deadline = self.deadline()
        if case_deadline is not None and now >= case_deadline:
            return self._take([Deactivate(self._deadline_reason())])
        disengaged = self._engagement_due()
        if disengaged is not None and now >= disengaged:
            return self._take([Deactivate(ClosureReason.SELLER_DISENGAGED)])
        self._queue_due_reminders(now)
        self._sla_points_due(now)
        return self._take()

    def next_due(self) -> tuple[datetime, str] | None:
        """When the case must look again, and why (for the timer's summary)."""
        assert self.policy is not None
        candidates: list[tuple[datetime, str]] = []
        case_deadline = self.deadline()
        if case_deadline is not None:
            what = "end of the resolution window" if self.lifted else "deactivation deadline"
            candidates.append((case_deadline, what))
        disengaged = self._engagement_due()
        if disengaged is not None:
            candidates.append((disengaged, "seller engagement timeout"))
        reminder = deadlines.next_reminder(self._reminders, self._reminders_sent)
        if reminder is not None:
            candidates.append((reminder, "reminder email"))
        if self.view.next_call_at is not None:
            candidates.append((self.view.next_call_at, "next proactive call"))
        if self.view.callback is not None and not self.view.pending_calls():
            # With a call in progress, its outcome (or its report timeout) wakes the case.
            candidates.append((self.view.callback.at, "the seller's scheduled callback"))
        for attempt in self.view.pending_calls():
            if attempt.placed_at is not None:
                expiry = attempt.placed_at + self.policy.call_report_timeout
                candidates.append((expiry, f"outcome of call attempt {attempt.number}"))
        sla_point = sla.next_point(self.view.sla)
        if sla_point is not None:
            candidates.append((sla_point, "SLA warning or breach"))
        return min(candidates, default=None)

    # ---- endings -------------------------------------------------------------------------

    def start_deactivation(self, reason: ClosureReason, now: datetime) -> None:
        """From here on the case takes no more actions: the deadline (or the rule) has won."""
        self.closing = True
        if reason in (ClosureReason.DEADLINE_PASSED, ClosureReason.RESOLUTION_WINDOW_PASSED):
            self._overdue = [i for i in self.view.open_issues() if i.deadline <= now]
            ids = ", ".join(i.id for i in self._overdue)
            what = "deadline" if reason == ClosureReason.DEADLINE_PASSED else "resolution window"
            self._deactivation_reason = f"{what} passed with unresolved issue(s) " + ids
        elif reason == ClosureReason.SELLER_DISENGAGED:
            assert self.policy is not None
            self._overdue = self.view.open_issues()
            self._deactivation_reason = (
                f"no engagement from the seller ({ENGAGEMENTS}) for "
                f"{format_duration(self.policy.engagement_timeout)}, with unresolved issue(s) "
                + ", ".join(i.id for i in self._overdue)
            )
        else:
            self._overdue = self.view.open_issues()
            self._deactivation_reason = IMMEDIATE_REASONS[reason]
        self.view.closure_reason = reason

    def deactivated(self, now: datetime) -> list[Effect]:
        """The account is deactivated: close, and tell the seller why."""
        self.record(TimelineKind.ACCOUNT_DEACTIVATED, self._deactivation_reason, now=now)
        self._close(CaseStatus.DEACTIVATED, now)
        self._email(
            EmailKind.DEACTIVATED,
            "deactivated",
            now,
            issues=self._overdue,
            reason=self._deactivation_reason,
            closure=self.view.closure_reason if self.edition >= Edition.DEADLINES else None,
        )
        return self._take()

    def close_resolved(self, now: datetime) -> list[Effect]:
        self.record(TimelineKind.CASE_RESOLVED, "every issue resolved before its deadline", now=now)
        self.view.closure_reason = ClosureReason.RESOLVED
        self._close(CaseStatus.RESOLVED, now)
        self._email(EmailKind.RESOLVED, "resolved", now, issues=self.view.issues)
        return self._take()

    def _close(self, status: CaseStatus, now: datetime) -> None:
        self.closing = True
        for attempt in self.view.pending_calls():
            self.record(
                TimelineKind.CALL_ABANDONED,
                f"attempt {attempt.number} had no outcome when the case closed",
                now=now,
            )
        if self.view.callback is not None:
            self.record(
                TimelineKind.CALLBACK_CANCELLED,
                f"callback for {self.view.callback.at:%Y-%m-%d %H:%M} UTC dropped: the case closed",
                now=now,
            )
            self.view.callback = None
        self.view.status = status
        self.view.closed_at = now
        self.view.next_call_at = None

    def stale_reason(self, kind: EmailKind, request: EmailRequest | None) -> str | None:
        """Why an email the case queued is no longer worth sending, if it is not."""
        if kind not in DROPPABLE_NOTICES:
            return None
        if self.closing or self.view.closed:
            return "the case closed first"
        if request is None:
            return None
        if kind == EmailKind.REMINDER:
            issue = self.view.issue(request.issues[0].id) if request.issues else None
            if issue is None or issue.status != IssueStatus.OPEN:
                return "its issue was resolved first"
        newer_phone = (
            self.profile is not None
            and request.phone_version is not None
            and request.phone_version != self.profile.phone_version
        )
        if kind == EmailKind.INVALID_NUMBER and newer_phone:
            return "the emergency phone number was changed first"
        return None

    # ---- emails --------------------------------------------------------------------------

    def _email(
        self,
        kind: EmailKind,
        step: str,
        now: datetime,
        issues: list[Issue] | None = None,
        reason: str = "",
        closure: ClosureReason | None = None,
    ) -> None:
        request = EmailRequest(
            key=f"{self.run_key}/email/{step}",
            seller_id=self.view.seller_id,
            kind=kind,
            issues=issues or [],
            deadline=self.deadline(),
            reason=reason,
            closure_reason=closure,
        )
        if self.edition >= Edition.ORDERED:
            if kind in DROPPABLE_NOTICES:
                request.fence = self.run_key
            if kind == EmailKind.INVALID_NUMBER and self.profile is not None:
                request.phone_version = self.profile.phone_version
        self._effects.append(SendEmail(request))

    def _queue_due_reminders(self, now: datetime) -> None:
        for key in deadlines.due_reminders(self._reminders, now, self._reminders_sent):
            self._reminders_sent.add(key)
            issue = self.view.issue(self._reminder_issue[key])
            if issue is None or issue.status != IssueStatus.OPEN:
                continue
            self._email(EmailKind.REMINDER, key, now, issues=[issue])
            if self.edition == Edition.SEQUENTIAL:
                self.record(
                    TimelineKind.REMINDER_SENT, f"reminder email for issue {issue.id}", now=now
                )

    # ---- calls ---------------------------------------------------------------------------

    def calling_stopped_reason(self) -> str | None:
        assert self.profile is not None
        if not self.profile.has_phone:
            return "no emergency phone on file"
        if self._invalid_phone_version == self.profile.phone_version:
            return "the emergency phone number is invalid; waiting for the seller to fix it"
        return None

    def _needs_proactive_call(self) -> bool:
        if self.view.closed or self.calling_stopped_reason() is not None:
            return False
        return self.view.status == CaseStatus.CALL_REQUIRED or not self.view.reached

    def plan_calls(self, now: datetime) -> list[Effect]:
        """The proactive call due at `now`, if any; otherwise when the next one falls."""
        assert self.policy is not None and self.profile is not None
        self.view.calling_stopped_reason = self.calling_stopped_reason()
        self.view.next_call_at = None
        if self.edition >= Edition.CALLBACKS and not self.view.closed:
            callback = self._callback_due(now)
            if callback is not None:
                return self._take([PlaceCall(callback)])
            if self.view.callback is not None and not self._callback_risks_deadline():
                # The seller named the time to talk: proactive calls wait for it.
                return self._take()
        if not self._needs_proactive_call() or self._call_not_before is None:
            return self._take()
        pending = self.view.pending_calls()
        if self.edition >= Edition.BACKGROUND and pending:
            return self._take()  # one call at a time: never ring a seller already being called
        if any(not a.seller_initiated for a in pending):
            return self._take()
        placed = [a.placed_at for a in self.view.call_attempts if not a.seller_initiated]
        earlier = [p for p in placed if p is not None]
        if self.edition >= Edition.PREFERRED_WINDOWS:
            slot = preferred.next_call_slot(
                max(self._call_not_before, now),
                self.profile.timezone,
                self._calling_days(),
                self.profile.preferred_windows,
                preferred.prefer_until(self.deadline(), self.policy.preferred_windows_until),
                self.policy.max_call_attempts_per_day,
                earlier,
            )
        elif self.edition >= Edition.CALENDARS:
            slot = calendar.next_call_slot(
                max(self._call_not_before, now),
                self.profile.timezone,
                self._calling_days(),
                self.policy.max_call_attempts_per_day,
                earlier,
            )
        else:
            slot = calling.next_call_slot(
                max(self._call_not_before, now),
                self.profile.timezone,
                self.policy.calling_hours,
                self.policy.max_call_attempts_per_day,
                earlier,
            )
        case_deadline = self.deadline()
        if case_deadline is not None and slot >= case_deadline:
            return self._take()
        if slot > now:
            self.view.next_call_at = slot
            return self._take()
        attempt = self._new_attempt(seller_initiated=False, scheduled_for=slot)
        return self._take([PlaceCall(attempt)])

    def _callback_risks_deadline(self) -> bool:
        """A callback asked for within `preferred_windows_until` of the deadline holds back no
        proactive call: waiting for it would leave too little time to work the case."""
        assert self.view.callback is not None and self.policy is not None
        cutoff = preferred.prefer_until(self.deadline(), self.policy.preferred_windows_until)
        return cutoff is not None and self.view.callback.at >= cutoff

    def _callback_due(self, now: datetime) -> CallAttempt | None:
        """The seller's callback, placed once its time has come and no call is in progress;
        the calling calendar does not bind it."""
        callback = self.view.callback
        if callback is None or now < callback.at or self.view.pending_calls():
            return None
        self.view.callback = None
        last = self.view.call_attempts[-1] if self.view.call_attempts else None
        if (
            last is not None
            and last.outcome == CallOutcome.ANSWERED
            and last.outcome_at is not None
            and last.outcome_at >= callback.at
        ):
            # The seller was on the phone with the team at the time it asked for: done.
            self.record(
                TimelineKind.CALLBACK_CANCELLED,
                f"callback for {callback.at:%Y-%m-%d %H:%M} UTC not needed: call attempt "
                f"{last.number} was answered at its time",
                now=now,
            )
            return None
        stopped = self.calling_stopped_reason()
        if stopped is not None:
            self.record(
                TimelineKind.CALLBACK_NOT_PLACED,
                f"callback for {callback.at:%Y-%m-%d %H:%M} UTC not placed: {stopped}",
                now=now,
            )
            return None
        attempt = self._new_attempt(seller_initiated=True, scheduled_for=callback.at)
        attempt.callback = True
        self.record(
            TimelineKind.CALLBACK_DUE,
            f"callback for {callback.at:%Y-%m-%d %H:%M} UTC due (attempt {attempt.number})",
            callback.requested_by,
            now=now,
        )
        return attempt

    def _new_attempt(self, seller_initiated: bool, scheduled_for: datetime) -> CallAttempt:
        guidance = []
        for issue in self.view.open_issues():
            steps = issue.guidance or self._guidance_for(issue.type)
            guidance += [f"{issue.id}: {step}" for step in steps]
        attempt = CallAttempt(
            number=len(self.view.call_attempts) + 1,
            seller_initiated=seller_initiated,
            scheduled_for=scheduled_for,
            guidance=guidance,
        )
        self.view.call_attempts.append(attempt)
        return attempt

    def attempt(self, number: int) -> CallAttempt | None:
        if not 1 <= number <= len(self.view.call_attempts):
            return None
        return self.view.call_attempts[number - 1]

    def call_placed(self, number: int, now: datetime) -> None:
        """The dialer has the attempt; a late or repeated word of it changes nothing."""
        attempt = self.attempt(number)
        if attempt is None:
            return
        if attempt.placed_at is not None or attempt.outcome is not None or self.view.closed:
            return
        self._placed(attempt, now)

    def dial_completed(self, attempt: CallAttempt, now: datetime) -> None:
        if self.edition >= Edition.ORDERED:
            self.call_placed(attempt.number, now)
        else:
            self._placed(attempt, now)  # earlier editions record every completed dial

    def _placed(self, attempt: CallAttempt, now: datetime) -> None:
        attempt.placed_at = now
        if not attempt.seller_initiated:
            # A call the seller asked for rings despite a withdrawal; the next proactive one
            # still would not, so the note to use email stays until a proactive call rings.
            self.view.use_email_because = None
        self.record(
            TimelineKind.CALL_PLACED,
            f"attempt {attempt.number} placed ({caller(attempt)})",
            now=now,
        )
        self._sla_met(SlaTarget.FIRST_ATTEMPT, now)

    def dial_failed(self, attempt: CallAttempt, reason: str, now: datetime) -> None:
        """The dialer gave up on the attempt: it counts as unanswered (which emails no one)."""
        if self.closing and self.edition >= Edition.ORDERED:
            return
        if attempt.outcome is None:
            self.record(TimelineKind.CALL_FAILED, f"attempt {attempt.number}: {reason}", now=now)
            self._apply_outcome(attempt, CallOutcome.NO_ANSWER, DIALER_FAILED, now)

    def call_not_placed(self, attempt: CallAttempt, reason: str, now: datetime) -> None:
        """The dial found consent withdrawn or the number listed: nothing rang.

        It does not count toward the daily cap (no phone rang) but does stop the first-attempt
        clock: the team tried in time and only the seller's choice stopped the call. The next
        proactive check waits the no-answer spacing, and asks the store afresh.
        """
        assert self.policy is not None
        if self.closing or self.view.closed or attempt.outcome is not None:
            return
        if attempt.not_placed is not None:
            return
        attempt.not_placed = reason
        attempt.outcome_at = now
        attempt.reported_by = CONSENT_CHECK
        self.view.use_email_because = reason
        self.record(
            TimelineKind.CALL_NOT_PLACED,
            f"attempt {attempt.number} not placed: {reason}; {USE_EMAIL}",
            now=now,
        )
        self._sla_met(SlaTarget.FIRST_ATTEMPT, now)
        if not attempt.seller_initiated:
            self._call_not_before = now + self.policy.call_retry_after.no_answer
        self.refresh_status()

    def consent_regranted(self, attempt: CallAttempt, overridden: str, now: datetime) -> None:
        """Contact me now rang despite a withdrawal or a listing: for this one call."""
        if attempt.consent_regranted is not None:
            return
        attempt.consent_regranted = overridden
        self.record(
            TimelineKind.CONSENT_REGRANTED,
            f"attempt {attempt.number} placed despite {overridden}: the seller asked for this "
            "call, which re-grants consent for it only",
            now=now,
        )

    def _expire_unreported_calls(self, now: datetime) -> None:
        assert self.policy is not None
        for attempt in self.view.pending_calls():
            if attempt.placed_at and now >= attempt.placed_at + self.policy.call_report_timeout:
                self._apply_outcome(attempt, CallOutcome.NO_ANSWER, NO_REPORT, now)

    def _apply_outcome(
        self, attempt: CallAttempt, outcome: CallOutcome, who: str, now: datetime
    ) -> None:
        assert self.policy is not None and self.profile is not None
        attempt.outcome = outcome
        attempt.outcome_at = now
        attempt.reported_by = who
        self.record(TimelineKind.CALL_OUTCOME, f"attempt {attempt.number}: {outcome}", who, now=now)
        plan = self.view.plan
        if outcome == CallOutcome.ANSWERED:
            if not self.view.reached:
                self.record(
                    TimelineKind.SELLER_REACHED,
                    f"answered call attempt {attempt.number}",
                    who,
                    now=now,
                )
                self._lift_deadlines(now)
            self._engaged(now)
            self.view.reached = True
            self._sla_met(SlaTarget.REACHED, now)
            if plan and plan.review_state == ReviewState.INFO_REQUESTED:
                plan.review_state = ReviewState.UNDER_REVIEW
                self.record(
                    TimelineKind.PLAN_BACK_IN_REVIEW,
                    "call answered after the request for information",
                    now=now,
                )
                self._start_review_clock(now)  # the plan waits for a review again
        elif outcome == CallOutcome.INVALID_NUMBER:
            self._invalid_phone_version = self.profile.phone_version
            self.record(
                TimelineKind.CALLING_STOPPED,
                "invalid emergency phone number; seller emailed",
                now=now,
            )
            self._email(
                EmailKind.INVALID_NUMBER, f"invalid-number/{self.profile.phone_version}", now
            )
        elif not attempt.seller_initiated or attempt.callback:
            # An unanswered callback is spaced from the next proactive call like any other.
            delay = calling.retry_delay(outcome, self.policy)
            if delay is not None:
                self._call_not_before = now + delay
        self.refresh_status()

    # ---- the seller's contact data -------------------------------------------------------

    def profile_refreshed(self, profile: SellerProfile, changed_by: str, now: datetime) -> None:
        assert self.profile is not None
        before, self.profile = self.profile, profile
        self.view.timezone = profile.timezone
        if profile.phone_version != before.phone_version:
            self.record(
                TimelineKind.PHONE_UPDATED,
                "the emergency phone number changed",
                changed_by,
                now=now,
            )
            self._call_not_before = now
        if profile.timezone != before.timezone:
            self.record(
                TimelineKind.TIMEZONE_UPDATED,
                f"time zone is now {profile.timezone}",
                changed_by,
                now=now,
            )
        if (
            self.edition >= Edition.PREFERRED_WINDOWS
            and profile.preferred_windows != before.preferred_windows
        ):
            self.view.preferred_windows = profile.preferred_windows
            windows = profile.preferred_windows
            self.record(
                TimelineKind.PREFERRED_WINDOWS_UPDATED,
                "preferred contact windows are now "
                + (windows.summary() if windows is not None else "none"),
                changed_by,
                now=now,
            )

    def profile_unavailable(self, reason: str, now: datetime) -> None:
        self.record(
            TimelineKind.PROFILE_UNAVAILABLE, f"kept the last contact profile: {reason}", now=now
        )

    # ---- state and timeline --------------------------------------------------------------

    def record(
        self, kind: TimelineKind, detail: str, who: str = "system", *, now: datetime
    ) -> None:
        entry = TimelineEntry(at=now, kind=kind, detail=detail, who=who)
        self.view.timeline.append(entry)
        if self._on_record is not None:
            self._on_record(entry)

    def refresh_status(self) -> None:
        if self.view.closed:
            return
        plan = self.view.plan
        if plan and plan.review_state == ReviewState.UNDER_REVIEW:
            self.view.status = CaseStatus.PLAN_UNDER_REVIEW
        elif plan and plan.review_state == ReviewState.INFO_REQUESTED:
            self.view.status = CaseStatus.CALL_REQUIRED
        elif self.view.reached:
            self.view.status = CaseStatus.ENGAGED
        else:
            self.view.status = CaseStatus.AWAITING_CONTACT
        self.view.deadline = self.deadline() or self.view.deadline
        if self.edition >= Edition.DEADLINES:
            self.view.engagement_due_at = self._engagement_due()

    def _take(self, more: list[Effect] | None = None) -> list[Effect]:
        effects, self._effects = self._effects + (more or []), []
        return effects

    # ---- refusals ------------------------------------------------------------------------

    def check_open(self, now: datetime) -> None:
        if self.view.closed:
            raise Refusal(RefusalKind.CASE_CLOSED, f"the case is closed ({self.view.status})")
        if self.closing:
            overdue = any(i.deadline <= now for i in self.view.open_issues())
            late = overdue or self.edition < Edition.ORDERED
            why = ": its deadline has passed" if late else ""
            raise Refusal(RefusalKind.CASE_CLOSED, f"the case is closing{why}")

    def _check_before_deadline(self, issue_ids: list[str], now: datetime) -> None:
        late = [i.id for i in self.view.issues if i.id in issue_ids and i.deadline <= now]
        if late:
            raise Refusal(
                RefusalKind.DEADLINE_PASSED, f"the deadline of issue {', '.join(late)} has passed"
            )

    # ---- detection -----------------------------------------------------------------------

    def check_detect(self, event: DetectionEvent, now: datetime) -> None:
        if event.seller_id != self.view.seller_id:
            raise Refusal(RefusalKind.WRONG_SELLER, "the event is for another seller")
        receipt = self.view.receipt_for(event.event_id)
        if receipt is not None:
            # A redelivered event is answered, not applied.
            raise Refusal(
                RefusalKind.DUPLICATE_EVENT,
                f"event {event.event_id} already received",
                receipt=receipt,
            )
        self.check_open(now)

    def detect(self, event: DetectionEvent, now: datetime) -> tuple[DetectionReceipt, list[Effect]]:
        assert self.policy is not None
        duplicate = self.view.receipt_for(event.event_id)
        if duplicate is not None:
            return duplicate, []
        created = not self.view.issues
        issue = Issue(
            id=f"I{len(self.view.issues) + 1}",
            event_id=event.event_id,
            type=event.issue_type,
            severity=event.severity,
            description=event.description,
            detected_at=event.detected_at,
            opened_at=now,
            deadline=deadlines.issue_deadline(event.detected_at, self.policy),
            label=event.label,
            guidance=event.guidance,
        )
        tag = ""
        if self.edition >= Edition.DEADLINES:
            if self.lifted:
                # Detected after the seller was reached: the window runs from its opening.
                assert self.policy.resolution_window is not None
                issue.deadline = now + self.policy.resolution_window
                tag = "window"
            issue.original_deadline = issue.deadline
        self.view.issues.append(issue)
        for key, moment in deadlines.reminder_times(
            issue.id, issue.deadline, now, self.policy, tag
        ).items():
            self._reminders[key] = moment
            self._reminder_issue[key] = issue.id
        self.record(
            TimelineKind.CASE_OPENED if created else TimelineKind.ISSUE_ADDED,
            f"{issue.id}: {issue.type} ({issue.severity}), event {event.event_id}",
            event.reported_by,
            now=now,
        )
        if event.issue_type in self.policy.immediate_deactivation_issue_types:
            self._deactivate_now = ClosureReason.IMMEDIATE_POLICY
        elif not self.view.protected:
            self._deactivate_now = ClosureReason.NOT_ENROLLED
        if self._deactivate_now is not None:
            self.closing = True
            self.record(
                TimelineKind.IMMEDIATE_DEACTIVATION,
                IMMEDIATE_REASONS[self._deactivate_now],
                now=now,
            )
        else:
            self._email(EmailKind.ISSUE_OPENED, f"issue-opened/{issue.id}", now, issues=[issue])
            if created:
                self._start_contact_clocks(now)
        self.refresh_status()
        receipt = DetectionReceipt(case_id=self.view.case_id, created=created, issue_id=issue.id)
        return receipt, self._take()

    # ---- contact me now ------------------------------------------------------------------

    def check_contact_me_now(self, now: datetime) -> None:
        self.check_open(now)
        if self.edition >= Edition.BACKGROUND and self.calling_stopped_reason() is not None:
            raise Refusal(
                RefusalKind.NO_WORKING_PHONE,
                "we cannot call you: update your emergency phone number first",
            )

    def contact_me_now(self, who: str, now: datetime) -> tuple[ContactReceipt, list[Effect]]:
        for attempt in self.view.pending_calls():
            if attempt.seller_initiated:
                return ContactReceipt(attempt=attempt.number, created=False), []
        attempt = self._new_attempt(seller_initiated=True, scheduled_for=now)
        self.record(
            TimelineKind.CONTACT_ME_NOW,
            f"seller asked to be called now (attempt {attempt.number})",
            who,
            now=now,
        )
        if not self.view.reached:
            self.record(
                TimelineKind.SELLER_REACHED, "the seller pressed contact me now", who, now=now
            )
            self._lift_deadlines(now)
        self._engaged(now)
        self.view.reached = True
        self._sla_met(SlaTarget.REACHED, now)
        self.refresh_status()
        receipt = ContactReceipt(attempt=attempt.number, created=True)
        if self.edition >= Edition.DEADLINES:
            return receipt, self._take([PlaceCall(attempt)])  # with the lift's email, if any
        return receipt, [PlaceCall(attempt)]

    # ---- scheduled callbacks -------------------------------------------------------------

    def _check_callbacks(self, now: datetime) -> None:
        self.check_open(now)
        if self.edition < Edition.CALLBACKS:
            raise Refusal(
                RefusalKind.CALLBACKS_UNAVAILABLE,
                "this case opened before scheduled callbacks: press contact me now instead",
            )

    def check_callback(self, request: CallbackRequest, now: datetime) -> None:
        self._check_callbacks(now)
        if self.calling_stopped_reason() is not None:
            raise Refusal(
                RefusalKind.NO_WORKING_PHONE,
                "we cannot call you: update your emergency phone number first",
            )
        at = request.at
        problem: str | None
        if at.tzinfo is None or at.utcoffset() is None:
            problem = "at needs a time zone, e.g. 2027-01-16T15:00:00Z"
        else:
            problem = callbacks.callback_problem(at, now, self.deadline())
        if problem is not None:
            raise invalid_field(RefusalKind.INVALID_CALLBACK, "at", problem)

    def schedule_callback(self, request: CallbackRequest, now: datetime) -> Callback:
        """The case calls the seller at `request.at`; a pending callback is replaced."""
        before = self.view.callback
        callback = Callback(
            at=request.at.astimezone(UTC), requested_at=now, requested_by=request.requested_by
        )
        self.view.callback = callback
        if before is None:
            kind, detail = (
                TimelineKind.CALLBACK_SCHEDULED,
                f"callback asked for {callback.at:%Y-%m-%d %H:%M} UTC",
            )
        else:
            kind = TimelineKind.CALLBACK_REPLACED
            detail = (
                f"callback moved from {before.at:%Y-%m-%d %H:%M} UTC to "
                f"{callback.at:%Y-%m-%d %H:%M} UTC"
            )
        self.record(kind, detail, request.requested_by, now=now)
        return callback

    def check_cancel_callback(self, now: datetime) -> None:
        self._check_callbacks(now)
        if self.view.callback is None:
            raise Refusal(RefusalKind.NO_CALLBACK, "no callback is scheduled")

    def cancel_callback(self, who: str, now: datetime) -> Callback:
        callback = self.view.callback
        assert callback is not None
        self.view.callback = None
        self.record(
            TimelineKind.CALLBACK_CANCELLED,
            f"callback for {callback.at:%Y-%m-%d %H:%M} UTC cancelled",
            who,
            now=now,
        )
        return callback

    # ---- call outcomes -------------------------------------------------------------------

    def check_call_outcome(self, report: CallReport, now: datetime) -> None:
        self.check_open(now)
        attempt = self.attempt(report.attempt)
        if attempt is None:
            raise Refusal(RefusalKind.UNKNOWN_ATTEMPT, f"there is no call attempt {report.attempt}")
        if attempt.not_placed is not None:
            raise Refusal(
                RefusalKind.NOT_PLACED,
                f"call attempt {report.attempt} was not placed ({attempt.not_placed}): "
                "there is no outcome to report",
            )
        if attempt.placed_at is None:
            raise Refusal(
                RefusalKind.NOT_PLACED,
                f"call attempt {report.attempt} is still being placed; report it once dialled",
            )
        if attempt.outcome is not None and attempt.reported_by != NO_REPORT:
            # No report came in time; a late report from a person still tells the truth.
            raise Refusal(
                RefusalKind.ALREADY_REPORTED,
                f"call attempt {report.attempt} was already reported: {attempt.outcome}",
            )

    def report_call_outcome(
        self, report: CallReport, now: datetime
    ) -> tuple[CallAttempt, list[Effect]]:
        attempt = self.view.call_attempts[report.attempt - 1]
        self._apply_outcome(attempt, report.outcome, report.reported_by, now)
        self.refresh_status()
        return attempt, self._take()

    # ---- the plan of action --------------------------------------------------------------

    def check_plan(self, submission: PlanSubmission, now: datetime) -> None:
        self.check_open(now)
        if self.view.status == CaseStatus.PLAN_UNDER_REVIEW:
            raise Refusal(RefusalKind.PLAN_UNDER_REVIEW, "a plan is already under review")
        if self.view.status == CaseStatus.CALL_REQUIRED:
            raise Refusal(
                RefusalKind.CALL_REQUIRED,
                "the team needs to speak with you first: answer its call or press contact me now",
            )
        problems = plan_parts.missing_parts(submission)
        for issue_id in submission.issue_ids:
            issue = self.view.issue(issue_id)
            if issue is None:
                problems.append(FieldReason("issue_ids", f"unknown issue {issue_id}"))
            elif issue.status != IssueStatus.OPEN:
                problems.append(FieldReason("issue_ids", f"issue {issue_id} is already resolved"))
        if problems:
            message = "; ".join(p.reason for p in problems)
            raise Refusal(RefusalKind.INVALID_PLAN, message, problems)
        self._check_before_deadline(
            submission.issue_ids or [i.id for i in self.view.open_issues()], now
        )

    def submit_plan(self, submission: PlanSubmission, now: datetime) -> Plan:
        issue_ids = submission.issue_ids or [i.id for i in self.view.open_issues()]
        self.view.plan = Plan(
            root_cause=submission.root_cause.strip(),
            corrective_actions=[a.strip() for a in submission.corrective_actions],
            preventive_measures=[p.strip() for p in submission.preventive_measures],
            issue_ids=issue_ids,
            submitted_at=now,
            submitted_by=submission.submitted_by,
        )
        self.record(
            TimelineKind.PLAN_SUBMITTED,
            f"plan for {', '.join(issue_ids)}",
            submission.submitted_by,
            now=now,
        )
        self._start_review_clock(now)
        self._engaged(now)
        self.refresh_status()
        return self.view.plan

    def check_review(self, review: Review, now: datetime) -> None:
        self.check_open(now)
        plan = self.view.plan
        if plan is None or plan.review_state == ReviewState.ACCEPTED:
            raise Refusal(RefusalKind.NO_PLAN, "there is no plan to review")
        if plan.review_state == ReviewState.INFO_REQUESTED:
            raise Refusal(
                RefusalKind.CALL_REQUIRED,
                "more information was requested: a call must be answered first",
            )
        if review.decision == ReviewDecision.REQUEST_INFO and not any(
            q.strip() for q in review.questions
        ):
            raise invalid_field(
                RefusalKind.INVALID_REVIEW, "questions", "request_info needs at least one question"
            )
        if review.decision == ReviewDecision.ACCEPT:
            self._check_before_deadline(plan.issue_ids, now)

    def review_plan(self, review: Review, now: datetime) -> Plan:
        plan = self.view.plan
        assert plan is not None
        plan.reviewed_at = now
        plan.reviewed_by = review.reviewer
        self._sla_met(SlaTarget.PLAN_REVIEW, now)
        self._engaged(now)  # the review hands the turn back to the seller
        if review.decision == ReviewDecision.ACCEPT:
            plan.review_state = ReviewState.ACCEPTED
            self.record(
                TimelineKind.PLAN_ACCEPTED,
                f"plan accepted for {', '.join(plan.issue_ids)}",
                review.reviewer,
                now=now,
            )
            for issue_id in plan.issue_ids:
                self._resolve(issue_id, "plan of action accepted", review.reviewer, now)
        else:
            plan.review_state = ReviewState.INFO_REQUESTED
            plan.questions = [q.strip() for q in review.questions]
            self._call_not_before = now
            self.record(
                TimelineKind.INFO_REQUESTED,
                "call required before resolution: " + " | ".join(plan.questions),
                review.reviewer,
                now=now,
            )
        self.refresh_status()
        return plan

    # ---- resolution ----------------------------------------------------------------------

    def check_resolution(self, resolution: Resolution, now: datetime) -> None:
        self.check_open(now)
        issue = self.view.issue(resolution.issue_id)
        if issue is None:
            raise Refusal(RefusalKind.UNKNOWN_ISSUE, f"unknown issue {resolution.issue_id}")
        if issue.status != IssueStatus.OPEN:
            raise Refusal(RefusalKind.ALREADY_RESOLVED, f"issue {issue.id} is already resolved")
        if not resolution.note.strip():
            raise invalid_field(RefusalKind.INVALID_RESOLUTION, "note", "a resolution needs a note")
        self._check_before_deadline([issue.id], now)
        if not self.view.reached:
            raise Refusal(RefusalKind.NOT_REACHED, "the seller has not been reached yet")
        plan = self.view.plan
        if plan and plan.review_state == ReviewState.INFO_REQUESTED and issue.id in plan.issue_ids:
            raise Refusal(
                RefusalKind.CALL_REQUIRED,
                f"issue {issue.id} needs an answered call after the request for information",
            )

    def resolve_issue(self, resolution: Resolution, now: datetime) -> Issue:
        self._resolve(resolution.issue_id, resolution.note.strip(), resolution.resolved_by, now)
        self.refresh_status()
        issue = self.view.issue(resolution.issue_id)
        assert issue is not None
        return issue

    def _resolve(self, issue_id: str, note: str, who: str, now: datetime) -> None:
        issue = self.view.issue(issue_id)
        if issue is None or issue.status != IssueStatus.OPEN:
            return
        issue.status = IssueStatus.RESOLVED
        issue.resolved_at = now
        issue.resolved_by = who
        issue.resolution = note
        self.record(TimelineKind.ISSUE_RESOLVED, f"{issue.id}: {note}", who, now=now)

    # ---- deadline extensions -------------------------------------------------------------

    def check_extend(self, extension: Extension, now: datetime) -> None:
        assert self.policy is not None
        self.check_open(now)
        if self.edition < Edition.DEADLINES:
            raise Refusal(
                RefusalKind.NOT_EXTENSIBLE,
                "this case opened before deadline extensions: its deadlines cannot move",
            )
        issue = self.view.issue(extension.issue_id)
        if issue is None:
            raise Refusal(RefusalKind.UNKNOWN_ISSUE, f"unknown issue {extension.issue_id}")
        if issue.status != IssueStatus.OPEN:
            raise Refusal(RefusalKind.ALREADY_RESOLVED, f"issue {issue.id} is already resolved")
        self._check_before_deadline([issue.id], now)
        problems: list[FieldReason] = []
        until = extension.until
        if until.tzinfo is None or until.utcoffset() is None:
            problems.append(
                FieldReason("until", "until needs a time zone, e.g. 2027-01-16T15:00:00Z")
            )
        else:
            try:
                problem = deadlines.extension_problem(
                    issue.deadline,
                    issue.original_deadline or issue.deadline,
                    until.astimezone(UTC),
                    self.policy.max_extension,
                )
            except OverflowError:
                problem = "until is out of range"
            if problem is not None:
                problems.append(FieldReason("until", problem))
        if not extension.reason.strip():
            problems.append(FieldReason("reason", "an extension needs a reason"))
        if problems:
            message = "; ".join(p.reason for p in problems)
            raise Refusal(RefusalKind.INVALID_EXTENSION, message, problems)

    def extend(self, extension: Extension, now: datetime) -> tuple[Issue, list[Effect]]:
        """Move one issue's deadline: its reminders follow it, and the seller is emailed.
        The SLA clocks keep the deadline they started with: they measure the team."""
        issue = self.view.issue(extension.issue_id)
        assert issue is not None
        until = extension.until.astimezone(UTC)
        if issue.original_deadline is None:
            issue.original_deadline = issue.deadline
        entry = DeadlineExtension(
            at=now,
            by=extension.extended_by,
            from_deadline=issue.deadline,
            to_deadline=until,
            reason=extension.reason.strip(),
        )
        issue.extensions.append(entry)
        issue.deadline = until
        self.record(
            TimelineKind.DEADLINE_EXTENDED,
            f"{issue.id}: deadline {entry.from_deadline:%Y-%m-%d %H:%M} -> "
            f"{until:%Y-%m-%d %H:%M} UTC: {entry.reason}",
            extension.extended_by,
            now=now,
        )
        self._reschedule_reminders(issue, f"x{len(issue.extensions)}", now)
        self._email(
            EmailKind.DEADLINE_EXTENDED,
            f"deadline-extended/{issue.id}/{len(issue.extensions)}",
            now,
            issues=[issue.model_copy(deep=True)],
        )
        self.refresh_status()
        return issue, self._take()

    def _reschedule_reminders(self, issue: Issue, tag: str, now: datetime) -> None:
        """Unsent reminders of the old deadline go; the new deadline's are scheduled."""
        assert self.policy is not None
        for key in [k for k, i in self._reminder_issue.items() if i == issue.id]:
            if key not in self._reminders_sent:
                del self._reminders[key]
                del self._reminder_issue[key]
        for key, moment in deadlines.reminder_times(
            issue.id, issue.deadline, now, self.policy, tag
        ).items():
            self._reminders[key] = moment
            self._reminder_issue[key] = issue.id

    # ---- the "contact" reading of the deadline -------------------------------------------

    @property
    def contact_mode(self) -> bool:
        return (
            self.edition >= Edition.DEADLINES
            and self.policy is not None
            and self.policy.deadline_applies_to == "contact"
        )

    @property
    def lifted(self) -> bool:
        return self.view.deadline_lifted_at is not None

    def _deadline_reason(self) -> ClosureReason:
        if self.lifted:
            return ClosureReason.RESOLUTION_WINDOW_PASSED
        return ClosureReason.DEADLINE_PASSED

    def _lift_deadlines(self, now: datetime) -> None:
        """The seller is reached: in the "contact" mode, no deactivation deadline any more;
        each open issue has the resolution window from now to be worked through."""
        if not self.contact_mode or self.lifted:
            return
        case_deadline = self.deadline()
        if case_deadline is None or now >= case_deadline:
            return
        assert self.policy is not None and self.policy.resolution_window is not None
        window_end = now + self.policy.resolution_window
        self.view.deadline_lifted_at = now
        lifted = self.view.open_issues()
        for issue in lifted:
            # Never shorter than an extension already granted.
            issue.deadline = max(issue.deadline, window_end)
            issue.original_deadline = issue.deadline
            self._reschedule_reminders(issue, "window", now)
        self.record(
            TimelineKind.DEADLINE_LIFTED,
            f"seller reached before the deadline: deactivation deadline lifted; "
            f"{', '.join(i.id for i in lifted)} to be resolved by {window_end:%Y-%m-%d %H:%M} UTC "
            f"(resolution window {format_duration(self.policy.resolution_window)}), with "
            f"{ENGAGEMENTS} at least every {format_duration(self.policy.engagement_timeout)}",
            now=now,
        )
        self._email(
            EmailKind.DEADLINE_LIFTED,
            "deadline-lifted",
            now,
            issues=[i.model_copy(deep=True) for i in lifted],
        )

    def _engaged(self, now: datetime) -> None:
        if self.contact_mode and self.lifted:
            self.view.engaged_at = now

    def _engagement_due(self) -> datetime | None:
        """When the seller counts as disengaged: none before the lift, and none while a plan
        waits for the team's review (the team's turn, not the seller's)."""
        if not self.contact_mode or self.view.engaged_at is None or self.view.closed:
            return None
        if self.view.status == CaseStatus.PLAN_UNDER_REVIEW:
            return None
        assert self.policy is not None
        return self.view.engaged_at + self.policy.engagement_timeout

    # ---- ownership -----------------------------------------------------------------------

    def check_claim(self, change: OwnershipChange, now: datetime) -> None:
        self.check_open(now)
        self._check_named(change)
        owner = self.view.assigned_to
        if owner is not None and owner != change.specialist and not change.supervisor:
            raise Refusal(
                RefusalKind.OWNED_BY_OTHER,
                f"the case is owned by {owner}; a supervisor can reassign it",
            )

    def claim(self, change: OwnershipChange, now: datetime) -> Ownership:
        return self._own(change, TimelineKind.CASE_CLAIMED, "claimed by {new}", "taken from", now)

    def check_release(self, change: OwnershipChange, now: datetime) -> None:
        self.check_open(now)
        owner = self.view.assigned_to
        if owner is None:
            raise Refusal(RefusalKind.NOT_OWNED, "nobody owns the case")
        if owner != change.specialist and not change.supervisor:
            raise Refusal(
                RefusalKind.OWNED_BY_OTHER,
                f"the case is owned by {owner}: only {owner} or a supervisor can release it",
            )

    def release(self, change: OwnershipChange, now: datetime) -> Ownership:
        before = self.view.assigned_to
        self.view.assigned_to = None
        self.view.assigned_email = None
        self.record(TimelineKind.CASE_RELEASED, f"released (was {before})", change.by, now=now)
        return Ownership(assigned_to=None, changed=True)

    def check_assign(self, change: OwnershipChange, now: datetime) -> None:
        self.check_open(now)
        self._check_named(change)

    def assign(self, change: OwnershipChange, now: datetime) -> Ownership:
        return self._own(change, TimelineKind.CASE_ASSIGNED, "assigned to {new}", "was", now)

    @staticmethod
    def _check_named(change: OwnershipChange) -> None:
        if not change.specialist:
            raise invalid_field(
                RefusalKind.INVALID_OWNER, "specialist", "name the specialist who takes the case"
            )

    def _own(
        self,
        change: OwnershipChange,
        kind: TimelineKind,
        detail: str,
        before_word: str,
        now: datetime,
    ) -> Ownership:
        """`change.specialist` owns the case now; the same owner again records nothing."""
        before = self.view.assigned_to
        if before == change.specialist:
            return Ownership(assigned_to=before, changed=False)
        was = f" ({before_word} {before})" if before else ""
        self.view.assigned_to = change.specialist
        self.view.assigned_email = change.email
        self.record(kind, detail.format(new=change.specialist) + was, change.by, now=now)
        return Ownership(assigned_to=change.specialist, changed=True)

    # ---- internal service targets --------------------------------------------------------

    def _calling_days(self) -> sla.Windows:
        assert self.policy is not None
        if self.edition >= Edition.CALENDARS:
            return calendar.calling_days(self.policy, self._calling_marketplace)
        return sla.calling_windows(self.policy.calling_hours)

    def _start_contact_clocks(self, now: datetime) -> None:
        if self.edition < Edition.CONSOLE:
            return
        assert self.policy is not None and self.profile is not None
        targets = self.policy.sla
        if targets.first_attempt_within is not None:
            self.view.sla.append(
                sla.working_clock(
                    SlaTarget.FIRST_ATTEMPT,
                    now,
                    targets.first_attempt_within,
                    targets.warn_at,
                    self.profile.timezone,
                    self._calling_days(),
                )
            )
        case_deadline = self.deadline()
        if targets.reached_by_before_deadline is not None and case_deadline is not None:
            due = case_deadline - targets.reached_by_before_deadline
            if due > now:
                self.view.sla.append(
                    sla.deadline_clock(SlaTarget.REACHED, now, due, targets.warn_at)
                )
            else:
                # Detected too late for the target to be met: nobody is paged for it.
                self.record(
                    TimelineKind.SLA_NOT_TRACKED,
                    f"{sla.TARGET_TEXT[SlaTarget.REACHED]}: not tracked, the case opened less "
                    f"than {format_duration(targets.reached_by_before_deadline)} before its "
                    "deadline",
                    now=now,
                )

    def _start_review_clock(self, now: datetime) -> None:
        if self.edition < Edition.CONSOLE:
            return
        assert self.policy is not None
        within = self.policy.sla.plan_review_within
        if within is None:
            return
        hours = self.policy.specialist_hours
        self.view.sla.append(
            sla.working_clock(
                SlaTarget.PLAN_REVIEW,
                now,
                within,
                self.policy.sla.warn_at,
                hours.timezone,
                sla.specialist_windows(hours),
            )
        )
        self._refresh_sla()

    def _sla_met(self, target: SlaTarget, now: datetime) -> None:
        for clock in self.view.sla:
            if clock.target != target or clock.met_at is not None:
                continue
            clock.met_at = now
            took = format_duration(now - clock.started_at)
            if clock.state == ClockState.BREACHED:
                detail = f"{sla.TARGET_TEXT[target]}: met late, after {took}"
            else:
                clock.state = ClockState.MET
                detail = f"{sla.TARGET_TEXT[target]}: met within target, after {took}"
            self.record(TimelineKind.SLA_MET, detail, now=now)
        self._refresh_sla()

    def _sla_points_due(self, now: datetime) -> None:
        if self.closing or self.view.closed:
            return
        for index, clock in enumerate(self.view.sla):
            if clock.state in (ClockState.RUNNING, ClockState.WARNING) and now >= clock.due_at:
                clock.state = ClockState.BREACHED
                self.record(
                    TimelineKind.SLA_BREACHED,
                    f"{sla.TARGET_TEXT[clock.target]}: target breached "
                    f"(due {clock.due_at:%Y-%m-%d %H:%M} UTC); supervisors told",
                    now=now,
                )
                self._alert(StaffAlertKind.SLA_BREACHED, clock, index)
            elif clock.state == ClockState.RUNNING and now >= clock.warn_at:
                clock.state = ClockState.WARNING
                owner = self.view.assigned_to
                told = f"; {owner} told" if owner else "; no owner to tell"
                self.record(
                    TimelineKind.SLA_WARNING,
                    f"{sla.TARGET_TEXT[clock.target]}: due {clock.due_at:%Y-%m-%d %H:%M} UTC"
                    + told,
                    now=now,
                )
                if owner:
                    self._alert(StaffAlertKind.SLA_WARNING, clock, index)
        self._refresh_sla()

    def _alert(self, kind: StaffAlertKind, clock: sla.SlaClock, index: int) -> None:
        alert = StaffAlert(
            key=f"{self.run_key}/staff/{clock.target}/{index}/{kind}",
            kind=kind,
            target=clock.target,
            case_id=self.view.case_id,
            seller_id=self.view.seller_id,
            due_at=clock.due_at,
            owner=self.view.assigned_to,
            owner_email=self.view.assigned_email,
        )
        self._effects.append(AlertStaff(alert))

    def _refresh_sla(self) -> None:
        if self.edition >= Edition.CONSOLE:
            self.view.sla_state = sla.case_sla_state(self.view.sla)
