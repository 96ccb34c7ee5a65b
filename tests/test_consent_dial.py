"""The dial activity asks consent and the do-not-call list just before it rings, over a real
SQLite directory, ledger and consent store (the dialer records what it was handed)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest

from activities.calls import CallActivities
from aha.adapters.sqlite.consent import SqliteCallConsents
from aha.adapters.sqlite.programme import SqliteProgrammeStore
from aha.domain.calls import CallTask
from aha.domain.case import Case, Edition
from aha.domain.models import CaseStart
from workflows.case_effects import CaseEffects

PHONE = "+12125550123"
T0 = datetime(2027, 1, 12, 15, 0, tzinfo=UTC)
_keys = itertools.count(1)


class RecordingDialer:
    def __init__(self) -> None:
        self.dialled: list[tuple[int, str]] = []

    async def dial(self, task: CallTask, phone: str) -> None:
        self.dialled.append((task.attempt, phone))


@pytest.fixture
def parts(tmp_path: Path) -> tuple[CallActivities, SqliteCallConsents, RecordingDialer]:
    db = tmp_path / "aha.db"
    store = SqliteProgrammeStore(db)
    store.upsert("S1", email="s1@example.com", phone=PHONE, timezone="UTC", marketplace="US")
    consents = SqliteCallConsents(db)
    dialer = RecordingDialer()
    return CallActivities(store, dialer, store.deliveries, consents=consents), consents, dialer


def task(check: bool = True, seller: bool = False) -> CallTask:
    number = next(_keys)
    return CallTask(
        key=f"run/call/{number}",
        case_id="C",
        seller_id="S1",
        attempt=number,
        seller_initiated=seller,
        issue_types=[],
        guidance=[],
        check_consent=check,
    )


Parts = tuple[CallActivities, SqliteCallConsents, RecordingDialer]


async def test_each_dial_asks_afresh(parts: Parts) -> None:
    calls, consents, dialer = parts
    assert await calls.dial(task()) == "placed"
    consents.set_consent("S1", False, "seller")
    assert await calls.dial(task()) == "not_placed:consent"
    consents.set_consent("S1", True, "seller")
    consents.add(PHONE, "registered complaint", "ops")
    assert await calls.dial(task()) == "not_placed:dnc"
    consents.remove(PHONE)
    assert await calls.dial(task()) == "placed"
    assert len(dialer.dialled) == 2


async def test_a_seller_initiated_call_rings_despite_both(parts: Parts) -> None:
    calls, consents, dialer = parts
    consents.set_consent("S1", False, "seller")
    consents.add(PHONE, "registered complaint", "ops")
    assert await calls.dial(task(seller=True)) == "placed_despite:consent"
    consents.set_consent("S1", True, "seller")
    assert await calls.dial(task(seller=True)) == "placed_despite:dnc"
    assert len(dialer.dialled) == 2
    assert consents.consent("S1").consent is True


async def test_a_case_of_an_older_edition_dials_as_before(parts: Parts) -> None:
    calls, consents, dialer = parts
    consents.set_consent("S1", False, "seller")
    consents.add(PHONE, "registered complaint", "ops")
    assert await calls.dial(task(check=False)) == "placed"
    assert await calls.place_call(task(check=False)) is True
    assert len(dialer.dialled) == 2


@pytest.mark.parametrize(
    ("edition", "checks"),
    [(Edition.ORDERED, False), (Edition.DEADLINES, False), (Edition.CONSENT, True)],
)
def test_only_the_consent_edition_asks_the_dial_to_check(edition: Edition, checks: bool) -> None:
    case = Case(CaseStart(seller_id="S1", marketplace="US", protected=True), "C", "R")
    case.edition = edition
    effects = CaseEffects(case, lambda: None)
    attempt = case._new_attempt(seller_initiated=False, scheduled_for=T0)
    assert effects._call_task(attempt).check_consent is checks
