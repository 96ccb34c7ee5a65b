"""Sellers' consent to calls and the do-not-call list, read by the dial just before it rings
(the consent edition of the case). A seller with no row has consented; numbers are E.164.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE call_consent (
            seller_id TEXT COLLATE "C" PRIMARY KEY,
            consent BOOLEAN NOT NULL,
            changed_at TIMESTAMPTZ NOT NULL,
            changed_by TEXT NOT NULL
        );
        CREATE TABLE do_not_call (
            number TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            added_at TIMESTAMPTZ NOT NULL,
            added_by TEXT NOT NULL
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE do_not_call; DROP TABLE call_consent")
