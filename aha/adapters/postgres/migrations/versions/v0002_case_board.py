"""The case board: one row per case run, which the console's queue, call list and dashboard
read (`aha.adapters.postgres.board`), and the run's pending calls.

Ids sort bytewise (COLLATE "C"), as in SQLite, so the queue's pages (ordered by deadline, then
case id) are the same in both stores. A missing deadline sorts last, as 'infinity'.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE case_board (
            run_id TEXT COLLATE "C" PRIMARY KEY,
            case_id TEXT COLLATE "C" NOT NULL,
            version BIGINT NOT NULL,
            seller_id TEXT COLLATE "C" NOT NULL,
            marketplace TEXT NOT NULL,
            status TEXT NOT NULL,
            opened_at TIMESTAMPTZ NOT NULL,
            detected_at TIMESTAMPTZ,
            deadline TIMESTAMPTZ,
            closed_at TIMESTAMPTZ,
            closure_reason TEXT,
            timezone TEXT,
            calling_start TEXT NOT NULL,
            calling_end TEXT NOT NULL,
            calling_stopped TEXT,
            attempts INTEGER NOT NULL,
            next_call_at TIMESTAMPTZ,
            first_attempt_at TIMESTAMPTZ,
            reached_at TIMESTAMPTZ,
            assigned_to TEXT,
            sla_state TEXT NOT NULL,
            sla_first_attempt TEXT,
            sla_reached TEXT,
            sla_plan_review TEXT,
            issue_types TEXT NOT NULL,
            -- A newer run of the same case id exists: this one is in no queue or call list.
            superseded BOOLEAN NOT NULL DEFAULT false,
            updated_at TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX case_board_queue
            ON case_board ((coalesce(deadline, 'infinity'::timestamptz)), case_id)
            WHERE closed_at IS NULL AND NOT superseded;
        CREATE INDEX case_board_owner ON case_board (assigned_to)
            WHERE closed_at IS NULL AND NOT superseded;
        CREATE INDEX case_board_case ON case_board (case_id, opened_at DESC, version DESC);
        CREATE INDEX case_board_closed ON case_board (closed_at) WHERE closed_at IS NOT NULL;
        CREATE INDEX case_board_opened ON case_board (opened_at);
        CREATE TABLE case_board_calls (
            run_id TEXT COLLATE "C" NOT NULL REFERENCES case_board (run_id) ON DELETE CASCADE,
            attempt INTEGER NOT NULL,
            case_id TEXT COLLATE "C" NOT NULL,
            seller_initiated BOOLEAN NOT NULL,
            scheduled_for TIMESTAMPTZ NOT NULL,
            placed_at TIMESTAMPTZ NOT NULL,
            guidance TEXT NOT NULL,
            PRIMARY KEY (run_id, attempt)
        );
        CREATE INDEX case_board_calls_order
            ON case_board_calls ((NOT seller_initiated), scheduled_for, case_id, attempt);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE case_board_calls, case_board")
