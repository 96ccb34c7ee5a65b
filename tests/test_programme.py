"""The assurance programme end to end: enrolment by the sweep, its emails, and routing."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from aha.domain.models import SweepRequest, SweepResult
from tests.conftest import Cases
from workflows.enrollment import EnrollmentSweep

TODAY = datetime.now(UTC).date()


def give_history(
    cases: Cases, tmp_path: Path, seller: str, low_days: Iterable[int] = (), days: int = 200
) -> None:
    """`days` of daily AHR up to today through the CSV import; `low_days` (days ago) at 200."""
    low = set(low_days)
    csv = tmp_path / f"{seller}-{uuid.uuid4().hex[:6]}.csv"
    rows = ["seller_id,date,score"]
    for back in range(days):
        rows.append(
            f"{seller},{(TODAY - timedelta(days=back)).isoformat()},{200 if back in low else 320}"
        )
    csv.write_text("\n".join(rows) + "\n")
    report = cases.store.import_readings(csv)
    assert report.problems == () and report.accepted == days


async def evaluate(cases: Cases, seller: str | None = None, as_of: date = TODAY) -> SweepResult:
    return await cases.client.execute_workflow(
        EnrollmentSweep.run,
        SweepRequest(seller_id=seller, as_of=as_of, page_size=50),
        id=f"sweep-{uuid.uuid4().hex[:8]}",
        task_queue=cases.service.task_queue,
    )


def enrollment_emails(cases: Cases, seller: str) -> list[str]:
    return [
        m["X-Aha-Kind"] for m in cases.emails(seller) if m["X-Aha-Kind"].startswith("enrollment")
    ]


async def test_crossing_into_eligibility_sends_one_enrolment_email(
    cases: Cases, tmp_path: Path
) -> None:
    seller = cases.new_seller(enrolled=False)
    give_history(cases, tmp_path, seller, low_days=range(5, 16))  # 11 days below 250
    result = await evaluate(cases, seller)
    assert (result.not_eligible, result.emails) == (1, 0)
    enrollment = cases.store.enrollment(seller)
    assert enrollment is not None and enrollment.state == "not_eligible"
    assert "11 days below 250 in the last 6 months (max 10)" in enrollment.reasons

    cases.store.record_reading(seller, TODAY - timedelta(days=5), 300)  # a corrected reading
    result = await evaluate(cases, seller)
    assert (result.enrolled, result.emails) == (1, 1)
    assert enrollment_emails(cases, seller) == ["enrollment_enrolled"]
    assert "no fee" in cases.emails(seller)[-1].get_content()

    again = await evaluate(cases, seller)
    assert (again.enrolled, again.changes, again.emails) == (1, 0, 0)
    assert enrollment_emails(cases, seller) == ["enrollment_enrolled"]


async def test_a_page_retried_after_its_emails_went_sends_none_again(
    cases: Cases, tmp_path: Path
) -> None:
    """An attempt that sent its emails, then died before saving states: the retry finds
    the sends in the ledger, saves the states and emails no one twice."""
    sent, fresh = cases.new_seller(enrolled=False), cases.new_seller(enrolled=False)
    for seller in (sent, fresh):
        give_history(cases, tmp_path, seller)
    cases.store.record_sent(f"enrollment/{sent}/enrolled/{TODAY.isoformat()}", "email")
    for seller, emails in ((sent, []), (fresh, ["enrollment_enrolled"])):
        result = await evaluate(cases, seller)
        assert (result.enrolled, result.changes) == (1, 1)
        assert enrollment_emails(cases, seller) == emails
        enrollment = cases.store.enrollment(seller)
        assert enrollment is not None and enrollment.state == "enrolled"


async def test_missing_phone_gets_the_ask_then_enrolment_when_the_phone_arrives(
    cases: Cases, tmp_path: Path
) -> None:
    seller = cases.new_seller(enrolled=False, phone=None)
    give_history(cases, tmp_path, seller)
    result = await evaluate(cases, seller)
    assert (result.eligible_missing_phone, result.emails) == (1, 1)
    assert enrollment_emails(cases, seller) == ["enrollment_missing_phone"]

    cases.store.upsert(seller, email=f"{seller}@sellers.example", phone="+12125550123",
                       timezone="America/New_York")  # fmt: skip
    result = await evaluate(cases, seller)
    assert (result.enrolled, result.emails) == (1, 1)
    assert enrollment_emails(cases, seller) == ["enrollment_missing_phone", "enrollment_enrolled"]


async def test_dropping_below_the_rule_loses_protection_with_one_email(
    cases: Cases, tmp_path: Path
) -> None:
    seller = cases.new_seller(enrolled=False)
    give_history(cases, tmp_path, seller)
    assert (await evaluate(cases, seller)).enrolled == 1

    give_history(cases, tmp_path, seller, low_days=range(0, 12))
    result = await evaluate(cases, seller)
    assert (result.not_eligible, result.emails) == (1, 1)
    assert (await evaluate(cases)).emails == 0, "re-running the whole sweep sends nothing new"
    assert enrollment_emails(cases, seller) == ["enrollment_enrolled", "enrollment_protection_lost"]
    lost = cases.emails(seller)[-1].get_content()
    assert "12 days below 250" in lost


async def test_detection_for_an_unprotected_seller_deactivates_at_once(cases: Cases) -> None:
    seller = cases.new_seller(enrolled=False)
    receipt = await cases.detect(seller)
    view = await cases.wait_for(seller, lambda v: v.status == "deactivated")
    assert receipt.created and view.protected is False
    assert view.closure_reason == "not_enrolled" and view.protection
    assert view.call_attempts == [], "the standard process does not call"
    assert cases.store.get(seller).account_status == "deactivated"  # type: ignore[union-attr]
    emails = await cases.wait_for_emails(seller, 1)
    assert [m["X-Aha-Kind"] for m in emails] == ["deactivated"]
    assert "appeal" in emails[0].get_content()


async def test_fraud_deactivates_a_protected_seller_at_once(cases: Cases) -> None:
    seller = cases.new_seller()
    await cases.detect(seller, issue_type="fraud", severity="critical")
    view = await cases.wait_for(seller, lambda v: v.status == "deactivated")
    assert view.protected is True and view.closure_reason == "immediate_policy"
    assert cases.store.get(seller).account_status == "deactivated"  # type: ignore[union-attr]


async def test_one_sellers_bad_data_fails_that_seller_not_the_sweep(
    cases: Cases, tmp_path: Path
) -> None:
    good = cases.new_seller(enrolled=False)
    broken = cases.new_seller(enrolled=False)
    give_history(cases, tmp_path, good)
    with cases.store._connect() as db:  # as another system might have written it
        db.execute("UPDATE sellers SET account_type = 'wholesale' WHERE seller_id = ?", (broken,))
    result = await evaluate(cases)
    assert result.enrolled == 1 and result.evaluated == 1
    assert [failure.split(":")[0] for failure in result.failures] == [broken]
