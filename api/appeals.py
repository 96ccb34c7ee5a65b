"""Appeals after deactivation: the seller (or staff on its behalf) appeals, staff review."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from aha.domain.appeal_models import Appeal, AppealReview
from aha.domain.models import PlanSubmission
from aha.domain.vocabulary import AppealDecision
from api.auth import Identity
from api.bodies import PlanBody
from api.routes import SELLER_ACTION, SellerId, State, allow

router = APIRouter(prefix="/v1")


class AppealReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: AppealDecision
    reason: str = Field(default="", max_length=4000, description="required to reject")


@router.post(
    "/sellers/{seller_id}/case/appeal",
    tags=["seller"],
    response_model=Appeal,
    responses=SELLER_ACTION,
    summary="Appeal a deactivation with a plan of action (the seller; staff on its behalf)",
)
async def submit_appeal(
    seller_id: SellerId,
    body: PlanBody,
    state: State,
    who: Annotated[Identity, Depends(allow("specialist", own_seller=True))],
) -> Appeal:
    """409 when the latest case is not deactivated, its appeal window has ended or an appeal is
    under review; 422 with the reasons, field by field, when the plan is incomplete. The same
    appeal sent again while it is under review is answered with it, unchanged."""
    submission = PlanSubmission(**body.model_dump(), submitted_by=who.who)
    return await state.within((await state.service()).appeal(seller_id, submission))


@router.post(
    "/sellers/{seller_id}/case/appeal/review",
    tags=["specialist"],
    response_model=Appeal,
    responses=SELLER_ACTION,
    summary="Accept or reject the appeal under review (specialist, supervisor)",
)
async def review_appeal(
    seller_id: SellerId,
    body: AppealReviewBody,
    state: State,
    who: Annotated[Identity, Depends(allow("specialist"))],
) -> Appeal:
    """Accept: the account is reactivated and the seller emailed. Reject: `reason` is
    required (422 without it) and emailed; the seller may appeal again within the window."""
    review = AppealReview(decision=body.decision, reason=body.reason, reviewer=who.who)
    return await state.within((await state.service()).review_appeal(seller_id, review))
