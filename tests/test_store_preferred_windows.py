"""Preferred contact windows on the seller's record, against an SQLite file and a real
PostgreSQL database alike; an SQLite directory from before them gains the column."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from aha.adapters.sqlite.directory import SqliteDirectory
from aha.adapters.stores import AppStore, open_programme_store
from aha.config import Settings
from aha.domain.preferred import PreferredWindows

WINDOWS = PreferredWindows(mon=("09:00-12:00",), sat=("10:00-11:00", "14:00-15:00"))


@pytest.fixture
def store(aha_db: str) -> AppStore:
    return open_programme_store(replace(Settings(), db_path=aha_db))


def test_windows_are_stored_read_and_cleared(store: AppStore) -> None:
    store.upsert("acme", email="ops@acme.example", phone="+12125550123", timezone="UTC")
    assert store.get("acme").preferred_windows is None  # type: ignore[union-attr]

    saved = store.set_preferred_windows("acme", WINDOWS)
    assert saved.preferred_windows == WINDOWS
    assert store.get("acme") == saved
    assert store.contacts(["acme"])["acme"].preferred_windows == WINDOWS
    assert saved.profile().preferred_windows == WINDOWS

    # A contact change keeps them; an empty set clears them, as None does.
    changed, _ = store.upsert("acme", email="new@acme.example", phone=None, timezone="UTC")
    assert changed.preferred_windows == WINDOWS
    assert store.set_preferred_windows("acme", PreferredWindows()).preferred_windows is None
    store.set_preferred_windows("acme", WINDOWS)
    assert store.set_preferred_windows("acme", None).preferred_windows is None


def test_an_unknown_seller_is_named(store: AppStore) -> None:
    with pytest.raises(LookupError, match="unknown seller 'nobody'"):
        store.set_preferred_windows("nobody", WINDOWS)


def test_an_older_sqlite_directory_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE sellers (seller_id TEXT PRIMARY KEY, name TEXT NOT NULL,"
            " email TEXT NOT NULL, phone TEXT NOT NULL, timezone TEXT NOT NULL,"
            " marketplace TEXT NOT NULL, account_status TEXT NOT NULL DEFAULT 'active',"
            " phone_version INTEGER NOT NULL DEFAULT 1, updated_at TEXT NOT NULL)"
        )
        db.execute(
            "INSERT INTO sellers (seller_id, name, email, phone, timezone, marketplace,"
            " updated_at) VALUES ('old', 'Old', 'o@old.example', '', 'UTC', 'US',"
            " '2026-01-01T00:00:00+00:00')"
        )
    db.close()
    directory = SqliteDirectory(path)
    assert directory.get("old").preferred_windows is None  # type: ignore[union-attr]
    assert directory.set_preferred_windows("old", WINDOWS).preferred_windows == WINDOWS
