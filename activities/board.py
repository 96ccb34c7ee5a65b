"""The case's row on the console's board: written by the case, read by the console."""

from __future__ import annotations

from temporalio import activity

from aha.domain.board import CaseRow
from aha.ports import CaseBoard


class BoardActivities:
    def __init__(self, board: CaseBoard) -> None:
        self.board = board

    @activity.defn
    def record_case_row(self, row: CaseRow) -> bool:
        """Keep the row unless the board has this run's same or a newer version (a retry)."""
        return self.board.record(row)
