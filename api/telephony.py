"""Twilio's status callbacks: `POST /v1/telephony/twilio/status`.

Twilio sends no bearer token: the `X-Twilio-Signature` header, checked with the `twilio`
package's own validator against the configured public URL (`AHA_TWILIO_STATUS_URL`) and
the query string exactly as Twilio sent it, is the only way in. The request's Host header
and scheme are never used: behind a proxy they are not what Twilio signed, and trusting
them would let a caller choose the URL its signature is checked against.

Every signed callback gets a 200, even one the case cannot take (an outcome already
reported, a case closed or replaced since, an attempt it does not know), so that Twilio
never retries it; each is logged and the body says why. Only a Temporal that does not
answer is a 503, which a retry can get past.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal
from urllib.parse import parse_qsl

import structlog
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator

from aha.adapters.twilio_calls import REPORTED_BY, outcome_for
from aha.domain.models import CallReport
from aha.domain.vocabulary import CallOutcome
from aha.service import CaseError, CaseService
from api.errors import ApiError, ErrorBody, from_case_error
from api.state import ApiState, state_of

log = structlog.get_logger(__name__)

STATUS_PATH = "/v1/telephony/twilio/status"

NOT_PLACED_PAUSES: tuple[float | None, ...] = (0.25, 0.5, 1.0, 2.0, None)

router = APIRouter()
State = Annotated[ApiState, Depends(state_of)]


class TwilioStatusReply(BaseModel):
    result: Literal["recorded", "already_reported", "ignored"]
    outcome: CallOutcome | None = None
    detail: str = ""


@router.post(
    STATUS_PATH,
    tags=["calls"],
    response_model=TwilioStatusReply,
    responses={
        403: {"model": ErrorBody, "description": "a missing or wrong X-Twilio-Signature"},
        503: {"model": ErrorBody, "description": "Temporal did not answer"},
    },
    summary="Twilio's status callback for a call attempt (signed by Twilio)",
)
async def twilio_status(request: Request, state: State) -> TwilioStatusReply:
    config = state.twilio
    if config is None:
        raise ApiError(
            403,
            "forbidden",
            "Twilio callbacks are not configured: set AHA_TWILIO_AUTH_TOKEN and "
            "AHA_TWILIO_STATUS_URL",
        )
    body = (await request.body()).decode("utf-8", errors="replace")
    form = ImmutableMultiDict(parse_qsl(body, keep_blank_values=True))
    query = request.scope["query_string"].decode("latin-1")
    signed_url = f"{config.status_url}?{query}" if query else config.status_url
    signature = request.headers.get("x-twilio-signature", "")
    if not signature or not RequestValidator(config.auth_token).validate(
        signed_url, form, signature
    ):
        log.warning("Twilio callback refused: bad signature", url=signed_url,
                    signed=bool(signature))  # fmt: skip
        raise ApiError(403, "bad_signature", "X-Twilio-Signature does not match this request")
    return await _take(state, request, form)


async def _report(
    state: ApiState, service: CaseService, seller_id: str, report: CallReport
) -> None:
    # A quick busy or failed callback can overtake the dial activity's word that the call was
    # placed (it follows Twilio's answer by a moment): give that word a few seconds.
    for pause in NOT_PLACED_PAUSES:
        try:
            await state.within(service.report_call_outcome(seller_id, report))
            return
        except CaseError as err:
            if pause is None or from_case_error(err).error != "not_placed":
                raise
        await asyncio.sleep(pause)


async def _take(
    state: ApiState, request: Request, form: ImmutableMultiDict[str, str]
) -> TwilioStatusReply:
    seller_id = request.query_params.get("seller", "")
    attempt = request.query_params.get("attempt", "")
    run_id = request.query_params.get("run", "")
    status = form.get("CallStatus", "")
    where = {"seller_id": seller_id, "attempt": attempt, "call_sid": form.get("CallSid", "")}
    if not seller_id or not attempt.isdigit() or not 1 <= int(attempt) <= 10_000:
        log.warning("Twilio callback ignored: no case or attempt in its URL", **where)
        return TwilioStatusReply(result="ignored", detail="no seller or attempt in the URL")
    outcome = outcome_for(status, form.get("AnsweredBy", ""), form.get("ErrorCode", ""))
    if outcome is None:
        log.info("Twilio callback ignored", call_status=status, **where)
        return TwilioStatusReply(result="ignored", detail=f"CallStatus {status!r} says nothing")
    service = await state.service()
    try:
        if run_id:
            # A later case of the same seller has its own attempt 1: never give it this one's.
            view = await state.within(service.status(seller_id))
            if view.run_id != run_id:
                log.info("Twilio callback ignored: the case was replaced", **where)
                return TwilioStatusReply(
                    result="ignored", outcome=outcome, detail="the call's case is over"
                )
        report = CallReport(attempt=int(attempt), outcome=outcome, reported_by=REPORTED_BY)
        await _report(state, service, seller_id, report)
    except CaseError as err:
        refused = from_case_error(err)
        if refused.error == "already_reported":
            log.info("Twilio callback repeated", **where)
            return TwilioStatusReply(
                result="already_reported", outcome=outcome, detail=refused.detail
            )
        if refused.status >= 500:
            raise refused from err
        log.warning("Twilio callback not taken", error=refused.error, **where)
        return TwilioStatusReply(result="ignored", outcome=outcome, detail=refused.detail)
    log.info("Twilio outcome recorded", outcome=outcome.value, **where)
    return TwilioStatusReply(result="recorded", outcome=outcome)
