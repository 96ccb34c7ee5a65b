"""AHR readings: one at a time or by CSV, refused with a reason, replaced when re-sent (in an
SQLite file and in a PostgreSQL database alike)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from aha.adapters.stores import AppStore, open_programme_store
from aha.config import Settings
from aha.domain.programme import InvalidReading

TODAY = date(2026, 11, 27)


@pytest.fixture
def store(aha_db: str) -> AppStore:
    store = open_programme_store(replace(Settings(), db_path=aha_db))
    store.upsert("acme", email="ops@acme.example", phone=None, timezone="America/New_York")
    return store


def test_a_resent_reading_replaces_the_old_one(store: AppStore) -> None:
    store.record_reading("acme", date(2026, 11, 1), 240, today=TODAY)
    store.record_reading("acme", date(2026, 11, 1), 310, today=TODAY)
    assert store.readings("acme") == {date(2026, 11, 1): 310}


@pytest.mark.parametrize(
    ("seller", "day", "score", "reason"),
    [
        ("acme", date(2026, 11, 28), 300, "is in the future"),
        ("acme", date(2026, 11, 1), 1001, "outside 0-1000"),
        ("acme", date(2026, 11, 1), -1, "outside 0-1000"),
        ("ghost", date(2026, 11, 1), 300, "unknown seller 'ghost'"),
    ],
)
def test_bad_readings_are_refused_with_the_reason(
    store: AppStore, seller: str, day: date, score: int, reason: str
) -> None:
    with pytest.raises(InvalidReading, match=reason):
        store.record_reading(seller, day, score, today=TODAY)
    assert store.readings("acme") == {}


def test_csv_import_keeps_good_rows_and_names_bad_lines(store: AppStore, tmp_path: Path) -> None:
    csv = tmp_path / "ahr.csv"
    csv.write_text(
        "seller_id,date,score\n"
        "acme,2026-11-01,300\n"
        "acme,2026-11-31,300\n"
        "ghost,2026-11-02,300\n"
        "acme,2026-11-03,abc\n"
        "acme,2026-11-04\n"
        "acme,2026-11-05,280\n"
    )
    report = store.import_readings(csv, today=TODAY)
    assert report.accepted == 2
    assert [line for line, _ in report.problems] == [3, 4, 5, 6]
    assert "not YYYY-MM-DD" in report.problems[0][1]
    assert store.readings("acme") == {date(2026, 11, 1): 300, date(2026, 11, 5): 280}


def test_a_csv_without_the_header_is_refused_whole(store: AppStore, tmp_path: Path) -> None:
    csv = tmp_path / "ahr.csv"
    csv.write_text("acme,2026-11-01,300\n")
    with pytest.raises(InvalidReading, match="header must be seller_id,date,score"):
        store.import_readings(csv, today=TODAY)
    assert store.readings("acme") == {}
