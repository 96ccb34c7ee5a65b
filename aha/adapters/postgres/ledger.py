"""The delivery ledger (`aha.ports.DeliveryLedger`) in PostgreSQL.

As in the SQLite ledger, each step has one row; a sender claims it before acting and marks it
sent right after the mail server or dialer took the step; a claim whose holder died expires;
a sealed run refuses the steps it fences. Here the claim is one statement, so any number of
worker processes on any number of hosts can race for a step: the row lock taken by
INSERT ... ON CONFLICT DO UPDATE lets exactly one of them through. Times are the database's
clock, so hosts whose clocks differ still agree on when a claim expires.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from aha.adapters.postgres.pool import Pool
from aha.ports import ClaimOutcome

# Claimed only when the step was never sent (here or in the older sent_notifications),
# when no unexpired claim holds it, and when its fence (if any) is not sealed.
CLAIM = """
INSERT INTO deliveries AS d (key, channel, state, claimed_at, expires_at, claims)
SELECT %(key)s, %(channel)s, 'claimed', now(), now() + %(hold)s, 1
WHERE NOT EXISTS (SELECT 1 FROM sent_notifications WHERE key = %(key)s)
  AND (%(fence)s::text IS NULL
       OR NOT EXISTS (SELECT 1 FROM sealed_runs WHERE run_key = %(fence)s::text))
ON CONFLICT (key) DO UPDATE SET
    state = 'claimed', claimed_at = excluded.claimed_at,
    expires_at = excluded.expires_at, claims = d.claims + 1
WHERE d.state <> 'sent' AND d.expires_at <= now()
RETURNING d.claims
"""

# Why nothing was claimed, in the SQLite ledger's order: sent, then busy (an attempt still
# sending decides, not its retry), then sealed.
REFUSAL = """
SELECT
    EXISTS (SELECT 1 FROM deliveries WHERE key = %(key)s AND state = 'sent')
        OR EXISTS (SELECT 1 FROM sent_notifications WHERE key = %(key)s) AS sent,
    EXISTS (SELECT 1 FROM deliveries WHERE key = %(key)s AND expires_at > now()) AS busy,
    %(fence)s::text IS NOT NULL
        AND EXISTS (SELECT 1 FROM sealed_runs WHERE run_key = %(fence)s::text) AS sealed
"""


@dataclass
class PostgresClaim:
    outcome: ClaimOutcome
    key: str
    pool: Pool
    token: int = 0  # which claim of the key this is: a stale holder touches nothing
    taken: bool = False

    def mark_sent(self) -> None:
        # The step was taken: from here on the claim is never released, even if the mark
        # fails, since releasing it would let a retry send again at once.
        self.taken = True
        with self.pool.connection() as db:
            db.execute(
                "UPDATE deliveries SET state = 'sent', sent_at = now()"
                " WHERE key = %s AND claims = %s",
                (self.key, self.token),
            )

    def release(self) -> None:
        # Expire rather than delete: the claim count, and so every holder's token, only grows.
        with self.pool.connection() as db:
            db.execute(
                "UPDATE deliveries SET expires_at = claimed_at"
                " WHERE key = %s AND state = 'claimed' AND claims = %s",
                (self.key, self.token),
            )


class PostgresDeliveries:
    """The ledger in the database, beside the older `sent_notifications` table, whose keys
    count as sent."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    @contextmanager
    def claim(
        self, key: str, channel: str, hold: timedelta, fence: str | None = None
    ) -> Iterator[PostgresClaim]:
        """Claim `key` for `hold`; a claim left unmarked when the block ends is released.

        No connection is held during the block: the pool's are already open, so marking
        the step sent is one short statement all the same.
        """
        outcome, token = self._take(key, channel, hold, fence)
        claim = PostgresClaim(outcome, key, self.pool, token)
        try:
            yield claim
        finally:
            if claim.outcome == "claimed" and not claim.taken:
                claim.release()

    def _take(
        self, key: str, channel: str, hold: timedelta, fence: str | None
    ) -> tuple[ClaimOutcome, int]:
        params = {"key": key, "channel": channel, "hold": hold, "fence": fence}
        with self.pool.connection() as db:
            for _ in range(5):
                row = db.execute(CLAIM, params).fetchone()
                if row is not None:
                    return "claimed", int(row["claims"])
                why = db.execute(REFUSAL, params).fetchone()
                assert why is not None
                if why["sent"]:
                    return "already_sent", 0
                if why["busy"]:
                    return "busy", 0
                if why["sealed"]:
                    return "sealed", 0
                # The holder released or its claim expired between the two statements:
                # the step is free again, so try to claim it once more.
        return "busy", 0

    def seal(self, run_key: str) -> None:
        with self.pool.connection() as db:
            db.execute(
                "INSERT INTO sealed_runs (run_key, sealed_at) VALUES (%s, now())"
                " ON CONFLICT (run_key) DO NOTHING",
                (run_key,),
            )

    def is_sealed(self, run_key: str) -> bool:
        with self.pool.connection() as db:
            row = db.execute("SELECT 1 FROM sealed_runs WHERE run_key = %s", (run_key,)).fetchone()
        return row is not None
