"""The stores' contract: every test runs against an SQLite file and a real PostgreSQL
database, through the factory the entry points use, and must see the same behaviour."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from aha.adapters.stores import AppStore, open_programme_store, open_signed_out
from aha.config import Settings
from aha.domain.contact import InvalidContact
from aha.domain.programme import Enrollment, InvalidReading
from aha.domain.vocabulary import AccountStatus

TODAY = date(2026, 11, 27)
PHONE = "+12125550123"
OTHER_PHONE = "+14155550199"


def _settings(aha_db: str) -> Settings:
    return replace(Settings(), db_path=aha_db)


@pytest.fixture
def store(aha_db: str) -> AppStore:
    return open_programme_store(_settings(aha_db))


def _add(store: AppStore, seller_id: str, phone: str | None = PHONE) -> None:
    store.upsert(seller_id, email=f"{seller_id}@sellers.example", phone=phone, timezone="UTC")


# ---- the directory ---------------------------------------------------------------------------


def test_a_new_seller_is_stored_with_defaults_and_its_phone_counts_as_changed(
    store: AppStore,
) -> None:
    contact, phone_changed = store.upsert(
        "acme", email="ops@acme.example", phone=PHONE, timezone="America/New_York"
    )
    assert phone_changed
    assert (contact.name, contact.marketplace, contact.account_type) == (
        "acme",
        "US",
        "professional",
    )
    assert (contact.account_status, contact.phone_version) == (AccountStatus.ACTIVE, 1)
    assert store.get("acme") == contact
    _, no_phone_changed = store.upsert("quiet", email="q@quiet.example", phone=None, timezone="UTC")
    assert not no_phone_changed
    assert store.get("quiet").phone == ""  # type: ignore[union-attr]


def test_a_change_keeps_what_it_leaves_out_and_flags_only_a_new_phone(store: AppStore) -> None:
    store.upsert(
        "acme",
        email="ops@acme.example",
        phone=PHONE,
        timezone="UTC",
        name="Acme Ltd",
        account_type="individual",
    )
    same, changed = store.upsert("acme", email="new@acme.example", phone=None, timezone="UTC")
    assert not changed
    assert (same.email, same.phone, same.name, same.account_type) == (
        "new@acme.example",
        PHONE,
        "Acme Ltd",
        "individual",
    )
    assert same.phone_version == 1
    _, unchanged = store.upsert("acme", email="new@acme.example", phone=PHONE, timezone="UTC")
    assert not unchanged
    moved, changed = store.upsert(
        "acme", email="new@acme.example", phone=OTHER_PHONE, timezone="Europe/Paris"
    )
    assert changed and moved.phone == OTHER_PHONE and moved.phone_version == 2
    assert moved.timezone == "Europe/Paris"
    assert moved.updated_at >= same.updated_at


def test_bad_contact_data_is_refused_and_changes_nothing(store: AppStore) -> None:
    _add(store, "acme")
    before = store.get("acme")
    with pytest.raises(InvalidContact, match="phone") as err:
        store.upsert("acme", email="ops@acme.example", phone="555-0123", timezone="UTC")
    assert err.value.field == "phone"
    with pytest.raises(InvalidContact) as err:
        store.upsert("acme", email="ops@acme.example", phone=None, timezone="UTC",
                     account_type="gold")  # fmt: skip
    assert err.value.field == "account_type"
    assert store.get("acme") == before


def test_account_status_is_stored_and_an_unknown_seller_is_named(store: AppStore) -> None:
    _add(store, "acme")
    store.set_account_status("acme", AccountStatus.DEACTIVATED)
    assert store.get("acme").account_status == AccountStatus.DEACTIVATED  # type: ignore[union-attr]
    with pytest.raises(LookupError, match="unknown seller 'ghost'"):
        store.set_account_status("ghost", AccountStatus.ACTIVE)
    assert store.get("ghost") is None


@pytest.mark.parametrize("existing", [True, False], ids=["existing-seller", "new-seller"])
def test_several_writers_changing_one_seller_at_once_lose_no_change(
    store: AppStore, existing: bool
) -> None:
    if existing:
        _add(store, "acme", phone=None)
    phones = [f"+1212555{n:04d}" for n in range(8)]
    start = threading.Barrier(len(phones))
    flags: list[bool] = []
    errors: list[BaseException] = []

    def change(phone: str) -> None:
        start.wait()
        try:
            flags.append(
                store.upsert("acme", email="ops@acme.example", phone=phone, timezone="UTC")[1]
            )
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=change, args=(phone,)) for phone in phones]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert flags == [True] * len(phones)  # each writer saw the number before its own
    contact = store.get("acme")
    assert contact is not None and contact.phone in phones
    # Every change after the first phone counted: none was written over unseen.
    assert contact.phone_version == len(phones) + (1 if existing else 0)


# ---- pages -----------------------------------------------------------------------------------


def test_pages_follow_the_byte_order_of_seller_ids(store: AppStore) -> None:
    ids = ["b-2", "B-1", "a_3", "A.4", "Z_5", "z9", "0x"]
    for seller_id in ids:
        _add(store, seller_id)
    ordered = sorted(ids)  # Python compares code points: bytes, for these ASCII ids
    assert store.seller_page("", 100) == ordered
    assert store.seller_page(ordered[1], 2) == ordered[2:4]
    assert store.page_starts(2) == ["", ordered[1], ordered[3], ordered[5]]
    assert store.page_starts(7) == [""]
    assert store.page_starts(100) == [""]
    pages = store.page_starts(4)
    assert [store.seller_page(cursor, 4) for cursor in pages] == [ordered[:4], ordered[4:]]


def test_no_sellers_no_pages(store: AppStore) -> None:
    assert store.page_starts(10) == []
    assert store.seller_page("", 10) == []
    assert store.contacts([]) == {}


def test_contacts_are_read_by_the_page_and_unknown_ids_left_out(store: AppStore) -> None:
    _add(store, "a")
    _add(store, "b", phone=None)
    contacts = store.contacts(["a", "b", "ghost"])
    assert set(contacts) == {"a", "b"}
    assert contacts["a"] == store.get("a")
    assert contacts["b"].phone == ""


# ---- readings --------------------------------------------------------------------------------


def test_a_batch_lands_its_good_readings_and_names_the_bad_by_position(store: AppStore) -> None:
    _add(store, "acme")
    report = store.record_readings(
        [
            ("acme", date(2026, 11, 1), 300),
            ("ghost", date(2026, 11, 1), 300),
            ("acme", date(2026, 11, 2), 2000),
            ("acme", date(2026, 11, 1), 310),  # the same day again: the later one wins
        ],
        today=TODAY,
        positions=[10, 11, 12, 13],
    )
    assert report.accepted == 2
    assert [position for position, _ in report.problems] == [11, 12]
    assert "unknown seller 'ghost'" in report.problems[0][1]
    assert store.readings("acme") == {date(2026, 11, 1): 310}
    with pytest.raises(InvalidReading, match="unknown seller"):
        store.record_reading("ghost", date(2026, 11, 1), 300, today=TODAY)


def test_csv_import_through_the_store(store: AppStore, tmp_path: Path) -> None:
    _add(store, "acme")
    csv = tmp_path / "ahr.csv"
    csv.write_text("seller_id,date,score\nacme,2026-11-01,300\nacme,2026-13-01,300\n")
    report = store.import_readings(csv, today=TODAY)
    assert report.accepted == 1 and [line for line, _ in report.problems] == [3]
    assert store.readings("acme") == {date(2026, 11, 1): 300}


def test_rating_summaries_count_the_windows_good_days_up_to_the_day_asked(
    store: AppStore,
) -> None:
    for seller_id in ("steady", "new", "silent"):
        _add(store, seller_id)
    start = date(2026, 5, 1)
    steady = [("steady", start + timedelta(days=n), 250 + n % 3 * 10) for n in range(200)]
    store.record_readings([*steady, ("new", date(2026, 11, 20), 400)], today=TODAY)
    window, as_of = date(2026, 6, 1), date(2026, 11, 1)
    summaries = store.rating_summaries(["steady", "new", "silent"], window, as_of, 260)
    expected_good = sum(1 for _, day, score in steady if window <= day <= as_of and score >= 260)
    assert summaries == {
        "steady": (start, expected_good),
        "new": (None, 0),  # its only reading is after as_of
        "silent": (None, 0),
    }
    assert store.rating_summaries([], window, as_of, 260) == {}


# ---- enrolment -------------------------------------------------------------------------------


def test_enrolments_are_saved_replaced_and_read_back(store: AppStore) -> None:
    assert store.enrollment("acme") is None and store.enrollments([]) == {}
    first = Enrollment("acme", "eligible_missing_phone", date(2026, 11, 1), ("no phone",))
    other = Enrollment("beta", "enrolled", date(2026, 11, 2), ())
    store.save_enrollments([first, other])
    assert store.enrollment("acme") == first
    later = Enrollment("acme", "enrolled", date(2026, 11, 3), ())
    store.save_enrollments([later])
    assert store.enrollments(["acme", "beta", "ghost"]) == {"acme": later, "beta": other}
    store.save_enrollments([])


def test_an_enrolment_sweep_sized_write_lands_whole(store: AppStore) -> None:
    records = [
        Enrollment(f"s{n:05d}", "not_eligible", date(2026, 11, 1), ("too new", f"{n}"))
        for n in range(2000)
    ]
    store.save_enrollments(records)
    found = store.enrollments(r.seller_id for r in records)
    assert found == {r.seller_id: r for r in records}


# ---- the older notification ledger -----------------------------------------------------------


def test_the_older_ledger_records_each_key_once_on_either_path(store: AppStore) -> None:
    assert not store.was_sent("enrollment/acme/enrolled/2026-11-01")
    store.record_sent("enrollment/acme/enrolled/2026-11-01", "email")
    store.record_sent("enrollment/acme/enrolled/2026-11-01", "email")  # twice is harmless
    with store.ledger() as ledger:
        assert ledger.was_sent("enrollment/acme/enrolled/2026-11-01")
        assert not ledger.was_sent("enrollment/beta/enrolled/2026-11-01")
        ledger.record_sent("enrollment/beta/enrolled/2026-11-01", "email")
        # Each record commits on its own: another connection sees it inside the block.
        assert store.was_sent("enrollment/beta/enrolled/2026-11-01")
    with store.deliveries.claim("enrollment/beta/enrolled/2026-11-01", "email", timedelta(1)) as c:
        assert c.outcome == "already_sent"


def test_the_older_ledger_says_which_of_a_batch_of_keys_were_sent(store: AppStore) -> None:
    keys = [f"enrollment/s{n:05d}/enrolled/2026-11-01" for n in range(2500)]
    sent_before = set(keys[::7])
    for key in sent_before:
        store.record_sent(key, "email")
    with store.ledger() as ledger:
        assert ledger.sent_among([]) == set()
        assert ledger.sent_among(keys) == sent_before  # more than a page of keys
        assert ledger.sent_among(["enrollment/nobody/enrolled/2026-11-01"]) == set()
        ledger.record_sent(keys[1], "email")
        # A record made inside the block counts at once, on the same connection.
        assert ledger.sent_among(keys[:3]) == {keys[0], keys[1]}


# ---- page sessions ---------------------------------------------------------------------------


def test_a_signed_out_session_is_refused_until_it_would_have_expired(aha_db: str) -> None:
    sessions = open_signed_out(_settings(aha_db))
    other_process_view = open_signed_out(_settings(aha_db))
    assert not sessions.is_signed_out("n1")
    sessions.sign_out("n1", time.time() + 60)
    sessions.sign_out("n2", time.time() + 0.2)
    assert other_process_view.is_signed_out("n1")
    assert other_process_view.is_signed_out("n2")
    time.sleep(0.3)
    assert not other_process_view.is_signed_out("n2")  # expired: the cookie is dead anyway
    sessions.sign_out("n1", time.time() + 120)  # signing out again only moves the end
    assert sessions.is_signed_out("n1")
