"""What people read about a case: times in the seller's zone, labels, deadlines, durations.

One module for every surface: the emails, the seller's page, the CLI and the Temporal UI's
details. Pure: times are passed in, and the policy and the catalogue decide the words that
depend on them (the deadline in hours, an issue's label and steps): none is written here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aha.domain.catalogue import Catalogue
from aha.domain.models import CaseView, DetectionEvent, Issue
from aha.domain.vocabulary import CaseStatus

# ---- times -------------------------------------------------------------------------------


def deadline_text(moment: datetime, timezone: str) -> str:
    """A moment as an email says it: local date and time with the zone's abbreviation."""
    local = moment.astimezone(ZoneInfo(timezone))
    return local.strftime("%A %d %B %Y, %H:%M %Z")


def page_time(moment: datetime | None, timezone: str) -> str:
    """A moment as the seller's page shows it ("Tue 01 Dec 2026, 14:05 EST"); none is ""."""
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%a %d %b %Y, %H:%M} {local.tzname()}"


def cli_time(moment: datetime | None, timezone: str | None) -> str:
    """A moment as `aha status` prints it: UTC, then the seller's time when the zone is known."""
    if moment is None:
        return "-"
    if timezone:
        local = moment.astimezone(ZoneInfo(timezone))
        return f"{moment:%Y-%m-%d %H:%M} UTC ({local:%a %H:%M %Z} seller time)"
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def countdown(deadline: datetime, now: datetime) -> str:
    """The time left as the page's countdown shows it before its script takes over."""
    seconds = int((deadline - now).total_seconds())
    if seconds <= 0:
        return "the deadline has passed"
    days, rest = divmod(seconds, 86400)
    text = f"{rest // 3600:02d} h {rest % 3600 // 60:02d} min {rest % 60:02d} s"
    return f"{days} d {text}" if days else text


_UNITS = ((3600, "hour"), (60, "minute"), (1, "second"))


def _count(value: timedelta) -> tuple[int, str]:
    seconds = int(value.total_seconds())
    for size, unit in _UNITS:
        if seconds % size == 0:
            return seconds // size, unit
    raise AssertionError("unreachable: every whole number of seconds is whole seconds")


def duration_text(value: timedelta) -> str:
    """A policy duration in words, in its largest whole unit: "48 hours", "90 minutes"."""
    count, unit = _count(value)
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def duration_adjective(value: timedelta) -> str:
    """The same duration before a noun: "the 48-hour protection"."""
    count, unit = _count(value)
    return f"{count}-{unit}"


# ---- statuses and issues -----------------------------------------------------------------

# What the seller's page says each status means.
STATUS_TEXT: dict[str, str] = {
    CaseStatus.AWAITING_CONTACT: "We are trying to reach you",
    CaseStatus.ENGAGED: "In progress with a specialist",
    CaseStatus.PLAN_UNDER_REVIEW: "Your plan is under review",
    CaseStatus.CALL_REQUIRED: "A call is needed before we can resolve this",
    CaseStatus.RESOLVED: "Resolved",
    CaseStatus.DEACTIVATED: "Account deactivated",
    CaseStatus.APPEAL_UNDER_REVIEW: "Account deactivated: your appeal is under review",
    CaseStatus.REINSTATED: "Appeal accepted: your account is reactivated",
}


def issue_label(issue: Issue, catalogue: Catalogue) -> str:
    """The issue's label as its detection carried it; for older issues, the catalogue's."""
    return issue.label or catalogue.label(issue.type)


def issue_steps(issue: Issue, catalogue: Catalogue) -> list[str]:
    """The issue's step-by-step guidance as its detection carried it, else the catalogue's."""
    return list(issue.guidance) or catalogue.guidance(issue.type)


def call_guidance(issues: Iterable[Issue], catalogue: Catalogue) -> list[str]:
    """What a call task tells the specialist: every step of each issue, prefixed by its id."""
    return [f"{issue.id}: {step}" for issue in issues for step in issue_steps(issue, catalogue)]


# ---- whole texts -------------------------------------------------------------------------


def opening_summary(event: DetectionEvent, catalogue: Catalogue) -> str:
    """The case's summary in the Temporal UI, from the event that opened it."""
    label = event.label or catalogue.label(event.issue_type)
    return (
        f"At-risk case: seller {event.seller_id} ({event.marketplace}), {label}, {event.severity}"
    )


def opening_details(event: DetectionEvent, catalogue: Catalogue) -> str:
    """The case's static details in the Temporal UI: which event opened it, and when."""
    label = event.label or catalogue.label(event.issue_type)
    return (
        f"Opened by event `{event.event_id}`: {label} "
        f"({event.severity}) detected {event.detected_at.isoformat()}."
    )


