"""The seller directory, and the older record of notifications sent, in PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from aha.adapters.postgres.ledger import PostgresDeliveries
from aha.adapters.postgres.pool import Pool
from aha.domain.contact import SellerContact, check_account_type, validate_contact
from aha.domain.preferred import PreferredWindows
from aha.domain.vocabulary import AccountStatus

SELLER_COLUMNS = (
    "seller_id, name, email, phone, timezone, marketplace, account_status, phone_version,"
    " account_type, updated_at, preferred_windows"
)


class ConnectionLedger:
    """The notification ledger over one open connection: each record commits at once."""

    def __init__(self, db: psycopg.Connection[DictRow]) -> None:
        self._db = db

    def was_sent(self, key: str) -> bool:
        row = self._db.execute("SELECT 1 FROM sent_notifications WHERE key = %s", (key,))
        return row.fetchone() is not None

    def sent_among(self, keys: Sequence[str]) -> set[str]:
        rows = self._db.execute(
            "SELECT key FROM sent_notifications WHERE key = ANY(%s)", (list(keys),)
        ).fetchall()
        return {row["key"] for row in rows}

    def record_sent(self, key: str, channel: str) -> None:
        self._db.execute(
            "INSERT INTO sent_notifications (key, channel, sent_at) VALUES (%s, %s, now())"
            " ON CONFLICT (key) DO NOTHING",
            (key, channel),
        )


def _contact(row: dict[str, Any]) -> SellerContact:
    return SellerContact.model_validate(row)


class PostgresDirectory:
    """SellerDirectory, SellerPages and the notification ledger over the process's pool;
    its `deliveries` is the delivery ledger in the same database."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.deliveries = PostgresDeliveries(pool)

    def get(self, seller_id: str) -> SellerContact | None:
        with self.pool.connection() as db:
            row = db.execute(
                f"SELECT {SELLER_COLUMNS} FROM sellers WHERE seller_id = %s", (seller_id,)
            ).fetchone()
        return _contact(row) if row else None

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
        new seller). The row is locked from the read to the write, so two processes changing
        the same seller take turns, and each sees what the other stored.
        """
        check_account_type(account_type)
        checked = validate_contact(seller_id, email, phone, timezone)
        phone = checked or None
        with self.pool.connection() as db, db.transaction():
            while True:
                row = db.execute(
                    "SELECT name, phone, account_type FROM sellers WHERE seller_id = %s FOR UPDATE",
                    (seller_id,),
                ).fetchone()
                if row is not None:
                    break
                inserted = db.execute(
                    f"INSERT INTO sellers (seller_id, name, email, phone, timezone, marketplace,"
                    f" account_type, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, now())"
                    f" ON CONFLICT (seller_id) DO NOTHING RETURNING {SELLER_COLUMNS}",
                    (
                        seller_id,
                        name or seller_id,
                        email,
                        phone or "",
                        timezone,
                        marketplace,
                        account_type or "professional",
                    ),
                ).fetchone()
                if inserted is not None:
                    return _contact(inserted), bool(phone)
                # Another process added the seller meanwhile: lock its row and change it.
            new_phone = row["phone"] if phone is None else phone
            phone_changed = row["phone"] != new_phone
            updated = db.execute(
                f"UPDATE sellers SET name = %s, email = %s, phone = %s, timezone = %s,"
                f" marketplace = %s, account_type = %s, phone_version = phone_version + %s,"
                f" updated_at = now() WHERE seller_id = %s RETURNING {SELLER_COLUMNS}",
                (
                    name or row["name"],
                    email,
                    new_phone,
                    timezone,
                    marketplace,
                    account_type or row["account_type"],
                    int(phone_changed),
                    seller_id,
                ),
            ).fetchone()
        assert updated is not None
        return _contact(updated), phone_changed

    def set_account_status(self, seller_id: str, status: AccountStatus) -> None:
        with self.pool.connection() as db:
            changed = db.execute(
                "UPDATE sellers SET account_status = %s, updated_at = now() WHERE seller_id = %s",
                (str(status), seller_id),
            ).rowcount
        if not changed:
            raise LookupError(f"unknown seller {seller_id!r}")

    def set_preferred_windows(
        self, seller_id: str, windows: PreferredWindows | None
    ) -> SellerContact:
        stored = None if windows is None or windows.empty else Jsonb(windows.model_dump())
        with self.pool.connection() as db:
            row = db.execute(
                f"UPDATE sellers SET preferred_windows = %s, updated_at = now()"
                f" WHERE seller_id = %s RETURNING {SELLER_COLUMNS}",
                (stored, seller_id),
            ).fetchone()
        if row is None:
            raise LookupError(f"unknown seller {seller_id!r}")
        return _contact(row)

    # ---- paging through sellers ------------------------------------------------------------

    def contacts(self, seller_ids: Sequence[str]) -> dict[str, SellerContact]:
        if not seller_ids:
            return {}
        with self.pool.connection() as db:
            rows = db.execute(
                f"SELECT {SELLER_COLUMNS} FROM sellers WHERE seller_id = ANY(%s)",
                (list(seller_ids),),
            ).fetchall()
        contacts = {}
        for row in rows:
            # A row another system wrote badly fails only that seller's evaluation.
            with contextlib.suppress(ValidationError):
                contacts[row["seller_id"]] = _contact(row)
        return contacts

    def seller_page(self, after: str, limit: int) -> list[str]:
        with self.pool.connection() as db:
            rows = db.execute(
                "SELECT seller_id FROM sellers WHERE seller_id > %s ORDER BY seller_id LIMIT %s",
                (after, limit),
            ).fetchall()
        return [row["seller_id"] for row in rows]

    def page_starts(self, size: int) -> list[str]:
        """Cursors that split all sellers into pages of `size`: each page is `> cursor`.

        The database numbers the rows, so only one id per page crosses the wire.
        """
        with self.pool.connection() as db:
            rows = db.execute(
                "SELECT seller_id FROM (SELECT seller_id,"
                " row_number() OVER (ORDER BY seller_id) AS position, count(*) OVER () AS total"
                " FROM sellers) AS numbered"
                " WHERE position %% %s = 0 AND position < total ORDER BY seller_id",
                (size,),
            ).fetchall()
            any_seller = rows or db.execute("SELECT 1 FROM sellers LIMIT 1").fetchone()
        return ["", *(row["seller_id"] for row in rows)] if any_seller else []

    # ---- the older notification ledger -----------------------------------------------------

    def was_sent(self, key: str) -> bool:
        with self.pool.connection() as db:
            return ConnectionLedger(db).was_sent(key)

    def record_sent(self, key: str, channel: str) -> None:
        with self.pool.connection() as db:
            ConnectionLedger(db).record_sent(key, channel)

    @contextmanager
    def ledger(self) -> Iterator[ConnectionLedger]:
        """`was_sent`/`record_sent` exactly as on the store, over one connection held open.

        For a loop that checks and records thousands of keys in one thread (an enrolment
        page). Every record still commits on its own, before the next send.
        """
        with self.pool.connection() as db:
            # A commit need not wait for its WAL flush: a crash may lose the last records
            # (never corrupt anything), whose emails then go again with the same Message-ID.
            # It makes each record a fraction of a millisecond instead of a disk flush.
            db.execute("SET synchronous_commit TO off")
            try:
                yield ConnectionLedger(db)
            finally:
                # A broken connection fails here too; the pool then drops it.
                with contextlib.suppress(psycopg.Error):
                    db.execute("RESET synchronous_commit")
