"""The case keeps its row on the console's board: one write at a time, the latest state wins.

Rows are written by a local activity (one marker in history, no extra workflow task), each
with a version that only grows, so a write retried after a crash never undoes a newer one.
Changes made while a write is in flight fold into the next one.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.board import BoardActivities
    from aha.domain.board import CaseRow, case_row
    from aha.domain.models import CaseView
    from workflows.case_effects import RETRY
    from workflows.notices import failure_reason

BOARD_WRITE_TIMEOUT = timedelta(seconds=10)
# A board down this long misses this row; the case's next change (or its close) writes it.
BOARD_GIVE_UP = timedelta(minutes=10)


class BoardWriter:
    def __init__(self) -> None:
        self._written: CaseRow | None = None
        self._version = 0
        self._next: CaseRow | None = None
        self._closing = False
        self._idle = True

    def offer(self, view: CaseView) -> None:
        """The case changed, perhaps: queue its row if it differs from the last one."""
        row = case_row(view, version=0)
        if row == self._written:
            return
        self._written = row
        self._version += 1
        self._next = row.model_copy(update={"version": self._version})

    async def run(self) -> None:
        while True:
            await workflow.wait_condition(lambda: self._next is not None or self._closing)
            if self._next is None:
                return
            row, self._next = self._next, None
            self._idle = False
            try:
                await workflow.execute_local_activity_method(
                    BoardActivities.record_case_row,
                    row,
                    start_to_close_timeout=BOARD_WRITE_TIMEOUT,
                    # A closed case's last row must land, or the queue would show it open.
                    schedule_to_close_timeout=None if self._closing else BOARD_GIVE_UP,
                    retry_policy=RETRY,
                    summary="keep the case's row on the console's board",
                )
            except ActivityError as err:
                workflow.logger.warning("board row not written: %s", failure_reason(err))
                if self._next is None:
                    # Nothing newer is queued: write this state again at the next chance.
                    self._written = None
                    if self._closing:
                        self._next = row
            finally:
                self._idle = True

    async def flush(self) -> None:
        """The case has closed: write what is still queued, then stop."""
        self._closing = True
        await workflow.wait_condition(lambda: self._next is None and self._idle)