def case_summary(view: CaseView) -> str:
    """The case as `aha status` prints it."""
    lines = [
        f"case {view.case_id}  seller {view.seller_id}  status {view.status}",
        f"deadline: {cli_time(view.deadline, view.timezone)}",
    ]
    if view.next_call_at:
        lines.append(f"next call: {cli_time(view.next_call_at, view.timezone)}")
    if view.preferred_windows and not view.preferred_windows.empty:
        lines.append(f"preferred windows (seller's time): {view.preferred_windows.summary()}")
    if view.callback and not view.closed:
        lines.append(
            f"callback: {cli_time(view.callback.at, view.timezone)}"
            f" (asked by {view.callback.requested_by})"
        )
    if view.calling_stopped_reason and not view.closed:
        lines.append(f"calling stopped: {view.calling_stopped_reason}")
    if view.deadline_lifted_at:
        lines.append(
            f"deadline lifted: seller reached {cli_time(view.deadline_lifted_at, view.timezone)}"
        )
    if view.engagement_due_at and not view.closed:
        lines.append(f"engage again by: {cli_time(view.engagement_due_at, view.timezone)}")
    lines.append("issues:")
    for issue in view.issues:
        lines.append(
            f"  {issue.id} {issue.type} ({issue.severity}) {issue.status}"
            f" deadline {issue.deadline:%Y-%m-%d %H:%M} UTC"
        )
        for x in issue.extensions:
            lines.append(
                f"    extended {x.at:%Y-%m-%d %H:%M} by {x.by}: {x.from_deadline:%Y-%m-%d %H:%M}"
                f" -> {x.to_deadline:%Y-%m-%d %H:%M} UTC ({x.reason})"
            )
    if view.call_attempts:
        lines.append("call attempts:")
        for a in view.call_attempts:
            origin = "seller-initiated" if a.seller_initiated else "proactive"
            origin += " (callback)" if a.callback else ""
            placed = f"{a.placed_at:%Y-%m-%d %H:%M}" if a.placed_at else "dialling"
            if a.not_placed:
                placed, result = "not placed:", a.not_placed
            else:
                result = a.outcome or "pending"
            if a.consent_regranted:
                result += f" (despite {a.consent_regranted}: the seller asked)"
            lines.append(f"  #{a.number} {origin} {placed} {result}")
        if view.use_email_because and not view.closed:
            lines.append(
                f"  use email: the last proactive call was not placed ({view.use_email_because})"
            )
    if view.plan:
        lines.append(f"plan: {view.plan.review_state} for {', '.join(view.plan.issue_ids)}")
        for question in view.plan.questions:
            lines.append(f"  question: {question}")
    if view.appeal is not None:
        ends = view.appeal.window_ends
        lines.append(
            f"appeal: {view.appeal.status}"
            + (f", window ends {ends:%Y-%m-%d %H:%M} UTC" if ends else "")
        )
        for appeal in view.appeal.appeals:
            decided = f" by {appeal.decided_by}" if appeal.decided_by else ""
            reason = f": {appeal.reason}" if appeal.reason else ""
            lines.append(
                f"  #{appeal.number} {appeal.submitted_at:%Y-%m-%d %H:%M} [{appeal.submitted_by}]"
                f" {appeal.state}{decided}{reason}"
            )
    lines.append("timeline:")
    for entry in view.timeline:
        lines.append(f"  {entry.at:%Y-%m-%d %H:%M:%S} {entry.kind} [{entry.who}] {entry.detail}")
    return "\n".join(lines)


def details_markdown(view: CaseView) -> str:
    """The case's current details in the Temporal UI (markdown)."""

    def when(moment: datetime) -> str:
        local = deadline_text(moment, view.timezone) if view.timezone else ""
        return f"{moment:%Y-%m-%d %H:%M} UTC ({local})"

    lines = [f"- **Status:** `{view.status}`"]
    if view.deadline:
        lines.append(f"- **Deadline:** {when(view.deadline)}")
    if view.deadline_lifted_at:
        lines.append(f"- **Deadline lifted:** seller reached {when(view.deadline_lifted_at)}")
    extended = sum(len(i.extensions) for i in view.issues)
    if extended:
        lines.append(f"- **Extensions:** {extended}")
    if view.preferred_windows and not view.preferred_windows.empty:
        lines.append(f"- **Preferred windows:** {view.preferred_windows.summary()} (seller's time)")
    if view.callback and not view.closed:
        lines.append(f"- **Seller's callback:** {when(view.callback.at)}")
    if view.next_call_at:
        lines.append(f"- **Next scheduled call:** {when(view.next_call_at)}")
    elif view.calling_stopped_reason and not view.closed:
        lines.append(f"- **Calling stopped:** {view.calling_stopped_reason}")
    if view.use_email_because and not view.closed:
        lines.append(
            f"- **Use email:** the last proactive call was not placed ({view.use_email_because})"
        )
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
            origin = (
                ("seller callback" if a.callback else "seller")
                if a.seller_initiated
                else "proactive"
            )
            placed = f"{a.placed_at:%Y-%m-%d %H:%M} UTC" if a.placed_at else "dialling"
            if a.not_placed:
                placed = "not placed"
            result = a.not_placed or a.outcome or "pending"
            lines.append(f"- #{a.number} ({origin}) {placed}: {result}")
    return "\n".join(lines)
