"""Search attributes a case keeps current for the Temporal UI and `aha list`.

None of them may hold a phone number or an email address: they are never encrypted.
"""

from temporalio.common import SearchAttributeKey

CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")
SELLER_ID = SearchAttributeKey.for_keyword("SellerId")
MARKETPLACE = SearchAttributeKey.for_keyword("Marketplace")
ISSUE_TYPES = SearchAttributeKey.for_keyword_list("IssueTypes")
DEACTIVATION_DEADLINE = SearchAttributeKey.for_datetime("DeactivationDeadline")
CALL_ATTEMPTS = SearchAttributeKey.for_int("CallAttempts")
# The specialist who owns the case, and its SLA state (ok, warning, breached).
ASSIGNED_TO = SearchAttributeKey.for_keyword("AssignedTo")
SLA_STATE = SearchAttributeKey.for_keyword("SlaState")
# On each enrolment sweep: how many sellers it looked at and how many are protected.
SELLERS_EVALUATED = SearchAttributeKey.for_int("SellersEvaluated")
SELLERS_ENROLLED = SearchAttributeKey.for_int("SellersEnrolled")

# The CLI form `--search-attribute Name=Type` for `temporal server start-dev`.
DEV_SERVER_DEFINITIONS = {
    "CaseStatus": "Keyword",
    "SellerId": "Keyword",
    "Marketplace": "Keyword",
    "IssueTypes": "KeywordList",
    "DeactivationDeadline": "Datetime",
    "CallAttempts": "Int",
    "AssignedTo": "Keyword",
    "SlaState": "Keyword",
    "SellersEvaluated": "Int",
    "SellersEnrolled": "Int",
}
