"""Request and response bodies of the HTTP API (the case models are reused as they are)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictBool, Tag

from aha.board_reads import PendingCall
from aha.domain.models import SELLER_ID_PATTERN, SPECIALIST_NAME_PATTERN
from aha.domain.preferred import PreferredWindows
from aha.domain.vocabulary import CallOutcome

Text = Field(max_length=4000)
Item = Annotated[str, Field(max_length=2000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DetectionAccepted(BaseModel):
    case_id: str
    created: bool = Field(description="whether this event opened the case")
    issue_id: str


class PlanBody(Strict):
    # Emptiness is the case's to judge, so that every surface gets the same reasons.
    root_cause: str = Text
    corrective_actions: list[Item] = Field(max_length=50)
    preventive_measures: list[Item] = Field(max_length=50)
    issue_ids: list[Annotated[str, Field(max_length=32)]] = Field(default=[], max_length=50)


class OutcomeBody(Strict):
    outcome: CallOutcome


class ReviewBody(Strict):
    decision: Literal["accept", "request_info"]
    questions: list[Item] = Field(default=[], max_length=20)


class ResolveBody(Strict):
    note: str = Text


class ExtendBody(Strict):
    # Timezone awareness and the bounds are the case's to judge, as for every surface.
    until: datetime = Field(description="the new deadline, ISO 8601 with a time zone offset")
    reason: str = Field(max_length=2000, description="why: required, kept in the audit trail")


class CallbackBody(Strict):
    # Timezone awareness and the bounds are the case's to judge, as for every surface.
    at: datetime = Field(
        description="when to call, ISO 8601 with a time zone offset; not in the past, "
        "before the case's deadline"
    )


class ContactBody(Strict):
    email: str = Field(max_length=254)
    emergency_phone: str | None = Field(
        default=None, max_length=32, description="E.164; left out, the stored number is kept"
    )
    timezone: str = Field(max_length=64, description="IANA zone, e.g. America/Chicago")


class ConsentBody(Strict):
    consent: StrictBool = Field(
        description="false withdraws consent to calls (email goes on); true gives it again"
    )


class ContactSaved(BaseModel):
    seller_id: str
    email: str
    emergency_phone: str | None
    timezone: str
    case_notified: bool = Field(description="whether an open case was told to re-read it")
    enrolled_now: bool
    warnings: list[str] = []


class PreferredWindowsView(BaseModel):
    """The seller's preferred contact windows, in the seller's local time (`timezone`)."""

    seller_id: str
    timezone: str
    windows: PreferredWindows = Field(description="per weekday, e.g. mon: ['09:00-12:00']")
    summary: str = Field(description="the windows in a line, or 'none'")
    meets_calendar: bool | None = Field(
        default=None,
        description="whether the windows share any time with the marketplace's calling "
        "calendar (windows that never do are ignored); null without windows",
    )
    case_notified: bool = Field(
        default=False, description="on a change: whether an open case was told to re-read it"
    )
    warnings: list[str] = []


class AhrReading(Strict):
    seller_id: str = Field(pattern=SELLER_ID_PATTERN)
    date: date
    score: int = Field(ge=0, le=1000)


class AhrBatch(Strict):
    readings: list[AhrReading] = Field(min_length=1, max_length=10_000)


def _reading_or_batch(value: object) -> str:
    return "AhrBatch" if isinstance(value, dict) and "readings" in value else "AhrReading"


# One reading or a batch, told apart by `readings`, so errors name only the fields of the one
# that was sent.
AhrBody = Annotated[
    Annotated[AhrReading, Tag("AhrReading")] | Annotated[AhrBatch, Tag("AhrBatch")],
    Discriminator(_reading_or_batch),
]


class RejectedReading(BaseModel):
    index: int
    reason: str


class AhrReport(BaseModel):
    accepted: int
    rejected: list[RejectedReading]


class PendingCalls(BaseModel):
    calls: list[PendingCall]
    next_page_token: str | None = Field(
        default=None, description="the next page's token; null on the last page"
    )


class AssignBody(Strict):
    specialist: str = Field(
        pattern=SPECIALIST_NAME_PATTERN, description="a specialist's or supervisor's name"
    )


class Health(BaseModel):
    status: str
    detail: str = ""
