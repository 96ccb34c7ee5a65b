"""What the Temporal UI and `aha list` see of a case: search attributes and current details."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from aha import search_attributes as sa
    from aha.domain import deadlines
    from aha.domain.models import CaseView
    from aha.domain.vocabulary import CaseStatus


class CasePublisher:
    def __init__(self) -> None:
        self._published: dict[str, object] = {}

    def publish(self, view: CaseView) -> None:
        """Upsert the search attributes that changed; refresh the details every time."""
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
            if view.status == CaseStatus.RESOLVED:
                # A resolved case must not show up in "deadline before X" searches.
                updates.append(sa.DEACTIVATION_DEADLINE.value_unset())
            elif view.deadline is not None:
                updates.append(sa.DEACTIVATION_DEADLINE.value_set(view.deadline))
            workflow.upsert_search_attributes(updates)
            self._published = current
        workflow.set_current_details(details_markdown(view))


def details_markdown(view: CaseView) -> str:
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
