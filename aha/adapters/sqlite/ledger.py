"""The delivery ledger (`aha.ports.DeliveryLedger`) in the SQLite file.

Each step (an email, a call) has one row. A sender claims the row before acting, so only one
of several workers acts; it marks the row sent right after the mail server or dialer took the
step. A claim whose holder died expires and can be taken again. A case that closes *seals* its
run, after which steps fenced by that run (reminders, calls) are refused: an effect still in
flight when the case ended finds, when it runs, that it no longer applies.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aha.adapters.sqlite.schema import prepare
from aha.ports import ClaimOutcome


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SqliteClaim:
    outcome: ClaimOutcome
    key: str
    db: sqlite3.Connection
    token: int = 0  # which claim of the key this is: a stale holder touches nothing
    taken: bool = False

    def mark_sent(self) -> None:
        # The step was taken: from here on the claim is never released, even if the mark
        # fails, since releasing it would let a retry send again at once.
        self.taken = True
        # One short commit on a connection already open: the least time after the server's
        # acceptance in which a crash can still leave the step unmarked.
        self.db.execute(
            "UPDATE deliveries SET state = 'sent', sent_at = ? WHERE key = ? AND claims = ?",
            (_now().isoformat(), self.key, self.token),
        )

    def release(self) -> None:
        # Expire rather than delete: the claim count, and so every holder's token, only grows.
        self.db.execute(
            "UPDATE deliveries SET expires_at = claimed_at"
            " WHERE key = ? AND state = 'claimed' AND claims = ?",
            (self.key, self.token),
        )


class SqliteDeliveries:
    """The ledger in the SQLite file (`AHA_DB`), beside the older `sent_notifications`
    table, whose keys count as sent."""

    def __init__(self, path: str | Path) -> None:
        self.path = prepare(path)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    @contextmanager
    def claim(
        self, key: str, channel: str, hold: timedelta, fence: str | None = None
    ) -> Iterator[SqliteClaim]:
        """Claim `key` for `hold`; a claim left unmarked when the block ends is released.

        A crash inside the block leaves the claim until it expires, so a retry sends only
        once `hold` has passed: make `hold` longer than one attempt may take.
        """
        db = self._open()
        try:
            outcome, token = self._take(db, key, channel, hold, fence)
            claim = SqliteClaim(outcome, key, db, token)
            try:
                yield claim
            finally:
                if claim.outcome == "claimed" and not claim.taken:
                    claim.release()
        finally:
            db.close()

    def _take(
        self, db: sqlite3.Connection, key: str, channel: str, hold: timedelta, fence: str | None
    ) -> tuple[ClaimOutcome, int]:
        # BEGIN IMMEDIATE takes the write lock first, so check and claim are one step.
        db.execute("BEGIN IMMEDIATE")
        now = _now()
        token = 0
        try:
            row = db.execute(
                "SELECT state, expires_at, claims FROM deliveries WHERE key = ?", (key,)
            ).fetchone()
            legacy = db.execute("SELECT 1 FROM sent_notifications WHERE key = ?", (key,))
            if (row is not None and row["state"] == "sent") or legacy.fetchone():
                outcome: ClaimOutcome = "already_sent"
            # Busy before sealed: an attempt still sending decides, not its retry.
            elif row is not None and datetime.fromisoformat(row["expires_at"]) > now:
                outcome = "busy"
            elif fence is not None and self._sealed(db, fence):
                outcome = "sealed"
            else:
                db.execute(
                    "INSERT INTO deliveries (key, channel, state, claimed_at, expires_at)"
                    " VALUES (?, ?, 'claimed', ?, ?) ON CONFLICT (key) DO UPDATE SET"
                    " state = 'claimed', claimed_at = excluded.claimed_at,"
                    " expires_at = excluded.expires_at, claims = claims + 1",
                    (key, channel, now.isoformat(), (now + hold).isoformat()),
                )
                outcome = "claimed"
                token = (row["claims"] + 1) if row is not None else 1
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return outcome, token

    @staticmethod
    def _sealed(db: sqlite3.Connection, run_key: str) -> bool:
        row = db.execute("SELECT 1 FROM sealed_runs WHERE run_key = ?", (run_key,)).fetchone()
        return row is not None

    def seal(self, run_key: str) -> None:
        db = self._open()
        try:
            db.execute(
                "INSERT OR IGNORE INTO sealed_runs (run_key, sealed_at) VALUES (?, ?)",
                (run_key, _now().isoformat()),
            )
        finally:
            db.close()

    def is_sealed(self, run_key: str) -> bool:
        db = self._open()
        try:
            return self._sealed(db, run_key)
        finally:
            db.close()
