"""Seller contact data and the record of notifications already sent, in embedded SQLite.

Both sit behind small interfaces so another store can replace them without touching
workflows or activities.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import BaseModel, ConfigDict

from aha.domain.models import SELLER_ID_PATTERN, SellerProfile
from aha.ledger import SqliteDeliveries

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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
    account_status: Literal["active", "deactivated"]
    phone_version: int
    updated_at: datetime

    def profile(self) -> SellerProfile:
        return SellerProfile(
            seller_id=self.seller_id,
            marketplace=self.marketplace,
            timezone=self.timezone,
            has_phone=bool(self.phone),
            phone_version=self.phone_version,
            account_status=self.account_status,
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


ACCOUNT_TYPES = ("professional", "individual")


def validate_contact(seller_id: str, email: str, phone: str | None, timezone: str) -> str:
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


class SellerDirectory(Protocol):
    """What activities need of the directory: reading a seller, and deactivating one."""

    def get(self, seller_id: str) -> SellerContact | None: ...

    def set_account_status(
        self, seller_id: str, status: Literal["active", "deactivated"]
    ) -> None: ...


class NotificationLedger(Protocol):
    def was_sent(self, key: str) -> bool: ...

    def record_sent(self, key: str, channel: str) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS sellers (
    seller_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL,
    timezone TEXT NOT NULL,
    marketplace TEXT NOT NULL,
    account_status TEXT NOT NULL DEFAULT 'active',
    phone_version INTEGER NOT NULL DEFAULT 1,
    account_type TEXT NOT NULL DEFAULT 'professional',
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sent_notifications (
    key TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
"""


class ConnectionLedger:
    """The notification ledger over one open connection: each record commits at once."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def was_sent(self, key: str) -> bool:
        row = self._db.execute("SELECT 1 FROM sent_notifications WHERE key = ?", (key,)).fetchone()
        return row is not None

    def record_sent(self, key: str, channel: str) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO sent_notifications (key, channel, sent_at) VALUES (?, ?, ?)",
                (key, channel, datetime.now(UTC).isoformat()),
            )


class SqliteStore:
    """SellerDirectory and NotificationLedger over one SQLite file (`AHA_DB`)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            columns = {row["name"] for row in db.execute("PRAGMA table_info(sellers)")}
            if "account_type" not in columns:  # a directory made before account types
                db.execute(
                    "ALTER TABLE sellers ADD COLUMN account_type TEXT NOT NULL"
                    " DEFAULT 'professional'"
                )
        self.deliveries = SqliteDeliveries(self.path)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # One short-lived connection per operation keeps the store safe across threads.
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            with db:
                yield db
        finally:
            db.close()

    def get(self, seller_id: str) -> SellerContact | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM sellers WHERE seller_id = ?", (seller_id,)).fetchone()
        return SellerContact.model_validate(dict(row)) if row else None

    def upsert(
        self,
        seller_id: str,
        *,
        email: str,
        phone: str | None,
        timezone: str,
        marketplace: str = "US",
        name: str | None = None,
        account_type: str | None = None,
    ) -> tuple[SellerContact, bool]:
        """Store the seller's contact data; the flag says whether the phone number changed.

        A phone or account type left out keeps what is stored (none and professional for a
        new seller).
        """
        if account_type is not None and account_type not in ACCOUNT_TYPES:
            raise InvalidContact(
                f"account type {account_type!r} must be one of: {', '.join(ACCOUNT_TYPES)}",
                "account_type",
            )
        checked = validate_contact(seller_id, email, phone, timezone)
        phone = checked or None
        now = datetime.now(UTC).isoformat()
        with self._connect() as db:
            row = db.execute("SELECT * FROM sellers WHERE seller_id = ?", (seller_id,)).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO sellers (seller_id, name, email, phone, timezone, marketplace,"
                    " account_type, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        seller_id,
                        name or seller_id,
                        email,
                        phone or "",
                        timezone,
                        marketplace,
                        account_type or "professional",
                        now,
                    ),
                )
                phone_changed = bool(phone)
            else:
                new_phone = row["phone"] if phone is None else phone
                phone_changed = row["phone"] != new_phone
                db.execute(
                    "UPDATE sellers SET name = ?, email = ?, phone = ?, timezone = ?,"
                    " marketplace = ?, account_type = ?, phone_version = phone_version + ?,"
                    " updated_at = ? WHERE seller_id = ?",
                    (
                        name or row["name"],
                        email,
                        new_phone,
                        timezone,
                        marketplace,
                        account_type or row["account_type"],
                        int(phone_changed),
                        now,
                        seller_id,
                    ),
                )
        contact = self.get(seller_id)
        assert contact is not None
        return contact, phone_changed

    def set_account_status(self, seller_id: str, status: Literal["active", "deactivated"]) -> None:
        with self._connect() as db:
            changed = db.execute(
                "UPDATE sellers SET account_status = ?, updated_at = ? WHERE seller_id = ?",
                (status, datetime.now(UTC).isoformat(), seller_id),
            ).rowcount
        if not changed:
            raise LookupError(f"unknown seller {seller_id!r}")

    def was_sent(self, key: str) -> bool:
        with self._connect() as db:
            return ConnectionLedger(db).was_sent(key)

    def record_sent(self, key: str, channel: str) -> None:
        with self._connect() as db:
            ConnectionLedger(db).record_sent(key, channel)

    @contextmanager
    def ledger(self) -> Iterator[NotificationLedger]:
        """`was_sent`/`record_sent` exactly as on the store, over one connection held open.

        For a loop that checks and records thousands of keys in one thread (an enrolment
        page): a connection per call costs an open, a schema read and, as the last WAL
        connection closes, a checkpoint, several times the cost of the query itself. Every
        record still commits on its own, before the next send.
        """
        with self._connect() as db:
            # In WAL mode NORMAL still never corrupts; a power cut may lose the last records,
            # whose emails then go again with the same Message-ID. It makes commits cheap.
            db.execute("PRAGMA synchronous=NORMAL")
            yield ConnectionLedger(db)
