"""Case-board rows for console tests, written to the board the API reads."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aha.adapters.stores import open_case_board
from aha.config import Settings
from aha.domain.board import CaseRow
from aha.ports import CaseBoard
from tests.conftest import Api


def board_of(api: Api) -> CaseBoard:
    return open_case_board(replace(Settings(), db_path=api.cases.db))


def case_row(
    seller_id: str,
    left: timedelta,
    *,
    now: datetime | None = None,
    **fields: Any,
) -> CaseRow:
    """An open case's row whose deadline is `left` from now; `fields` set the rest."""
    now = now or datetime.now(UTC)
    values: dict[str, Any] = {
        "case_id": f"at-risk-case-{seller_id}",
        "run_id": uuid.uuid4().hex,
        "version": 1,
        "seller_id": seller_id,
        "marketplace": "US",
        "status": "awaiting_contact",
        "opened_at": now - timedelta(hours=1),
        "detected_at": now - timedelta(hours=1),
        "deadline": now + left,
        "timezone": "America/New_York",
        "calling_start": "00:00",
        "calling_end": "24:00",
        "issue_types": ["ip_complaint"],
    }
    values.update(fields)
    return CaseRow(**values)
