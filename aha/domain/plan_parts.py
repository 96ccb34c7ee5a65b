"""What every plan of action needs, for a case's plan and an appeal alike."""

from __future__ import annotations

from aha.domain.models import PlanSubmission
from aha.domain.refusals import FieldReason


def missing_parts(submission: PlanSubmission) -> list[FieldReason]:
    """A root cause, and at least one corrective action and preventive measure, none empty."""
    problems: list[FieldReason] = []
    if not submission.root_cause.strip():
        problems.append(FieldReason("root_cause", "root_cause is empty"))
    for field in ("corrective_actions", "preventive_measures"):
        items = getattr(submission, field)
        if not items:
            problems.append(FieldReason(field, f"{field} needs at least one entry"))
        elif any(not item.strip() for item in items):
            problems.append(FieldReason(field, f"{field} has an empty entry"))
    return problems
