"""Page sessions signed out before they expire (`aha.ports.SignedOutSessions`), in
PostgreSQL: every API replica on the same `AHA_DB` refuses a copied cookie after sign-out."""

from __future__ import annotations

import time

from aha.adapters.postgres.pool import Pool


class PostgresSignedOut:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def sign_out(self, nonce: str, until: float) -> None:
        with self.pool.connection() as db, db.transaction():
            db.execute("DELETE FROM signed_out_sessions WHERE until < %s", (time.time(),))
            db.execute(
                "INSERT INTO signed_out_sessions (nonce, until) VALUES (%s, %s)"
                " ON CONFLICT (nonce) DO UPDATE SET until = excluded.until",
                (nonce, until),
            )

    def is_signed_out(self, nonce: str) -> bool:
        with self.pool.connection() as db:
            row = db.execute(
                "SELECT 1 FROM signed_out_sessions WHERE nonce = %s AND until >= %s",
                (nonce, time.time()),
            ).fetchone()
        return row is not None
