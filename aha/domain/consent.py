"""Consent to calls and the do-not-call list: what is stored, and what a dial may do.

Neither is ever kept in a case: the dial activity asks the store just before it dials, so a
withdrawal or a listing made a second before still stops the call.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from aha.domain.contact import InvalidContact, normalise_phone

MAX_REASON = 500


class NotPlaced(StrEnum):
    """Why a proactive call was not placed (what the attempt records)."""

    CONSENT_WITHDRAWN = "consent withdrawn"
    DO_NOT_CALL = "number on do-not-call list"


USE_EMAIL = "use email to reach the seller"


class CallConsent(BaseModel):
    """A seller's standing answer; a seller never asked has consented (the programme's
    emergency number was given to be called)."""

    model_config = ConfigDict(frozen=True)
    seller_id: str
    consent: bool
    changed_at: datetime | None = None
    changed_by: str | None = None


class DoNotCall(BaseModel):
    model_config = ConfigDict(frozen=True)
    number: str  # E.164
    reason: str
    added_at: datetime
    added_by: str


class InvalidDoNotCall(ValueError):
    """A do-not-call entry that cannot be stored; the message names the field and why."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field  # number or reason


def dnc_number(raw: str) -> str:
    """The number in E.164, or InvalidDoNotCall naming `number` and why."""
    try:
        return normalise_phone(raw.strip().replace(" ", "").replace("-", ""))
    except InvalidContact as err:
        raise InvalidDoNotCall(str(err).replace("phone ", "number ", 1), "number") from err


def dnc_reason(raw: str | None) -> str:
    reason = (raw or "").strip()
    if not reason:
        raise InvalidDoNotCall(
            "reason is required: say why the number must not be called", "reason"
        )
    if len(reason) > MAX_REASON:
        raise InvalidDoNotCall(f"reason is longer than {MAX_REASON} characters", "reason")
    return reason


def call_verdict(consent: bool, listed: bool, seller_initiated: bool) -> NotPlaced | None:
    """Why this call must not be placed, or None. A call the seller asked for right now
    (contact me now) is the seller's consent to that one call, whatever stands."""
    if seller_initiated:
        return None
    if not consent:
        return NotPlaced.CONSENT_WITHDRAWN
    if listed:
        return NotPlaced.DO_NOT_CALL
    return None


def overridden(consent: bool, listed: bool) -> NotPlaced | None:
    """What a seller-initiated call goes ahead despite, if anything."""
    return call_verdict(consent, listed, seller_initiated=False)
