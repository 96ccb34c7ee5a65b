"""The seller's record keeps the seller's preferred contact windows (JSON, as the domain's
`PreferredWindows`); a seller without any has NULL, and cases call as before.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE sellers ADD COLUMN preferred_windows JSONB")


def downgrade() -> None:
    op.execute("ALTER TABLE sellers DROP COLUMN preferred_windows")
