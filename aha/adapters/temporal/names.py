"""The workflows' public Temporal names, so nothing below the workflows imports them.

tests/test_temporal_names.py checks each against the workflow definitions.
"""

from __future__ import annotations

CASE_WORKFLOW = "CaseWorkflow"
DETECT = "detect"
GET_CASE = "get_case"
CONTACT_CHANGED = "contact_changed"
CALL_PLACED = "call_placed"
REPORT_CALL_OUTCOME = "report_call_outcome"

NOTICES_WORKFLOW = "CaseNotices"
GET_NOTICES = "get_notices"

ENROLLMENT_SWEEP = "EnrollmentSweep"

APPEAL_WORKFLOW = "AppealWorkflow"
SUBMIT_APPEAL = "submit_appeal"
REVIEW_APPEAL = "review_appeal"
GET_APPEAL = "get_appeal"
