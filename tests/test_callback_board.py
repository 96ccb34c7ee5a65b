"""The board's callback_at column: an SQLite file made before scheduled callbacks gains it when
opened, keeps its rows, and then holds a row's callback time."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aha.adapters.sqlite.board import SqliteCaseBoard
from aha.adapters.sqlite.schema import prepare
from tests.console_rows import case_row


def test_an_older_sqlite_board_gains_the_callback_column(tmp_path: Path) -> None:
    path = prepare(tmp_path / "aha.db")
    now = datetime.now(UTC).replace(microsecond=0)
    SqliteCaseBoard(path).record(case_row("before", timedelta(hours=10), now=now))
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE case_board DROP COLUMN callback_at")  # as made before it

    prepare(path)
    board = SqliteCaseBoard(path)
    before = board.row("at-risk-case-before")
    assert before is not None and before.callback_at is None
    row = case_row("after", timedelta(hours=10), now=now, callback_at=now + timedelta(hours=2))
    assert board.record(row)
    assert board.row("at-risk-case-after") == row
