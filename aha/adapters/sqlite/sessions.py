"""Page sessions signed out before they expire (`aha.ports.SignedOutSessions`), in the
SQLite file: every API process on the same `AHA_DB` refuses a copied cookie after sign-out."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aha.adapters.sqlite.schema import prepare


class SqliteSignedOut:
    def __init__(self, path: str | Path) -> None:
        self.path = prepare(path)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def sign_out(self, nonce: str, until: float) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM signed_out_sessions WHERE until < ?", (time.time(),))
            db.execute("INSERT OR REPLACE INTO signed_out_sessions VALUES (?, ?)", (nonce, until))

    def is_signed_out(self, nonce: str) -> bool:
        with self._connect() as db:
            row = db.execute(
                "SELECT 1 FROM signed_out_sessions WHERE nonce = ? AND until >= ?",
                (nonce, time.time()),
            ).fetchone()
        return row is not None
