"""The case board keeps the time of the seller's pending callback, so the console's queue shows
it. Rows written before it have none.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE case_board ADD COLUMN callback_at TIMESTAMPTZ")


def downgrade() -> None:
    op.execute("ALTER TABLE case_board DROP COLUMN callback_at")
