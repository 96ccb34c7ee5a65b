"""What the Temporal UI and `aha list` see of a case: search attributes and current details."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from aha import search_attributes as sa
    from aha.domain.case_text import details_markdown
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
            # None until a case is claimed or has SLA clocks: older cases publish neither.
            "owner": view.assigned_to,
            "sla": view.sla_state,
        }
        changed = {key for key, value in current.items() if self._published.get(key) != value}
        if changed:
            # Only what changed: every value set is a payload the worker must encode.
            updates: list[SearchAttributeUpdate[Any]] = []
            if "status" in changed:
                updates.append(sa.CASE_STATUS.value_set(view.status))
            if "types" in changed:
                updates.append(sa.ISSUE_TYPES.value_set(issue_types))
            if "attempts" in changed:
                updates.append(sa.CALL_ATTEMPTS.value_set(len(view.call_attempts)))
            if "owner" in changed:
                updates.append(
                    sa.ASSIGNED_TO.value_set(view.assigned_to)
                    if view.assigned_to
                    else sa.ASSIGNED_TO.value_unset()
                )
            if "sla" in changed and view.sla_state is not None:
                updates.append(sa.SLA_STATE.value_set(view.sla_state))
            if not self._published:
                updates += [
                    sa.SELLER_ID.value_set(view.seller_id),
                    sa.MARKETPLACE.value_set(view.marketplace),
                ]
            if view.status == CaseStatus.RESOLVED and "status" in changed:
                # A resolved case must not show up in "deadline before X" searches.
                updates.append(sa.DEACTIVATION_DEADLINE.value_unset())
            elif view.status != CaseStatus.RESOLVED and "deadline" in changed and view.deadline:
                updates.append(sa.DEACTIVATION_DEADLINE.value_set(view.deadline))
            workflow.upsert_search_attributes(updates)
            self._published = current
        workflow.set_current_details(details_markdown(view))
