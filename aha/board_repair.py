"""Closing board rows whose case run ended without writing its last row.

A case writes its closing row itself; a run that was terminated, failed or timed out never
does, and stays "open" in the queue. `aha board reconcile` asks Temporal about each open row,
once, and closes the rows of runs that have ended: from the run's own result when it
completed, as `closure_reason` = the run's status otherwise.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aha.domain.board import CaseRow, QueueCursor, QueueFilter, case_row
from aha.domain.vocabulary import CaseStatus
from aha.ports import CaseBoard, CaseGateway, RunStatus

PAGE = 500


@dataclass
class Reconciled:
    checked: int = 0
    closed: list[str] = field(default_factory=list)  # "case_id (status)"


async def reconcile(board: CaseBoard, cases: CaseGateway, dry_run: bool = False) -> Reconciled:
    found = Reconciled()
    for row in await asyncio.to_thread(_open_rows, board):
        if row.status == CaseStatus.APPEAL_UNDER_REVIEW:
            # The case run has ended; its appeal workflow keeps this row and closes it.
            continue
        found.checked += 1
        state = await cases.run_state(row.case_id, row.run_id)
        if state is None or state[0] == RunStatus.RUNNING:
            continue  # still running, or gone from Temporal: nothing to say about it
        status, closed_at = state
        closed = await _closed_row(cases, row, status, closed_at)
        found.closed.append(f"{row.case_id} ({status.value})")
        if not dry_run:
            await asyncio.to_thread(board.record, closed)
    return found


def _open_rows(board: CaseBoard) -> list[CaseRow]:
    rows: list[CaseRow] = []
    after: QueueCursor | None = None
    while True:
        page, _ = board.queue(QueueFilter(), datetime.now(UTC), PAGE, after)
        rows += page
        if len(page) < PAGE:
            return rows
        after = QueueCursor(deadline=page[-1].deadline, case_id=page[-1].case_id)


async def _closed_row(
    cases: CaseGateway, row: CaseRow, status: RunStatus, closed_at: datetime | None
) -> CaseRow:
    version = row.version + 1
    if status == RunStatus.COMPLETED:
        view = await cases.case_result(row.case_id, row.run_id)
        return case_row(view, version)
    return row.model_copy(
        update={
            "version": version,
            "closed_at": closed_at or datetime.now(UTC),
            "closure_reason": status.value,
            "pending_calls": [],
            "next_call_at": None,
        }
    )
