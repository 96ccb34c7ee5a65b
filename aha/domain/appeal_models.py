"""The shapes of an appeal after deactivation, as they cross workflow and client boundaries.

They live apart from the rules (`aha.domain.appeals`) so that `CaseView` can carry an
appeal without the case's models importing the appeal's rules.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from aha.domain.vocabulary import AppealDecision, AppealState, CaseStatus


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Appeal(_Strict):
    """One plan of action submitted as an appeal, and how it was decided."""

    number: int
    root_cause: str
    corrective_actions: list[str]
    preventive_measures: list[str]
    submitted_at: datetime
    submitted_by: str
    state: AppealState = AppealState.UNDER_REVIEW
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str = ""


class AppealReview(_Strict):
    decision: AppealDecision
    # Required for a rejection: the seller is emailed it.
    reason: str = Field(default="", max_length=4000)
    reviewer: str = Field(default="specialist", max_length=200)


class AppealView(_Strict):
    """The appeal of one deactivated case run: its submissions and decisions."""

    appeal_id: str  # the AppealWorkflow's id
    case_id: str
    case_run_id: str
    seller_id: str
    status: CaseStatus = CaseStatus.DEACTIVATED
    deactivated_at: datetime
    # None until the workflow has read the policy in force (a case recorded without the key).
    window_ends: datetime | None = None
    appeals: list[Appeal] = []
    reinstated_at: datetime | None = None
    # The account was reactivated through the directory (after an accepted appeal).
    account_reactivated: bool = False
    # The workflow has ended: reinstated, or the window passed with nothing under review.
    finished: bool = False

    def under_review(self) -> Appeal | None:
        return next((a for a in self.appeals if a.state == AppealState.UNDER_REVIEW), None)
