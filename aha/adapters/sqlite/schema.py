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
    updated_at TEXT NOT NULL,
    preferred_windows TEXT
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
-- The case board (aha.adapters.sqlite.board): one row per case run. Times are UTC ISO-8601
-- text of one fixed width, so they sort as text; a missing deadline sorts last as '~'.
CREATE TABLE IF NOT EXISTS case_board (
    run_id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    seller_id TEXT NOT NULL,
    marketplace TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    detected_at TEXT,
    deadline TEXT,
    closed_at TEXT,
    closure_reason TEXT,
    timezone TEXT,
    calling_start TEXT NOT NULL,
    calling_end TEXT NOT NULL,
    calling_stopped TEXT,
    attempts INTEGER NOT NULL,
    next_call_at TEXT,
    first_attempt_at TEXT,
    reached_at TEXT,
    assigned_to TEXT,
    sla_state TEXT NOT NULL,
    sla_first_attempt TEXT,
    sla_reached TEXT,
    sla_plan_review TEXT,
    issue_types TEXT NOT NULL,
    calling_calendar TEXT,
    callback_at TEXT,
    superseded INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_board_queue ON case_board (coalesce(deadline, '~'), case_id)
    WHERE closed_at IS NULL AND superseded = 0;
CREATE INDEX IF NOT EXISTS case_board_owner ON case_board (assigned_to)
    WHERE closed_at IS NULL AND superseded = 0;
CREATE INDEX IF NOT EXISTS case_board_case ON case_board (case_id, opened_at DESC, version DESC);
CREATE INDEX IF NOT EXISTS case_board_closed ON case_board (closed_at)
    WHERE closed_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS case_board_opened ON case_board (opened_at);
CREATE TABLE IF NOT EXISTS case_board_calls (
    run_id TEXT NOT NULL REFERENCES case_board (run_id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    case_id TEXT NOT NULL,
    seller_initiated INTEGER NOT NULL,
    scheduled_for TEXT NOT NULL,
    placed_at TEXT NOT NULL,
    guidance TEXT NOT NULL,
    PRIMARY KEY (run_id, attempt)
) WITHOUT ROWID;
-- Consent to calls and the do-not-call list (aha.adapters.sqlite.consent); numbers E.164.
CREATE TABLE IF NOT EXISTS call_consent (
    seller_id TEXT PRIMARY KEY,
    consent INTEGER NOT NULL,
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS do_not_call (
    number TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    added_at TEXT NOT NULL,
    added_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_board_calls_order
    ON case_board_calls ((NOT seller_initiated), scheduled_for, case_id, attempt);
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
            if "preferred_windows" not in columns:  # a directory made before preferred windows
                db.execute("ALTER TABLE sellers ADD COLUMN preferred_windows TEXT")
            board = {row["name"] for row in db.execute("PRAGMA table_info(case_board)")}
            if "calling_calendar" not in board:  # a board made before calling calendars
                db.execute("ALTER TABLE case_board ADD COLUMN calling_calendar TEXT")
            if "callback_at" not in board:  # a board made before scheduled callbacks
                db.execute("ALTER TABLE case_board ADD COLUMN callback_at TEXT")
    finally:
        db.close()
    return path
