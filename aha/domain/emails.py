"""What each email to a seller says. Rendering is pure; sending lives in activities."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from aha.domain import case_text
from aha.domain.catalogue import Catalogue
from aha.domain.models import Issue
from aha.domain.vocabulary import ClosureReason, EmailKind


class EmailRequest(BaseModel):
    """One email a case wants sent. `key` makes sending idempotent across retries."""

    key: str
    seller_id: str
    kind: EmailKind
    issues: list[Issue] = []
    deadline: datetime | None = None
    reason: str = ""
    # The case run whose end makes this email pointless (a reminder): sealed, it is dropped.
    fence: str | None = None
    # For a "fix your number" email: the number it is about; a newer one makes it pointless.
    phone_version: int | None = None
    # For a deactivation (deadline edition on): why, so the email says which rule won.
    closure_reason: ClosureReason | None = None


class Recipient(BaseModel):
    name: str
    email: str
    timezone: str
    page_url: str


def _issue_block(issue: Issue, catalogue: Catalogue) -> str:
    guidance = case_text.issue_steps(issue, catalogue)
    steps = "\n".join(f"  {n}. {step}" for n, step in enumerate(guidance, 1))
    label = case_text.issue_label(issue, catalogue)
    lines = [f"Issue {issue.id}: {label} ({issue.severity} severity)"]
    if issue.description:
        lines.append(f"  {issue.description}")
    lines.append("  What to do, step by step:")
    lines.append(steps)
    return "\n".join(lines)


def _ways_to_act(to: Recipient) -> str:
    return (
        "Two ways to act, on your account health page:\n"
        f"  {to.page_url}\n"
        "  - Contact me now: our account health team calls you at once.\n"
        "  - Submit a plan of action: root cause, corrective actions, preventive measures.\n"
        "Our team will also try to call your emergency contact number."
    )


def _deactivation_cause(reason: ClosureReason | None) -> str:
    if reason == ClosureReason.RESOLUTION_WINDOW_PASSED:
        return "The resolution window passed before the issues below were resolved"
    if reason == ClosureReason.SELLER_DISENGAGED:
        return "We stopped hearing from you while the issues below were unresolved"
    return "The deadline passed before the issues below were resolved"


def render(request: EmailRequest, to: Recipient, catalogue: Catalogue) -> tuple[str, str]:
    """Subject and plain-text body for `request`, addressed to `to`. Each issue reads as its
    detection described it; `catalogue` serves older issues."""
    deadline = (
        case_text.deadline_text(request.deadline, to.timezone) if request.deadline else "not set"
    )
    greeting = f"Hello {to.name},\n\n"
    issues = "\n\n".join(_issue_block(issue, catalogue) for issue in request.issues)
    if request.kind == "issue_opened":
        subject = "Action needed: an issue puts your account at risk"
        body = (
            "We found an issue that could lead to the deactivation of your account. "
            "Your account is protected by Account Health Assurance: work with us before the "
            f"deadline and your account stays active.\n\nDeadline: {deadline}\n\n"
            f"{issues}\n\n{_ways_to_act(to)}"
        )
    elif request.kind == "reminder":
        subject = f"Reminder: resolve your account health issue before {deadline}"
        body = (
            f"Your account health issue is still open. Deadline: {deadline}\n\n"
            f"{issues}\n\n{_ways_to_act(to)}"
        )
    elif request.kind == "invalid_number":
        subject = "We could not call you: please fix your emergency contact number"
        body = (
            "We tried to call your emergency contact number and it is not a working number. "
            "Please update it on your account health page so our team can reach you:\n"
            f"  {to.page_url}\n\nDeadline for your open issue: {deadline}"
        )
    elif request.kind == "resolved":
        subject = "Resolved: your account health issue is closed"
        body = (
            f"Thank you. The issues below are resolved and your account stays active.\n\n{issues}"
        )
    elif request.kind == "deadline_extended":
        new = request.issues[0].deadline if request.issues else request.deadline
        new_text = case_text.deadline_text(new, to.timezone) if new else "not set"
        subject = f"More time: your account health issue's deadline is now {new_text}"
        body = (
            "Our team has extended the deadline of the issue below. Your account stays "
            f"protected while you work with us.\n\nNew deadline: {new_text}\n\n"
            f"{issues}\n\n{_ways_to_act(to)}"
        )
    elif request.kind == "deadline_lifted":
        subject = "We reached you: your account will not be deactivated while you work with us"
        body = (
            "Thank you for getting in touch. Your account will not be deactivated as long as "
            "you keep working with us: answer our calls, press contact me now or submit your "
            f"plan of action. Resolve the issues below by: {deadline}\n\n"
            f"{issues}\n\n{_ways_to_act(to)}"
        )
    elif request.kind == "appeal_accepted":
        subject = "Appeal accepted: your account is reactivated"
        body = (
            "We reviewed your appeal and accepted your plan of action. Your account has been "
            "reactivated.\n\nYour account health page:\n"
            f"  {to.page_url}"
        )
    elif request.kind == "appeal_rejected":
        window = (
            f"You may appeal again with a new plan of action until {deadline}"
            if request.deadline
            else "You may appeal again with a new plan of action"
        )
        subject = "Appeal not accepted: your account stays deactivated"
        body = (
            "We reviewed your appeal and could not accept it.\n\n"
            f"Reason: {request.reason}\n\n{window}, on your account health page:\n"
            f"  {to.page_url}"
        )
    else:
        subject = "Your account has been deactivated"
        body = (
            f"{_deactivation_cause(request.closure_reason)}, so your account has "
            f"been deactivated.\n\nReason: {request.reason}\n\n{issues}\n\n"
            "You can appeal with a plan of action on your account health page:\n"
            f"  {to.page_url}"
        )
    return subject, greeting + body + "\n\nAccount Health Assurance team\n"
