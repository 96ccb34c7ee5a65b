"""The console's reads: the queue, the call list and the dashboard, from the case board.

They need no Temporal connection: the board is in `AHA_DB`, so the queue still shows while
Temporal is down, and no page asks one case after another.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import BaseModel

from aha.domain.board import (
    CallCursor,
    Dashboard,
    QueueCursor,
    QueueFilter,
    QueueItem,
    queue_item,
)
from aha.ports import CaseBoard
from aha.service import InvalidInput


class PendingCall(BaseModel):
    case_id: str
    seller_id: str
    attempt: int
    seller_initiated: bool
    scheduled_for: datetime
    placed_at: datetime | None
    deadline: datetime | None
    issue_types: list[str]
    guidance: list[str]
    phone: str | None
    assigned_to: str | None = None


class CallPage(BaseModel):
    calls: list[PendingCall]
    next_page_token: str | None = None


class QueuePage(BaseModel):
    at: datetime
    total: int  # how many open cases match the filters, on every page
    cases: list[QueueItem]
    next_page_token: str | None = None


class BoardReads:
    """Pages of the board as the CLI, the API and the console show them."""

    def __init__(self, board: CaseBoard) -> None:
        self.board = board

    async def queue(
        self,
        filters: QueueFilter | None = None,
        page_size: int = 50,
        page_token: str | None = None,
        now: datetime | None = None,
    ) -> QueuePage:
        """Open cases by time left to the deadline, a page at a time, complete and in order."""
        now = now or datetime.now(UTC)
        after = _decode_cursor(page_token, QueueCursor)
        rows, total = await asyncio.to_thread(
            self.board.queue, filters or QueueFilter(), now, page_size, after
        )
        next_token = None
        if len(rows) == page_size:
            last = rows[-1]
            next_token = _encode_cursor(QueueCursor(deadline=last.deadline, case_id=last.case_id))
        return QueuePage(
            at=now,
            total=total,
            cases=[queue_item(row, now) for row in rows],
            next_page_token=next_token,
        )

    async def pending_calls(self, page_size: int = 100, page_token: str | None = None) -> CallPage:
        """Dialled attempts awaiting an outcome across every open case, seller-initiated
        first, then oldest first; complete, a page at a time."""
        after = _decode_cursor(page_token, CallCursor)
        items = await asyncio.to_thread(self.board.pending_calls, page_size, after)
        calls = [
            PendingCall(
                case_id=item.row.case_id,
                seller_id=item.row.seller_id,
                attempt=item.call.attempt,
                seller_initiated=item.call.seller_initiated,
                scheduled_for=item.call.scheduled_for,
                placed_at=item.call.placed_at,
                deadline=item.row.deadline,
                issue_types=item.row.issue_types,
                guidance=item.call.guidance,
                phone=item.phone,
                assigned_to=item.row.assigned_to,
            )
            for item in items
        ]
        next_token = None
        if len(items) == page_size:
            last = items[-1]
            next_token = _encode_cursor(
                CallCursor(
                    seller_initiated=last.call.seller_initiated,
                    scheduled_for=last.call.scheduled_for,
                    case_id=last.row.case_id,
                    attempt=last.call.attempt,
                )
            )
        return CallPage(calls=calls, next_page_token=next_token)

    async def dashboard(self, now: datetime | None = None) -> Dashboard:
        return await asyncio.to_thread(self.board.dashboard, now or datetime.now(UTC))


CursorT = TypeVar("CursorT", bound=BaseModel)


def _encode_cursor(cursor: BaseModel) -> str:
    return base64.urlsafe_b64encode(cursor.model_dump_json().encode()).decode()


def _decode_cursor(token: str | None, shape: type[CursorT]) -> CursorT | None:
    if not token:
        return None
    try:
        return shape.model_validate_json(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError) as err:
        raise InvalidInput(f"page_token {token!r} is not a token we gave", "page_token") from err
