"""The whole system on PostgreSQL: the real dev server, the real worker and the service over
a real PostgreSQL database, from an enrolment sweep through a case to its emails, with the
ledger's rows read back from the database itself."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from temporalio.testing import WorkflowEnvironment

from aha.adapters.postgres.programme import PostgresProgrammeStore
from aha.domain.models import CallReport, Resolution, SweepRequest
from aha.domain.policy import parse_policy
from tests.conftest import ALWAYS_CALLABLE, Cases, running_cases
from workflows.enrollment import EnrollmentSweep


@pytest.fixture
async def pg_cases(
    env: WorkflowEnvironment, tmp_path: Path, mail_outbox: tuple[Path, int], postgres_url: str
) -> AsyncIterator[Cases]:
    policy = parse_policy(ALWAYS_CALLABLE)
    async with running_cases(env, tmp_path, mail_outbox, policy, db=postgres_url) as cases:
        yield cases


async def test_a_seller_is_enrolled_and_a_case_runs_to_its_emails_on_postgresql(
    pg_cases: Cases, tmp_path: Path
) -> None:
    cases = pg_cases
    assert isinstance(cases.store, PostgresProgrammeStore)
    seller = cases.new_seller(enrolled=False)
    today = datetime.now(UTC).date()
    csv = tmp_path / "ahr.csv"
    csv.write_text(
        "seller_id,date,score\n"
        + "".join(f"{seller},{today - timedelta(days=n)},320\n" for n in range(200))
    )
    assert cases.store.import_readings(csv).accepted == 200

    sweep = await cases.client.execute_workflow(
        EnrollmentSweep.run,
        SweepRequest(seller_id=seller, as_of=today, page_size=50),
        id=f"sweep-{uuid.uuid4().hex[:8]}",
        task_queue=cases.service.task_queue,
    )
    assert (sweep.enrolled, sweep.emails) == (1, 1)
    enrolment = cases.store.enrollment(seller)
    assert enrolment is not None and enrolment.state == "enrolled"

    await cases.detect(seller)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    await cases.service.resolve(seller, Resolution(issue_id="I1", note="fixed on the phone"))
    view = await cases.wait_for(
        seller, lambda v: v.closed and all(n.state == "sent" for n in v.notices)
    )
    kinds = [m["X-Aha-Kind"] for m in await cases.wait_for_emails(seller, 3)]
    assert kinds == ["enrollment_enrolled", "issue_opened", "resolved"]

    run = f"{view.case_id}/{view.run_id}"
    with psycopg.connect(cases.db) as db:
        steps = db.execute(
            "SELECT channel, state, claims FROM deliveries WHERE key LIKE %s ORDER BY channel",
            (f"{run}/%",),
        ).fetchall()
        sealed = db.execute("SELECT 1 FROM sealed_runs WHERE run_key = %s", (run,)).fetchall()
        enrolment_sent = db.execute(
            "SELECT count(*) FROM sent_notifications WHERE key LIKE %s", (f"enrollment/{seller}/%",)
        ).fetchone()
    # One call and two emails, each claimed once and sent once.
    assert steps == [("call", "sent", 1), ("email", "sent", 1), ("email", "sent", 1)]
    assert sealed == [(1,)], "closing sealed the run"
    assert enrolment_sent == (1,)
