"""Consent to calls and the do-not-call list (`aha.ports.CallConsents`) in the SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from aha.adapters.sqlite.schema import prepare
from aha.domain.consent import CallConsent, DoNotCall, InvalidDoNotCall, dnc_number, dnc_reason


class SqliteCallConsents:
    def __init__(self, path: str | Path) -> None:
        self.path = prepare(path)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            with db:
                yield db
        finally:
            db.close()

    def consent(self, seller_id: str) -> CallConsent:
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM call_consent WHERE seller_id = ?", (seller_id,)
            ).fetchone()
        if row is None:
            return CallConsent(seller_id=seller_id, consent=True)
        return CallConsent(
            seller_id=seller_id,
            consent=bool(row["consent"]),
            changed_at=datetime.fromisoformat(row["changed_at"]),
            changed_by=row["changed_by"],
        )

    def set_consent(self, seller_id: str, consent: bool, changed_by: str) -> CallConsent:
        now = datetime.now(UTC)
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO call_consent VALUES (?, ?, ?, ?)",
                (seller_id, int(consent), now.isoformat(), changed_by),
            )
        return CallConsent(
            seller_id=seller_id, consent=consent, changed_at=now, changed_by=changed_by
        )

    def listed(self, number: str) -> DoNotCall | None:
        try:
            number = dnc_number(number)
        except InvalidDoNotCall:
            return None  # only valid numbers are ever listed; the dialer judges this one
        with self._connect() as db:
            row = db.execute("SELECT * FROM do_not_call WHERE number = ?", (number,)).fetchone()
        return _entry(row) if row else None

    def add(self, number: str, reason: str, added_by: str) -> DoNotCall:
        number, reason = dnc_number(number), dnc_reason(reason)
        with self._connect() as db:
            db.execute(
                "INSERT INTO do_not_call VALUES (?, ?, ?, ?)"
                " ON CONFLICT (number) DO UPDATE SET reason = excluded.reason",
                (number, reason, datetime.now(UTC).isoformat(), added_by),
            )
            row = db.execute("SELECT * FROM do_not_call WHERE number = ?", (number,)).fetchone()
        return _entry(row)

    def remove(self, number: str) -> bool:
        with self._connect() as db:
            gone = db.execute("DELETE FROM do_not_call WHERE number = ?", (dnc_number(number),))
        return gone.rowcount > 0

    def entries(self) -> list[DoNotCall]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM do_not_call ORDER BY number").fetchall()
        return [_entry(row) for row in rows]


def _entry(row: sqlite3.Row) -> DoNotCall:
    return DoNotCall(
        number=row["number"],
        reason=row["reason"],
        added_at=datetime.fromisoformat(row["added_at"]),
        added_by=row["added_by"],
    )
