"""Every table of the SQLite file (`AHA_DB`), and the one way to open it.

Each store opens the file through `prepare`, which creates what is missing and brings an older
file up to date, so whichever store a process opens first, the whole schema is there.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
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
-- The older notification record, whose keys the delivery ledger counts as sent.
CREATE TABLE IF NOT EXISTS sent_notifications (
    key TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    key TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    sent_at TEXT,
    claims INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS sealed_runs (
    run_key TEXT PRIMARY KEY,
    sealed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ahr_readings (
    seller_id TEXT NOT NULL,
    day TEXT NOT NULL,
    score INTEGER NOT NULL,
    PRIMARY KEY (seller_id, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS enrollments (
    seller_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    since TEXT NOT NULL,
    reasons TEXT NOT NULL,
    evaluated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS signed_out_sessions (
    nonce TEXT PRIMARY KEY,
    until REAL NOT NULL
);
"""


def prepare(path: str | Path) -> Path:
    """The file at `path` with the whole schema in it, made if missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30)
    db.row_factory = sqlite3.Row
    try:
        with db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            columns = {row["name"] for row in db.execute("PRAGMA table_info(sellers)")}
            if "account_type" not in columns:  # a directory made before account types
                db.execute(
                    "ALTER TABLE sellers ADD COLUMN account_type TEXT NOT NULL"
                    " DEFAULT 'professional'"
                )
    finally:
        db.close()
    return path
