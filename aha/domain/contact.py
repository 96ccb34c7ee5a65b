"""A seller's contact data and the rules it must meet before anything stores it."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import BaseModel, ConfigDict, field_validator

from aha.domain.models import SELLER_ID_PATTERN, SellerProfile
from aha.domain.preferred import PreferredWindows
from aha.domain.vocabulary import AccountStatus

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ACCOUNT_TYPES = ("professional", "individual")


class InvalidContact(ValueError):
    """Contact data that cannot be stored; the message says which field and why."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field  # seller_id, email, phone, timezone or account_type


class SellerContact(BaseModel):
    model_config = ConfigDict(frozen=True)
    seller_id: str
    name: str
    email: str
    phone: str
    timezone: str
    marketplace: str
    account_type: Literal["professional", "individual"] = "professional"
    account_status: AccountStatus
    phone_version: int
    updated_at: datetime
    preferred_windows: PreferredWindows | None = None

    @field_validator("preferred_windows", mode="before")
    @classmethod
    def _stored_json(cls, value: Any) -> Any:
        # SQLite keeps the windows as JSON text; PostgreSQL's jsonb arrives parsed.
        return json.loads(value) if isinstance(value, str) else value

    def profile(self) -> SellerProfile:
        return SellerProfile(
            seller_id=self.seller_id,
            marketplace=self.marketplace,
            timezone=self.timezone,
            has_phone=bool(self.phone),
            phone_version=self.phone_version,
            account_status=self.account_status,
            preferred_windows=self.preferred_windows,
        )


def normalise_phone(phone: str) -> str:
    """The number in E.164, or InvalidContact saying why it cannot be dialled."""
    if len(phone) > 32:
        raise InvalidContact("phone is longer than 32 characters", "phone")
    if not phone.startswith("+"):
        raise InvalidContact(f"phone {phone!r} must be in E.164 form, e.g. +14155550123", "phone")
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException as err:
        raise InvalidContact(f"phone {phone!r} is not a phone number: {err}", "phone") from err
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidContact(f"phone {phone!r} is not a valid number", "phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def check_account_type(account_type: str | None) -> None:
    """An account type left out keeps what is stored; one given must be known."""
    if account_type is not None and account_type not in ACCOUNT_TYPES:
        raise InvalidContact(
            f"account type {account_type!r} must be one of: {', '.join(ACCOUNT_TYPES)}",
            "account_type",
        )


def validate_contact(seller_id: str, email: str, phone: str | None, timezone: str) -> str:
    """Check the fields a directory stores; returns the phone in E.164 ("" for none)."""
    if not re.fullmatch(SELLER_ID_PATTERN, seller_id):
        raise InvalidContact(
            f"seller id {seller_id!r} must be 1-64 letters, digits, '.', '_' or '-'", "seller_id"
        )
    if len(email) > 254:
        raise InvalidContact("email is longer than 254 characters", "email")
    if not _EMAIL.fullmatch(email):
        raise InvalidContact(f"email {email!r} is not an email address", "email")
    try:
        if len(timezone) > 64:
            raise ValueError("too long for a zone name")
        ZoneInfo(timezone)
    # A region such as 'America' is a directory in the zone database: OSError, not NotFound.
    except (ZoneInfoNotFoundError, ValueError, OSError) as err:
        raise InvalidContact(
            f"time zone {timezone!r} is not an IANA zone such as America/New_York", "timezone"
        ) from err
    return normalise_phone(phone) if phone else ""
