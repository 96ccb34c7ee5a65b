"""The seller directory, and the older record of notifications sent, in the SQLite file."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from aha.adapters.sqlite.ledger import SqliteDeliveries
from aha.adapters.sqlite.schema import prepare
from aha.domain.contact import SellerContact, check_account_type, validate_contact
from aha.domain.preferred import PreferredWindows
from aha.domain.vocabulary import AccountStatus


class ConnectionLedger:
    """The notification ledger over one open connection: each record commits at once."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def was_sent(self, key: str) -> bool:
        row = self._db.execute("SELECT 1 FROM sent_notifications WHERE key = ?", (key,)).fetchone()
        return row is not None

    def sent_among(self, keys: Sequence[str]) -> set[str]:
        # One JSON parameter: no limit on how many keys, unlike one `?` per key.
        rows = self._db.execute(
            "SELECT key FROM sent_notifications WHERE key IN (SELECT value FROM json_each(?))",
            (json.dumps(list(keys)),),
        )
        return {row[0] for row in rows}

    def record_sent(self, key: str, channel: str) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO sent_notifications (key, channel, sent_at) VALUES (?, ?, ?)",
                (key, channel, datetime.now(UTC).isoformat()),
            )


class SqliteDirectory:
    """SellerDirectory, SellerPages and the notification ledger over the SQLite file; its
    `deliveries` is the delivery ledger in the same file."""

    def __init__(self, path: str | Path) -> None:
        self.path = prepare(path)
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
        check_account_type(account_type)
        checked = validate_contact(seller_id, email, phone, timezone)
        phone = checked or None
        now = datetime.now(UTC).isoformat()
        with self._connect() as db:
            # The write lock before the read: two processes changing one seller take turns.
            db.execute("BEGIN IMMEDIATE")
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

    def set_account_status(self, seller_id: str, status: AccountStatus) -> None:
        with self._connect() as db:
            changed = db.execute(
                "UPDATE sellers SET account_status = ?, updated_at = ? WHERE seller_id = ?",
                (status, datetime.now(UTC).isoformat(), seller_id),
            ).rowcount
        if not changed:
            raise LookupError(f"unknown seller {seller_id!r}")

    def set_preferred_windows(
        self, seller_id: str, windows: PreferredWindows | None
    ) -> SellerContact:
        stored = None if windows is None or windows.empty else windows.model_dump_json()
        with self._connect() as db:
            changed = db.execute(
                "UPDATE sellers SET preferred_windows = ?, updated_at = ? WHERE seller_id = ?",
                (stored, datetime.now(UTC).isoformat(), seller_id),
            ).rowcount
        contact = self.get(seller_id)
        if not changed or contact is None:
            raise LookupError(f"unknown seller {seller_id!r}")
        return contact

    # ---- paging through sellers ------------------------------------------------------------

    def contacts(self, seller_ids: Sequence[str]) -> dict[str, SellerContact]:
        if not seller_ids:
            return {}
        marks = ",".join("?" * len(seller_ids))
        with self._connect() as db:
            rows = db.execute(
                f"SELECT * FROM sellers WHERE seller_id IN ({marks})",
                list(seller_ids),
            ).fetchall()
        contacts = {}
        for row in rows:
            # A row another system wrote badly fails only that seller's evaluation.
            with contextlib.suppress(ValidationError):
                contacts[row["seller_id"]] = SellerContact.model_validate(dict(row))
        return contacts

    def seller_page(self, after: str, limit: int) -> list[str]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT seller_id FROM sellers WHERE seller_id > ? ORDER BY seller_id LIMIT ?",
                (after, limit),
            ).fetchall()
        return [row["seller_id"] for row in rows]

    def page_starts(self, size: int) -> list[str]:
        """Cursors that split all sellers into pages of `size`: each page is `> cursor`."""
        with self._connect() as db:
            ids = [row[0] for row in db.execute("SELECT seller_id FROM sellers ORDER BY seller_id")]
        return ["", *ids[size - 1 : -1 : size]] if ids else []

    # ---- the older notification ledger -----------------------------------------------------

    def was_sent(self, key: str) -> bool:
        with self._connect() as db:
            return ConnectionLedger(db).was_sent(key)

    def record_sent(self, key: str, channel: str) -> None:
        with self._connect() as db:
            ConnectionLedger(db).record_sent(key, channel)

    @contextmanager
    def ledger(self) -> Iterator[ConnectionLedger]:
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
