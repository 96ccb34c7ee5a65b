"""Consent to calls and the do-not-call list (`aha.ports.CallConsents`) in PostgreSQL."""

from __future__ import annotations

from typing import Any

from aha.adapters.postgres.pool import Pool
from aha.domain.consent import CallConsent, DoNotCall, InvalidDoNotCall, dnc_number, dnc_reason


class PostgresCallConsents:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def consent(self, seller_id: str) -> CallConsent:
        with self.pool.connection() as db:
            row = db.execute(
                "SELECT * FROM call_consent WHERE seller_id = %s", (seller_id,)
            ).fetchone()
        if row is None:
            return CallConsent(seller_id=seller_id, consent=True)
        return CallConsent(
            seller_id=seller_id,
            consent=row["consent"],
            changed_at=row["changed_at"],
            changed_by=row["changed_by"],
        )

    def set_consent(self, seller_id: str, consent: bool, changed_by: str) -> CallConsent:
        with self.pool.connection() as db, db.transaction():
            row = db.execute(
                "INSERT INTO call_consent (seller_id, consent, changed_at, changed_by)"
                " VALUES (%s, %s, now(), %s)"
                " ON CONFLICT (seller_id) DO UPDATE SET consent = excluded.consent,"
                " changed_at = excluded.changed_at, changed_by = excluded.changed_by"
                " RETURNING *",
                (seller_id, consent, changed_by),
            ).fetchone()
        assert row is not None
        return CallConsent(
            seller_id=seller_id,
            consent=row["consent"],
            changed_at=row["changed_at"],
            changed_by=row["changed_by"],
        )

    def listed(self, number: str) -> DoNotCall | None:
        try:
            number = dnc_number(number)
        except InvalidDoNotCall:
            return None  # only valid numbers are ever listed; the dialer judges this one
        with self.pool.connection() as db:
            row = db.execute("SELECT * FROM do_not_call WHERE number = %s", (number,)).fetchone()
        return _entry(row) if row else None

    def add(self, number: str, reason: str, added_by: str) -> DoNotCall:
        number, reason = dnc_number(number), dnc_reason(reason)
        with self.pool.connection() as db, db.transaction():
            row = db.execute(
                "INSERT INTO do_not_call (number, reason, added_at, added_by)"
                " VALUES (%s, %s, now(), %s)"
                " ON CONFLICT (number) DO UPDATE SET reason = excluded.reason RETURNING *",
                (number, reason, added_by),
            ).fetchone()
        assert row is not None
        return _entry(row)

    def remove(self, number: str) -> bool:
        with self.pool.connection() as db, db.transaction():
            gone = db.execute("DELETE FROM do_not_call WHERE number = %s", (dnc_number(number),))
        return gone.rowcount > 0

    def entries(self) -> list[DoNotCall]:
        with self.pool.connection() as db:
            rows = db.execute("SELECT * FROM do_not_call ORDER BY number").fetchall()
        return [_entry(row) for row in rows]


def _entry(row: dict[str, Any]) -> DoNotCall:
    return DoNotCall(
        number=row["number"],
        reason=row["reason"],
        added_at=row["added_at"],
        added_by=row["added_by"],
    )
