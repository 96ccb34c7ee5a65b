"""The consent and do-not-call store on SQLite and a real PostgreSQL (migration 0006)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aha.adapters.stores import open_call_consents
from aha.config import Settings
from aha.domain.consent import InvalidDoNotCall
from aha.ports import CallConsents


@pytest.fixture
def consents(aha_db: str) -> CallConsents:
    return open_call_consents(replace(Settings(), db_path=aha_db))


def test_a_seller_never_asked_has_consented_and_a_change_is_kept(consents: CallConsents) -> None:
    assert consents.consent("S1").consent is True
    assert consents.consent("S1").changed_at is None
    withdrawn = consents.set_consent("S1", False, "seller")
    assert withdrawn.consent is False and withdrawn.changed_by == "seller"
    read = consents.consent("S1")
    assert read.consent is False and read.changed_at == withdrawn.changed_at
    consents.set_consent("S1", True, "specialist:lee")
    assert consents.consent("S1").consent is True
    assert consents.consent("S2").consent is True, "one seller's answer is its own"


def test_numbers_are_listed_in_e164_and_looked_up_in_any_form(consents: CallConsents) -> None:
    entry = consents.add("+1 212 555 0123", "asked in writing", "ops")
    assert entry.number == "+12125550123"
    found = consents.listed("+1-212-555-0123")
    assert found is not None and found.reason == "asked in writing"
    assert consents.listed("+12125550124") is None
    assert consents.listed("not a number") is None, "an odd number on file is not listed"
    again = consents.add("+12125550123", "asked again", "lee")
    assert again.added_at == entry.added_at and again.reason == "asked again"
    assert [e.number for e in consents.entries()] == ["+12125550123"]
    assert consents.remove("+1 212 555 0123") is True
    assert consents.remove("+12125550123") is False
    assert consents.entries() == []


@pytest.mark.parametrize(
    ("number", "reason", "field"),
    [
        ("2125550123", "asked", "number"),
        ("+1212", "asked", "number"),
        ("+12125550123", "", "reason"),
    ],
)
def test_bad_entries_are_refused_and_store_nothing(
    consents: CallConsents, number: str, reason: str, field: str
) -> None:
    with pytest.raises(InvalidDoNotCall) as caught:
        consents.add(number, reason, "ops")
    assert caught.value.field == field
    assert consents.entries() == []
