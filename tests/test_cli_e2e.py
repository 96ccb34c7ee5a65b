"""The real `aha` CLI, as subprocesses, against a real Temporal dev server and a real worker.

Nothing is time-skipped here: the worker runs a compressed policy (seconds instead of hours),
so a whole case, deactivation included, plays out in well under a minute of wall time. The
tests play the detector, the seller and the specialist, each only through `aha` commands.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from aha.dev import search_attribute_args, temporal_binary
from aha.mailcatcher import MailCatcher
from tests.conftest import free_port, read_emails

# Compressed policy: every hour callable, so nothing depends on when the suite runs.
# call_report_timeout leaves a specialist (a CLI subprocess) ample time to report an outcome.
POLICY = """
deadline = "40s"
call_report_timeout = "8s"
max_call_attempts_per_day = 20
reminders_before_deadline = ["20s"]

[calling_hours]
start = "00:00"
end = "24:00"

[call_retry_after]
no_answer = "3s"
busy = "2s"
voicemail = "5s"
"""

PHONE = "+12125550123"
# Where the emergency number may be printed (stdout only, never in a message on stderr): the
# seller's contact data and the call work queue. `seller upsert --json` echoes the stored
# contact data back to whoever just typed it in, so it counts as contact data too.
PHONE_ALLOWED = {("seller", "show"), ("calls", "pending"), ("seller", "upsert")}

CASE_FIELDS = {"case_id", "seller_id", "status", "deadline", "issues", "call_attempts", "plan"}
ISSUE_FIELDS = {"id", "type", "severity", "status", "deadline"}
ATTEMPT_FIELDS = {"number", "placed_at", "outcome", "seller_initiated"}
TIMELINE_FIELDS = {"at", "kind", "detail"}

T = TypeVar("T")


class Aha(Protocol):
    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]: ...


def _aha_command() -> list[str]:
    beside_python = Path(sys.executable).parent / "aha"
    if beside_python.exists():
        return [str(beside_python)]
    return [sys.executable, "-m", "aha.cli"]


def poll(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 0.3) -> T:
    """Call `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def new_seller_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# ---- the stack -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def temporal_address() -> AsyncIterator[str]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        dev_server_extra_args=search_attribute_args(),
        data_converter=pydantic_data_converter,
    )
    async with env:
        yield env.client.service_client.config.target_host


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    directory = tmp_path_factory.mktemp("cli-outbox")
    port = free_port()
    with MailCatcher(directory, port=port):
        yield directory, port


@pytest.fixture(scope="module")
def stack(
    temporal_address: str, outbox: tuple[Path, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """`aha worker --policy FILE` as a subprocess, and the environment every command shares."""
    work = tmp_path_factory.mktemp("cli-e2e")
    policy = work / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AHA_", "TEMPORAL_"))}
    env |= {
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_NAMESPACE": "default",
        "AHA_TASK_QUEUE": f"cli-e2e-{uuid.uuid4()}",
        "AHA_DB": str(work / "aha.db"),
        "AHA_SMTP_HOST": "127.0.0.1",
        "AHA_SMTP_PORT": str(outbox[1]),
        "AHA_DIALER": "manual",
    }
    log_path = work / "worker.log"
    with open(log_path, "w", encoding="utf-8") as log:
        worker = subprocess.Popen(
            [*_aha_command(), "worker", "--policy", str(policy)],
            env=env,
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:

        def started() -> bool:
            if worker.poll() is not None:
                raise AssertionError(f"the worker exited early:\n{log_path.read_text()}")
            return "worker started" in log_path.read_text()

        poll("the worker to start", started, timeout=30, interval=0.1)
        yield {"env": env, "cwd": work, "worker": worker, "worker_log": log_path}
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)


@pytest.fixture(scope="module")
def aha(stack: dict[str, Any]) -> Aha:
    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert stack["worker"].poll() is None, "the worker died: " + stack["worker_log"].read_text()
        proc = subprocess.run(
            [*_aha_command(), *args],
            env=stack["env"],
            cwd=stack["cwd"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        shown = proc.stderr if tuple(args[:2]) in PHONE_ALLOWED else proc.stdout + proc.stderr
        assert PHONE not in shown, f"`aha {' '.join(args)}` shows the phone number:\n{shown}"
        if check and proc.returncode != 0:
            raise AssertionError(
                f"`aha {' '.join(args)}` exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
            )
        return proc

    return run


def as_json(proc: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(proc.stdout)


def add_seller(aha: Aha, seller: str, enroll: bool = True) -> None:
    """A seller as the programme sees it: contact data, six good months of AHR, enrolled."""
    aha(
        "seller", "upsert", seller,
        "--email", f"{seller}@sellers.example",
        "--phone", PHONE,
        "--timezone", "America/Chicago",
    )  # fmt: skip
    if not enroll:
        return
    give_good_history(aha, seller)
    result = as_json(aha("enrollment", "evaluate", "--seller", seller, "--json"))
    assert result["enrolled"] == 1, result


def give_good_history(aha: Aha, seller: str) -> None:
    """Two hundred days of AHR 320 up to today, through the CSV import."""
    today = datetime.now(UTC).date()
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as csv_file:
        csv_file.write("seller_id,date,score\n")
        for back in range(200):
            csv_file.write(f"{seller},{(today - timedelta(days=back)).isoformat()},320\n")
    aha("seller", "import-ahr", csv_file.name)
    Path(csv_file.name).unlink()


def detect(aha: Aha, seller: str, *extra: str, check: bool = True) -> Any:
    proc = aha(
        "detect", seller, "--issue-type", "ip_complaint", "--severity", "high", "--json", *extra,
        check=check,
    )  # fmt: skip
    return as_json(proc) if proc.returncode == 0 else proc


def status(aha: Aha, seller: str) -> dict[str, Any]:
    view: dict[str, Any] = as_json(aha("status", seller, "--json"))
    return view


def pending_for(aha: Aha, seller: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = as_json(aha("calls", "pending", "--json"))
    return [c for c in calls if c["seller_id"] == seller]


def wait_for_status(
    aha: Aha, seller: str, wanted: str, timeout: float, interval: float = 0.3
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        view = status(aha, seller)
        return view if view["status"] == wanted else None

    return poll(f"case of {seller} to be {wanted}", probe, timeout, interval)


def answer_a_pending_call(aha: Aha, seller: str) -> int:
    """Report `answered` for the seller's pending call, as the specialist who dialled it.

    An unreported attempt expires as no_answer after call_report_timeout; should that win
    the race, the next attempt is answered instead.
    """
    for _ in range(5):
        calls = poll(f"a pending call for {seller}", lambda: pending_for(aha, seller), timeout=15)
        number = calls[0]["attempt"]
        proc = aha(
            "call-outcome", seller, "--attempt", str(number), "--outcome", "answered", "--json",
            check=False,
        )  # fmt: skip
        if proc.returncode == 0:
            assert as_json(proc)["outcome"] == "answered"
            return int(number)
        assert "already reported" in proc.stderr, proc.stderr
    raise AssertionError(f"no call to {seller} could be reported answered")


def case_entries(view: dict[str, Any]) -> list[dict[str, Any]]:
    """Timeline entries other than calls and emails, which the worker adds on its own schedule."""
    return [e for e in view["timeline"] if not e["kind"].startswith(("call_", "email_"))]


# ---- scenarios -----------------------------------------------------------------------------


def test_seller_upsert_validates_and_stores_contact_data(aha: Aha) -> None:
    seller = new_seller_id("contact")
    saved = as_json(
        aha(
            "seller", "upsert", seller,
            "--email", f"{seller}@sellers.example",
            "--phone", PHONE,
            "--timezone", "America/Chicago",
            "--json",
        )
    )  # fmt: skip
    assert saved["seller_id"] == seller and saved["case_notified"] is False
    shown = as_json(aha("seller", "show", seller, "--json"))
    assert shown["account_status"] == "active"
    assert shown["phone"] == PHONE and shown["timezone"] == "America/Chicago"
    assert shown["email"] == f"{seller}@sellers.example"

    rejected = new_seller_id("bad")
    good = {"--email": f"{rejected}@sellers.example", "--phone": PHONE, "--timezone": "UTC"}
    for field, value, reason in [
        ("--phone", "+1555", "phone '+1555'"),
        ("--phone", "2125550123", "E.164"),
        ("--timezone", "Mars/Olympus_Mons", "time zone 'Mars/Olympus_Mons'"),
        ("--email", "not-an-email", "email 'not-an-email'"),
    ]:
        options = good | {field: value}
        args = [item for pair in options.items() for item in pair]
        proc = aha("seller", "upsert", rejected, *args, check=False)
        assert proc.returncode != 0, f"{field} {value} was accepted"
        assert reason in proc.stderr, proc.stderr
        assert proc.stderr.startswith("aha: ") and "Traceback" not in proc.stderr

    missing = aha("seller", "show", rejected, "--json", check=False)
    assert missing.returncode != 0 and "unknown seller" in missing.stderr
    # The good seller is untouched by the failures next to it.
    assert as_json(aha("seller", "show", seller, "--json")) == shown


def test_detect_is_idempotent_per_event_and_joins_further_events(aha: Aha) -> None:
    seller = new_seller_id("detect")
    add_seller(aha, seller)
    event_id = f"evt-{uuid.uuid4().hex[:10]}"

    first = detect(aha, seller, "--event-id", event_id)
    assert first["case_id"] == f"at-risk-case-{seller}"
    assert first["created"] is True and first["issue_id"] == "I1"
    before = status(aha, seller)

    again = detect(aha, seller, "--event-id", event_id)
    assert again["created"] is True, "a redelivery gets the first answer again"
    assert again["case_id"] == first["case_id"] and again["issue_id"] == "I1"
    assert again["duplicate"] is True
    after = status(aha, seller)
    assert len(after["issues"]) == 1
    assert case_entries(after) == case_entries(before), "a redelivery records nothing"

    joined = detect(aha, seller, "--issue-type", "product_authenticity_complaint")
    assert joined["created"] is False and joined["case_id"] == first["case_id"]
    assert joined["issue_id"] == "I2" and joined["duplicate"] is False
    view = status(aha, seller)
    assert [i["id"] for i in view["issues"]] == ["I1", "I2"]
    assert [e["kind"] for e in case_entries(view)] == ["case_opened", "issue_added"]

    stranger = new_seller_id("stranger")
    proc = detect(aha, stranger, check=False)
    assert proc.returncode != 0
    assert f"seller '{stranger}' is not in the directory" in proc.stderr
    assert "no case was started" in proc.stderr
    missing = aha("status", stranger, "--json", check=False)
    assert missing.returncode != 0 and "has no case" in missing.stderr
    no_case = aha("contact-me-now", stranger, check=False)
    assert no_case.returncode != 0 and "has no open case" in no_case.stderr


def test_specialist_reports_a_call_from_the_work_queue(aha: Aha) -> None:
    seller = new_seller_id("calls")
    add_seller(aha, seller)
    detect(aha, seller)

    [call] = poll("the first call", lambda: pending_for(aha, seller), timeout=10)
    assert call["attempt"] == 1 and call["seller_initiated"] is False
    assert call["phone"] == PHONE, "the specialist needs the number to dial"
    assert call["issue_types"] == ["ip_complaint"]
    assert call["guidance"] and all(step.startswith("I1: ") for step in call["guidance"])

    reported = as_json(
        aha("call-outcome", seller, "--attempt", "1", "--outcome", "answered", "--json")
    )
    assert reported["number"] == 1 and reported["outcome"] == "answered"
    assert reported["reported_by"] == "specialist"

    view = status(aha, seller)
    assert view["status"] == "engaged"
    assert view.keys() >= CASE_FIELDS and view["plan"] is None
    assert view["case_id"] == f"at-risk-case-{seller}" and view["seller_id"] == seller
    assert view["deadline"]
    [issue] = view["issues"]
    assert issue.keys() >= ISSUE_FIELDS
    assert (issue["id"], issue["type"], issue["severity"], issue["status"]) == (
        "I1",
        "ip_complaint",
        "high",
        "open",
    )
    [attempt] = view["call_attempts"]
    assert attempt.keys() >= ATTEMPT_FIELDS
    assert attempt["number"] == 1 and attempt["outcome"] == "answered"
    assert attempt["placed_at"] and attempt["seller_initiated"] is False
    assert all(entry.keys() >= TIMELINE_FIELDS for entry in view["timeline"])
    kinds = [e["kind"] for e in view["timeline"] if not e["kind"].startswith("email_")]
    assert kinds[:4] == ["case_opened", "call_placed", "call_outcome", "seller_reached"]
    assert not pending_for(aha, seller)

    text = aha("status", seller).stdout
    assert "status engaged" in text and "#1 proactive" in text and "answered" in text

    again = aha("call-outcome", seller, "--attempt", "1", "--outcome", "busy", check=False)
    assert again.returncode != 0
    assert "call attempt 1 was already reported: answered" in again.stderr
    unknown = aha("call-outcome", seller, "--attempt", "9", "--outcome", "busy", check=False)
    assert unknown.returncode != 0 and "there is no call attempt 9" in unknown.stderr
    assert status(aha, seller)["call_attempts"][0]["outcome"] == "answered"


def test_plan_review_with_a_request_for_information_then_acceptance(aha: Aha) -> None:
    seller = new_seller_id("plan")
    add_seller(aha, seller)
    case_id = detect(aha, seller)["case_id"]
    before = status(aha, seller)
    assert before["status"] == "awaiting_contact"

    for bad_args, reason in [
        (["--root-cause", "", "--action", "removed listings"], "root_cause is empty"),
        (["--root-cause", "a bad supplier"], "corrective_actions needs at least one entry"),
    ]:
        proc = aha("submit-plan", seller, *bad_args, "--prevention", "audit", check=False)
        assert proc.returncode != 0, bad_args
        assert reason in proc.stderr and proc.stderr.startswith("aha: "), proc.stderr
    unchanged = status(aha, seller)
    assert unchanged["status"] == "awaiting_contact" and unchanged["plan"] is None
    assert case_entries(unchanged) == case_entries(before)

    plan = as_json(
        aha(
            "submit-plan", seller,
            "--root-cause", "a supplier sold us unlicensed stock",
            "--action", "removed the two listings",
            "--prevention", "licences checked before listing",
            "--json",
        )
    )  # fmt: skip
    assert plan["review_state"] == "under_review" and plan["issue_ids"] == ["I1"]
    assert status(aha, seller)["status"] == "plan_under_review"

    review = as_json(aha("review-plan", seller, "--request-info", "Which supplier?", "--json"))
    assert review["review_state"] == "info_requested" and review["questions"] == ["Which supplier?"]
    view = status(aha, seller)
    assert view["status"] == "call_required"
    assert view["plan"]["questions"] == ["Which supplier?"]
    early = aha("review-plan", seller, "--accept", check=False)
    assert early.returncode != 0 and "a call must be answered first" in early.stderr

    answer_a_pending_call(aha, seller)
    view = status(aha, seller)
    assert view["status"] == "plan_under_review"
    assert view["plan"]["review_state"] == "under_review"

    accepted = as_json(aha("review-plan", seller, "--accept", "--json"))
    assert accepted["review_state"] == "accepted"
    view = wait_for_status(aha, seller, "resolved", timeout=10)
    assert view["issues"][0]["status"] == "resolved"

    closed = aha("contact-me-now", seller, check=False)
    assert closed.returncode != 0 and "closed" in closed.stderr, closed.stderr
    assert "resolved" in closed.stderr

    def listed() -> bool:
        cases = as_json(aha("list", "--status", "resolved", "--json"))
        return any(c["case_id"] == case_id and c["seller_id"] == seller for c in cases)

    poll("the resolved case in `aha list`", listed, timeout=15, interval=0.5)
    assert as_json(aha("seller", "show", seller, "--json"))["account_status"] == "active"


def test_contact_me_now_twice_asks_for_one_call(aha: Aha) -> None:
    seller = new_seller_id("callme")
    add_seller(aha, seller)
    detect(aha, seller)

    first = as_json(aha("contact-me-now", seller, "--json"))
    assert first["created"] is True
    second = as_json(aha("contact-me-now", seller, "--json"))
    assert second == {"attempt": first["attempt"], "created": False}

    view = status(aha, seller)
    assert view["status"] == "engaged", "pressing contact me now reaches the seller"
    mine = [a for a in view["call_attempts"] if a["seller_initiated"]]
    assert [a["number"] for a in mine] == [first["attempt"]]
    assert [e["kind"] for e in view["timeline"]].count("contact_me_now") == 1

    queued = poll(
        "the seller's call in the work queue",
        lambda: [c for c in pending_for(aha, seller) if c["seller_initiated"]],
        timeout=10,
    )
    assert queued[0]["attempt"] == first["attempt"]
    assert pending_for(aha, seller)[0]["seller_initiated"], "the seller's own call comes first"


def test_nobody_acts_and_the_account_is_deactivated_at_the_deadline(
    aha: Aha, outbox: tuple[Path, int]
) -> None:
    seller = new_seller_id("silent")
    add_seller(aha, seller)
    detect(aha, seller)

    view = wait_for_status(aha, seller, "deactivated", timeout=60, interval=1)
    deadline = datetime.fromisoformat(view["issues"][0]["deadline"])
    [deactivated] = [e for e in view["timeline"] if e["kind"] == "account_deactivated"]
    assert datetime.fromisoformat(deactivated["at"]) >= deadline, "deactivated too early"
    assert any(e["kind"] == "email_sent" and "reminder" in e["detail"] for e in view["timeline"])
    # Unreported attempts expire as no_answer and are retried; the last may still be out
    # when the deadline strikes.
    outcomes = [a["outcome"] for a in view["call_attempts"]]
    assert len(outcomes) >= 2 and set(outcomes[:-1]) == {"no_answer"}, outcomes
    assert outcomes[-1] in ("no_answer", None), outcomes
    assert as_json(aha("seller", "show", seller, "--json"))["account_status"] == "deactivated"

    def all_emails() -> list[str] | None:
        kinds = [m["X-Aha-Kind"] for m in read_emails(outbox[0], seller)]
        return kinds if "deactivated" in kinds else None

    kinds = poll("the deactivation email", all_emails, timeout=10)
    assert kinds == ["enrollment_enrolled", "issue_opened", "reminder", "deactivated"]

    closed = aha("contact-me-now", seller, check=False)
    assert closed.returncode != 0 and "closed (deactivated)" in closed.stderr


def test_the_worker_log_keeps_the_phone_number_out(aha: Aha, stack: dict[str, Any]) -> None:
    seller = new_seller_id("logged")
    add_seller(aha, seller)
    detect(aha, seller)
    poll(f"a pending call for {seller}", lambda: pending_for(aha, seller), timeout=15)
    log = stack["worker_log"].read_text()
    assert f"seller_id={seller}" in log and "call placed" in log, "the log covers this case"
    assert PHONE not in log


def test_schedule_apply_creates_then_updates(aha: Aha) -> None:
    first = as_json(aha("schedule", "apply", "--json"))
    second = as_json(aha("schedule", "apply", "--json"))
    assert first == {"schedule_id": "aha-enrollment-daily", "result": "created"}
    assert second["result"] == "updated"


def test_enrolment_by_cli_and_what_seller_show_says(aha: Aha) -> None:
    seller = new_seller_id("enrol")
    add_seller(aha, seller, enroll=False)
    shown = as_json(aha("seller", "show", seller, "--json"))
    assert shown["enrollment"]["state"] == "not_eligible"
    aha("seller", "ahr", seller, "--date", datetime.now(UTC).date().isoformat(), "--score", "300")
    result = as_json(aha("enrollment", "evaluate", "--seller", seller, "--json"))
    assert (result["evaluated"], result["not_eligible"]) == (1, 1)
    reasons = as_json(aha("seller", "show", seller, "--json"))["enrollment"]["reasons"]
    assert any("ratings cover only 1 of the" in reason for reason in reasons), reasons
    refused = aha("enrollment", "evaluate", "--seller", "nobody-at-all", check=False)
    assert refused.returncode != 0 and "unknown seller" in refused.stderr


def test_adding_the_missing_phone_enrols_at_once(aha: Aha) -> None:
    seller = new_seller_id("nophone")
    aha("seller", "upsert", seller, "--email", f"{seller}@sellers.example",
        "--timezone", "America/Chicago")  # fmt: skip
    give_good_history(aha, seller)
    first = as_json(aha("enrollment", "evaluate", "--seller", seller, "--json"))
    assert first["eligible_missing_phone"] == 1

    added = as_json(aha("seller", "upsert", seller, "--email", f"{seller}@sellers.example",
                        "--phone", PHONE, "--timezone", "America/Chicago", "--json"))  # fmt: skip
    assert added["enrolled_now"] is True
    enrollment = as_json(aha("seller", "show", seller, "--json"))["enrollment"]
    assert enrollment["state"] == "enrolled" and enrollment["reasons"] == []


def test_a_deactivated_seller_appeals_and_a_specialist_decides(aha: Aha) -> None:
    """aha appeal and aha review-appeal: rejected with a reason, appealed again, accepted."""
    seller = new_seller_id("appeal")
    add_seller(aha, seller, enroll=False)  # unprotected: deactivated by its first detection
    detect(aha, seller)
    poll("the deactivation", lambda: status(aha, seller)["status"] == "deactivated", timeout=30)
    plan = [
        "--root-cause", "A supplier sent counterfeit goods",
        "--action", "Removed the listings",
        "--prevention", "Authorised distributors only",
    ]  # fmt: skip

    def appeal(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # The case run has ended; its workflow may still be settling its last notices.
        return aha("appeal", seller, *args, check=check)

    empty = appeal("--root-cause", " ", "--action", "x", "--prevention", "y", check=False)
    assert empty.returncode != 0 and "root_cause is empty" in empty.stderr
    assert "Traceback" not in empty.stderr
    assert f"appeal 1 of {seller}: under_review" in appeal(*plan).stdout
    assert "appeal: appeal_under_review" in aha("status", seller).stdout
    rejected = aha("review-appeal", seller, "--reject", "No invoices attached")
    assert f"appeal 1 of {seller}: rejected" in rejected.stdout
    nothing = aha("review-appeal", seller, "--accept", check=False)
    assert nothing.returncode != 0 and "no appeal is under review" in nothing.stderr

    again = appeal(plan[0], "Invoices attached", *plan[2:])
    assert f"appeal 2 of {seller}: under_review" in again.stdout
    accepted = aha("review-appeal", seller, "--accept", "--by", "specialist:dana")
    assert "accepted, account reactivated" in accepted.stdout
    poll(
        "the reactivation",
        lambda: as_json(aha("seller", "show", seller, "--json"))["account_status"] == "active",
        timeout=15,
    )
    view = status(aha, seller)
    assert view["status"] == "reinstated"
    assert [a["state"] for a in view["appeal"]["appeals"]] == ["rejected", "accepted"]
