"""The case board keeps the calling calendar a case calls by (JSON, as the domain's
`CallingCalendar`), so the console's "callable now" follows weekends and holidays rather than
the policy's one fallback window. Rows written before it have none and read as before.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE case_board ADD COLUMN calling_calendar TEXT")


def downgrade() -> None:
    op.execute("ALTER TABLE case_board DROP COLUMN calling_calendar")
