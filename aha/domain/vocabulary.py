"""The words layers exchange: each a `StrEnum` whose values are the strings on the wire.

They are the contract with stored histories, search attributes, the HTTP API and the
timeline: a value may be added, never renamed.
"""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    AWAITING_CONTACT = "awaiting_contact"
    ENGAGED = "engaged"
    PLAN_UNDER_REVIEW = "plan_under_review"
    CALL_REQUIRED = "call_required"
    RESOLVED = "resolved"
    DEACTIVATED = "deactivated"
    # A deactivated case's appeal (the linked AppealWorkflow): waiting for its review, and
    # accepted, the account reactivated.
    APPEAL_UNDER_REVIEW = "appeal_under_review"
    REINSTATED = "reinstated"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class IssueStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class CallOutcome(StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"
    INVALID_NUMBER = "invalid_number"


class ReviewState(StrEnum):
    UNDER_REVIEW = "under_review"
    INFO_REQUESTED = "info_requested"
    ACCEPTED = "accepted"


class ReviewDecision(StrEnum):
    ACCEPT = "accept"
    REQUEST_INFO = "request_info"


class ClosureReason(StrEnum):
    RESOLVED = "resolved"
    DEADLINE_PASSED = "deadline_passed"
    NOT_ENROLLED = "not_enrolled"
    IMMEDIATE_POLICY = "immediate_policy"
    # "contact" mode: the seller was reached, but the resolution window passed unresolved.
    RESOLUTION_WINDOW_PASSED = "resolution_window_passed"
    # "contact" mode: the seller was reached, then stopped engaging for `engagement_timeout`.
    SELLER_DISENGAGED = "seller_disengaged"


class EmailKind(StrEnum):
    ISSUE_OPENED = "issue_opened"
    REMINDER = "reminder"
    INVALID_NUMBER = "invalid_number"
    RESOLVED = "resolved"
    DEACTIVATED = "deactivated"
    DEADLINE_EXTENDED = "deadline_extended"
    DEADLINE_LIFTED = "deadline_lifted"
    APPEAL_ACCEPTED = "appeal_accepted"
    APPEAL_REJECTED = "appeal_rejected"


class NoticeState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DROPPED = "dropped"
    FAILED = "failed"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


class EnrollmentState(StrEnum):
    NOT_ELIGIBLE = "not_eligible"
    ELIGIBLE_MISSING_PHONE = "eligible_missing_phone"
    ENROLLED = "enrolled"


class EnrollmentEmail(StrEnum):
    ENROLLED = "enrolled"
    MISSING_PHONE = "missing_phone"
    PROTECTION_LOST = "protection_lost"


class TimelineKind(StrEnum):
    CASE_OPENED = "case_opened"
    ISSUE_ADDED = "issue_added"
    IMMEDIATE_DEACTIVATION = "immediate_deactivation"
    CONTACT_ME_NOW = "contact_me_now"
    SELLER_REACHED = "seller_reached"
    CALL_PLACED = "call_placed"
    CALL_FAILED = "call_failed"
    CALL_OUTCOME = "call_outcome"
    CALL_ABANDONED = "call_abandoned"
    CALLING_STOPPED = "calling_stopped"
    PHONE_UPDATED = "phone_updated"
    TIMEZONE_UPDATED = "timezone_updated"
    PREFERRED_WINDOWS_UPDATED = "preferred_windows_updated"
    PROFILE_UNAVAILABLE = "profile_unavailable"
    PLAN_SUBMITTED = "plan_submitted"
    PLAN_ACCEPTED = "plan_accepted"
    INFO_REQUESTED = "info_requested"
    PLAN_BACK_IN_REVIEW = "plan_back_in_review"
    ISSUE_RESOLVED = "issue_resolved"
    CASE_RESOLVED = "case_resolved"
    ACCOUNT_DEACTIVATED = "account_deactivated"
    REMINDER_SENT = "reminder_sent"
    EMAIL_SENT = "email_sent"
    EMAIL_DROPPED = "email_dropped"
    EMAIL_FAILED = "email_failed"
    NOTICES_HANDED_OVER = "notices_handed_over"
    CASE_CLAIMED = "case_claimed"
    CASE_RELEASED = "case_released"
    CASE_ASSIGNED = "case_assigned"
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"
    SLA_MET = "sla_met"
    SLA_NOT_TRACKED = "sla_not_tracked"
    STAFF_ALERT_SENT = "staff_alert_sent"
    STAFF_ALERT_FAILED = "staff_alert_failed"
    DEADLINE_EXTENDED = "deadline_extended"
    DEADLINE_LIFTED = "deadline_lifted"
    # A proactive call stopped just before the dial (consent withdrawn, do-not-call list).
    CALL_NOT_PLACED = "call_not_placed"
    # Contact me now went ahead despite a withdrawal or a listing: for that call only.
    CONSENT_REGRANTED = "consent_regranted"
    CALLBACK_SCHEDULED = "callback_scheduled"
    CALLBACK_REPLACED = "callback_replaced"
    CALLBACK_CANCELLED = "callback_cancelled"
    CALLBACK_DUE = "callback_due"
    CALLBACK_NOT_PLACED = "callback_not_placed"


class RefusalKind(StrEnum):
    """Why a case refused an action; the service and every surface map each one."""

    WRONG_SELLER = "WrongSeller"
    DUPLICATE_EVENT = "DuplicateEvent"
    CASE_CLOSED = "CaseClosed"
    NO_WORKING_PHONE = "NoWorkingPhone"
    UNKNOWN_ATTEMPT = "UnknownAttempt"
    NOT_PLACED = "NotPlaced"
    ALREADY_REPORTED = "AlreadyReported"
    PLAN_UNDER_REVIEW = "PlanUnderReview"
    CALL_REQUIRED = "CallRequired"
    INVALID_PLAN = "InvalidPlan"
    NO_PLAN = "NoPlan"
    INVALID_REVIEW = "InvalidReview"
    UNKNOWN_ISSUE = "UnknownIssue"
    ALREADY_RESOLVED = "AlreadyResolved"
    INVALID_RESOLUTION = "InvalidResolution"
    DEADLINE_PASSED = "DeadlinePassed"
    NOT_REACHED = "NotReached"
    OWNED_BY_OTHER = "OwnedByOther"
    NOT_OWNED = "NotOwned"
    INVALID_OWNER = "InvalidOwner"
    INVALID_EXTENSION = "InvalidExtension"
    NOT_EXTENSIBLE = "NotExtensible"
    NOT_DEACTIVATED = "NotDeactivated"
    APPEAL_WINDOW_CLOSED = "AppealWindowClosed"
    APPEAL_UNDER_REVIEW = "AppealUnderReview"
    DUPLICATE_APPEAL = "DuplicateAppeal"
    ALREADY_REINSTATED = "AlreadyReinstated"
    NO_APPEAL = "NoAppeal"
    INVALID_APPEAL_REVIEW = "InvalidAppealReview"
    INVALID_CALLBACK = "InvalidCallback"
    NO_CALLBACK = "NoCallback"
    CALLBACKS_UNAVAILABLE = "CallbacksUnavailable"


class SlaTarget(StrEnum):
    """The internal service targets a case is measured against (policy `[sla]`)."""

    FIRST_ATTEMPT = "first_attempt"
    REACHED = "reached"
    PLAN_REVIEW = "plan_review"


class ClockState(StrEnum):
    """Where one SLA clock stands."""

    RUNNING = "running"
    WARNING = "warning"
    MET = "met"
    BREACHED = "breached"


class SlaState(StrEnum):
    """A case's SLA state as the queue and the `SlaState` search attribute show it."""

    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"


class StaffAlertKind(StrEnum):
    """An email to the team, never to the seller: a warning to the owner, a breach to the
    supervisors."""

    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"


class AppealDecision(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"


class AppealState(StrEnum):
    UNDER_REVIEW = "under_review"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
