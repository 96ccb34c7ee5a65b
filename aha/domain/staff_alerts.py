"""What an SLA alert to the team says. Pure: the activity sends it."""

from __future__ import annotations

from aha.domain.models import StaffAlert
from aha.domain.sla import TARGET_TEXT
from aha.domain.vocabulary import StaffAlertKind


def render_staff_alert(alert: StaffAlert, case_url: str) -> tuple[str, str]:
    """The subject and body of `alert`; `case_url` opens the case in the console."""
    target = TARGET_TEXT[alert.target]
    due = f"{alert.due_at:%a %d %b %Y, %H:%M} UTC"
    owner = alert.owner or "nobody (unassigned)"
    if alert.kind == StaffAlertKind.SLA_WARNING:
        subject = f"[aha] SLA warning: {target} for seller {alert.seller_id} is due {due}"
        opening = f"The case you own for seller {alert.seller_id} is nearing its target."
    else:
        subject = f"[aha] SLA breached: {target} for seller {alert.seller_id}"
        opening = f"The case of seller {alert.seller_id} missed an internal target."
    body = "\n".join(
        [
            opening,
            "",
            f"Target: {target}",
            f"Due: {due}",
            f"Owner: {owner}",
            f"Case: {alert.case_id}",
            "",
            f"Open it in the console: {case_url}",
            "",
            "The 72-hour deactivation deadline is separate and unchanged.",
        ]
    )
    return subject, body
