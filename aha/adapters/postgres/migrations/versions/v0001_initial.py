"""The first schema: the tables of the SQLite file, in PostgreSQL types.

Seller ids sort bytewise (COLLATE "C"), as in SQLite, so a sweep's pages are the same
whatever the database's locale.

Revision ID: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE sellers (
            seller_id TEXT COLLATE "C" PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT NOT NULL,
            phone TEXT NOT NULL,
            timezone TEXT NOT NULL,
            marketplace TEXT NOT NULL,
            account_status TEXT NOT NULL DEFAULT 'active',
            phone_version INTEGER NOT NULL DEFAULT 1,
            account_type TEXT NOT NULL DEFAULT 'professional',
            updated_at TIMESTAMPTZ NOT NULL
        );
        -- The older notification record, whose keys the delivery ledger counts as sent.
        CREATE TABLE sent_notifications (
            key TEXT PRIMARY KEY,
            channel TEXT NOT NULL,
            sent_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE deliveries (
            key TEXT PRIMARY KEY,
            channel TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('claimed', 'sent')),
            claimed_at TIMESTAMPTZ NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL,
            sent_at TIMESTAMPTZ,
            claims INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE sealed_runs (
            run_key TEXT PRIMARY KEY,
            sealed_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE ahr_readings (
            seller_id TEXT COLLATE "C" NOT NULL,
            day DATE NOT NULL,
            score INTEGER NOT NULL,
            PRIMARY KEY (seller_id, day)
        );
        CREATE TABLE enrollments (
            seller_id TEXT COLLATE "C" PRIMARY KEY,
            state TEXT NOT NULL,
            since DATE NOT NULL,
            reasons JSONB NOT NULL,
            evaluated_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE signed_out_sessions (
            nonce TEXT PRIMARY KEY,
            until DOUBLE PRECISION NOT NULL
        );
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TABLE signed_out_sessions, enrollments, ahr_readings, sealed_runs, deliveries,"
        " sent_notifications, sellers"
    )
