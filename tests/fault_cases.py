"""Cases under faults: a stack of real processes, actors that drive each kind of case to its
end whatever fails meanwhile, and the checks every fault test makes of every case.

The actors play the seller and the specialist through `CaseService`, the same path as the
CLI. They look at the case, do the one thing its state calls for, and look again, so an action
lost to a crash is simply done again (the case refuses what no longer applies).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import sqlite3
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from temporalio.client import Client

from aha.adapters.stores import AppStore, open_programme_store
from aha.adapters.temporal.gateway import TemporalCases
from aha.config import Settings
from aha.domain.models import (
    CallOutcome,
    CallReport,
    CaseView,
    DetectionEvent,
    PlanSubmission,
    Resolution,
    Review,
)
from aha.domain.programme import Enrollment
from aha.service import CaseService
from tests.fault_harness import StoppableMail, TemporalServer, WorkerProcess, tail

# Seconds instead of hours; every hour callable, so nothing depends on when the suite runs.
POLICY = """
deadline = "{deadline}"
call_report_timeout = "6s"
max_call_attempts_per_day = 48
reminders_before_deadline = ["{reminder}"]
notice_give_up = "{give_up}"
[calling_hours]
start = "00:00"
end = "24:00"
[call_retry_after]
no_answer = "3s"
busy = "2s"
voicemail = "4s"
"""

Kind = Literal["contact_me_now", "plan_accepted", "plan_info", "never_reached"]
KINDS: tuple[Kind, ...] = ("contact_me_now", "plan_accepted", "plan_info", "never_reached")
END_STATE = {
    "contact_me_now": "resolved",
    "plan_accepted": "resolved",
    "plan_info": "resolved",
    "never_reached": "deactivated",
}
DROPPABLE = ("reminder", "invalid_number")
PLACEMENT_LAG_LIMIT = 25.0  # the dial activity's 20 s timeout, and a little
PLAN = PlanSubmission(
    root_cause="A supplier sent goods that did not match the listings",
    corrective_actions=["Removed the listings"],
    preventive_measures=["Buy only from authorised distributors"],
)
DIALLED = re.compile(
    r"call task queued for a specialist\s+attempt=(\d+) run_id=(\S+).*workflow_id=(\S+)"
)


@dataclass
class FaultStack:
    work: Path
    server: TemporalServer
    mail: StoppableMail
    workers: list[WorkerProcess]
    client: Client
    service: CaseService
    store: AppStore
    db: str  # AHA_DB: the SQLite file or the PostgreSQL URL every worker shares
    # Called with each new seller's id (a test over the HTTP API gives each a token).
    on_new_seller: Callable[[str], None] | None = None

    def new_seller(self, kind: str) -> str:
        seller_id = f"{kind.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
        self.store.upsert(
            seller_id,
            email=f"{seller_id}@sellers.example",
            phone="+12125550123",
            timezone="America/New_York",
            name=f"Seller {seller_id}",
        )
        today = datetime.now(UTC).date()
        self.store.save_enrollments([Enrollment(seller_id, "enrolled", today, ())])
        if self.on_new_seller is not None:
            self.on_new_seller(seller_id)
        return seller_id

    def worker_logs(self) -> str:
        return "\n".join(w.log_path.read_text(errors="replace") for w in self.workers)


@asynccontextmanager
async def fault_stack(
    work: Path,
    *,
    deadline: str,
    reminder: str,
    give_up: str = "30m",
    workers: int = 2,
    worker_env: dict[str, str] | None = None,
    db: str | None = None,
) -> AsyncIterator[FaultStack]:
    """Real processes over one store: the SQLite file `work/aha.db`, or `db` (a PostgreSQL
    URL, already migrated)."""
    policy = work / "policy.toml"
    policy.write_text(
        POLICY.format(deadline=deadline, reminder=reminder, give_up=give_up), encoding="utf-8"
    )
    db = db or str(work / "aha.db")
    store = open_programme_store(replace(Settings(), db_path=db))
    async with TemporalServer(work / "temporal") as server:
        with StoppableMail() as mail:
            env = {
                "TEMPORAL_ADDRESS": server.address,
                "TEMPORAL_NAMESPACE": "default",
                "AHA_TASK_QUEUE": f"faults-{uuid.uuid4().hex[:8]}",
                "AHA_DB": db,
                "AHA_SMTP_HOST": "127.0.0.1",
                "AHA_SMTP_PORT": str(mail.port),
                "AHA_DIALER": "manual",
            } | (worker_env or {})
            processes = [WorkerProcess(work, policy, env, n=n) for n in range(1, workers + 1)]
            for process in processes:
                process.start()
            try:
                for process in processes:
                    process.wait_ready()
                client = await server.connect()
                service = CaseService(TemporalCases(client), store, env["AHA_TASK_QUEUE"])
                yield FaultStack(work, server, mail, processes, client, service, store, db)
            finally:
                for process in processes:
                    process.kill()


async def kill_and_restart(worker: WorkerProcess) -> None:
    """`kill -9`, then start again; a worker cannot start while Temporal is down, so retry."""
    worker.kill()
    for _ in range(60):
        worker.start()
        try:
            await asyncio.to_thread(worker.wait_ready)
            return
        except AssertionError:
            worker.kill()
            await asyncio.sleep(1)
    raise AssertionError(f"worker {worker.n} would not start again:\n{tail(worker.log_path)}")


def worker_killer(stack: FaultStack) -> Callable[[], Awaitable[None]]:
    """Each call `kill -9`s the next worker in turn and starts it again."""
    killed = 0

    async def kill_the_next_worker() -> None:
        nonlocal killed
        worker = stack.workers[killed % len(stack.workers)]
        killed += 1
        await kill_and_restart(worker)

    return kill_the_next_worker


# ---- the actors ----------------------------------------------------------------------------


async def _try(action: Any) -> Any:
    """One attempt at an action: faults and refusals alike just mean "look again"."""
    try:
        return await asyncio.wait_for(action, timeout=8)
    except Exception:
        return None


async def detect(stack: FaultStack, seller_id: str) -> DetectionEvent:
    event = DetectionEvent(
        event_id=f"evt-{uuid.uuid4().hex[:10]}",
        seller_id=seller_id,
        issue_type="ip_complaint",
        severity="high",
        description="Trademark complaint on two listings",
        detected_at=datetime.now(UTC),
    )
    # The same event again is harmless (it gets its first answer), so a lost answer is resent.
    for _ in range(200):
        if await _try(stack.service.detect(event)) is not None:
            return event
        await asyncio.sleep(0.5)
    raise AssertionError(f"the detection for {seller_id} was never taken")


async def drive(stack: FaultStack, seller_id: str, kind: Kind, give_up_at: float) -> None:
    """Play the seller and the specialist until the case closes."""
    service = stack.service
    last_seen = "no answer from the case"
    while time.monotonic() < give_up_at:
        view: CaseView | None = await _try(service.status(seller_id))
        if view is not None:
            last_seen = _summary(view)
        if view is None or not view.issues:
            await asyncio.sleep(0.5)
            continue
        if view.closed:
            return
        placed = [a for a in view.pending_calls() if a.placed_at is not None]
        plan = view.plan

        async def answer(outcome: CallOutcome = "answered", calls: list[Any] = placed) -> None:
            if calls:
                report = CallReport(attempt=calls[0].number, outcome=outcome)
                await _try(service.report_call_outcome(seller_id, report))

        if kind == "never_reached":
            await answer("busy" if len(view.call_attempts) % 2 else "no_answer")
        elif kind == "contact_me_now":
            if not view.reached:
                await _try(service.contact_me_now(seller_id))
            else:
                for issue in view.open_issues():
                    resolution = Resolution(issue_id=issue.id, note="fixed on the phone")
                    await _try(service.resolve(seller_id, resolution))
        elif not view.reached or (plan and plan.review_state == "info_requested"):
            await answer()
        elif plan is None:
            await _try(service.submit_plan(seller_id, PLAN))
        elif plan.review_state == "under_review":
            if kind == "plan_info" and not plan.questions:
                review = Review(decision="request_info", questions=["Which supplier?"])
            else:
                review = Review(decision="accept")
            await _try(service.review_plan(seller_id, review))
        # Unhurried, as people are: 64 actors looking 3 times a second would load 2 cores.
        await asyncio.sleep(0.7 + random.random() * 0.6)
    raise AssertionError(
        f"{kind} case of {seller_id} did not close in time; last seen: {last_seen}"
        f"{nondeterminism_seen(stack)}"
    )


def _summary(view: CaseView) -> str:
    """Enough of a case to tell a slow run from a stuck rule when a case does not close."""
    last = view.timeline[-1] if view.timeline else None
    return (
        f"status={view.status} deadline={view.deadline} closed={view.closed} "
        f"attempts={len(view.call_attempts)} last event={last.kind if last else None} "
        f"at {last.at if last else None}"
    )


async def settle(stack: FaultStack, sellers: Iterable[str], timeout: float) -> dict[str, CaseView]:
    """Every case's final view, once its notices have all been settled."""
    sellers = list(sellers)
    give_up_at = time.monotonic() + timeout
    views: dict[str, CaseView] = {}
    while time.monotonic() < give_up_at:
        for seller_id in sellers:
            if seller_id in views:
                continue
            view = await _try(stack.service.status(seller_id))
            if view is not None and view.closed and _settled(view):
                views[seller_id] = view
        if len(views) == len(sellers):
            return views
        await asyncio.sleep(1)
    waiting = [s for s in sellers if s not in views]
    raise AssertionError(
        f"{len(waiting)} case(s) never settled, e.g. {waiting[:3]}{nondeterminism_seen(stack)}"
    )


def nondeterminism_seen(stack: FaultStack) -> str:
    """A stuck case is often a workflow task that no longer replays: say so if a worker said so
    (README "Fault tests": an SDK replay fault after a worker crash)."""
    lines = [
        line.strip()
        for log in sorted(stack.work.glob("worker-*.log"))
        for line in log.read_text(errors="replace").splitlines()
        if "TMPRL1100" in line
    ]
    if not lines:
        return ""
    return f"; workers logged {len(lines)} nondeterminism error(s), first: {lines[0][:400]}"


def _settled(view: CaseView) -> bool:
    return all(n.state != "pending" for n in view.notices) and bool(view.notices)


# ---- the checks ----------------------------------------------------------------------------


@dataclass
class Findings:
    """What the checks found over every case of one fault run."""

    cases: int = 0
    emails: int = 0
    duplicates: int = 0
    lost: int = 0
    out_of_order: int = 0
    stale_sent: int = 0
    calls_after_closure: int = 0
    attempts_twice: int = 0
    dropped: int = 0
    lateness: list[float] = field(default_factory=list)
    placement_lag: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def pct(values: list[float], q: float) -> float:
            if not values:
                return 0.0
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

        return {
            "cases": self.cases,
            "emails": self.emails,
            "duplicates": self.duplicates,
            "lost": self.lost,
            "out_of_order": self.out_of_order,
            "stale_sent": self.stale_sent,
            "dropped_as_stale": self.dropped,
            "calls_after_closure": self.calls_after_closure,
            "attempts_dialled_twice": self.attempts_twice,
            "deactivation_lateness_p50_s": round(pct(self.lateness, 0.5), 2),
            "deactivation_lateness_p99_s": round(pct(self.lateness, 0.99), 2),
            "deactivation_lateness_max_s": round(max(self.lateness, default=0.0), 2),
            "call_shown_after_dial_p99_s": round(pct(self.placement_lag, 0.99), 2),
            "mean_lateness_s": round(statistics.fmean(self.lateness), 2) if self.lateness else 0,
        }


def _message_id(key: str) -> str:
    return f"<{key.replace('/', '.')}@aha.local>"


def _ledger(db: str) -> tuple[dict[str, dict[str, Any]], dict[str, datetime]]:
    """The ledger's rows by key, times as datetimes, and when each run was sealed."""
    if Settings(db_path=db).uses_postgres:
        with psycopg.connect(db, row_factory=dict_row) as pg:
            deliveries = pg.execute("SELECT * FROM deliveries").fetchall()
            sealed = pg.execute("SELECT * FROM sealed_runs").fetchall()
    else:
        lite = sqlite3.connect(db)
        lite.row_factory = sqlite3.Row
        try:
            deliveries = [dict(row) for row in lite.execute("SELECT * FROM deliveries")]
            sealed = [dict(row) for row in lite.execute("SELECT * FROM sealed_runs")]
        finally:
            lite.close()

    def moment(value: Any) -> datetime | None:
        return datetime.fromisoformat(value) if isinstance(value, str) else value

    rows = {
        row["key"]: row | {f: moment(row[f]) for f in ("claimed_at", "sent_at")}
        for row in deliveries
    }
    seals = {row["run_key"]: moment(row["sealed_at"]) for row in sealed}
    return rows, seals  # type: ignore[return-value]


def check_cases(
    stack: FaultStack,
    cases: list[tuple[Kind, CaseView]],
    late_by: timedelta,
    placement_lag_limit: float = PLACEMENT_LAG_LIMIT,
) -> Findings:
    """Every case run: its end state, its deadline, its emails and its calls."""
    found = Findings(cases=len(cases))
    rows, seals = _ledger(stack.db)
    mails = stack.mail.messages()
    dialled: dict[tuple[str, str, int], int] = {}
    for match in DIALLED.finditer(stack.worker_logs()):
        spot = (match[3], match[2], int(match[1]))
        dialled[spot] = dialled.get(spot, 0) + 1
    found.attempts_twice = sum(1 for count in dialled.values() if count > 1)
    found.problems += [f"attempt {n} of {case} dialled {c} times" for (case, _, n), c in
                       dialled.items() if c > 1]  # fmt: skip
    # A workflow task that does not replay means a case that can stall: never acceptable.
    broken = re.findall(r"Nondeterminism error[^\n]{0,120}", stack.worker_logs())
    found.problems += [f"a worker failed a workflow task: {line}" for line in broken[:5]]
    for kind, view in cases:
        seller_id = view.seller_id
        run_key = f"{view.case_id}/{view.run_id}"
        problems: list[str] = []
        if view.status != END_STATE[kind]:
            problems.append(f"ended {view.status}, expected {END_STATE[kind]}")
        account = stack.store.get(seller_id)
        expected_account = "deactivated" if view.status == "deactivated" else "active"
        if account is None or account.account_status != expected_account:
            problems.append(f"account is {account and account.account_status}")
        if view.status == "deactivated":
            deadline = min(i.deadline for i in view.issues if i.status == "open")
            done = next(e.at for e in view.timeline if e.kind == "account_deactivated")
            lateness = (done - deadline).total_seconds()
            found.lateness.append(lateness)
            if not timedelta(0) <= done - deadline <= late_by:
                problems.append(f"deactivated {lateness:+.1f}s from its deadline")
        # Emails: each once, in the order decided, none stale after the end.
        run_marker = f"<{run_key.replace('/', '.')}."
        received = sorted(
            (m for m in mails if m.message_id.startswith(run_marker)), key=lambda m: m.received_at
        )
        found.emails += len(received)
        ids = [m.message_id for m in received]
        found.duplicates += len(ids) - len(set(ids))
        sent = [n for n in view.notices if n.state == "sent"]
        found.dropped += sum(1 for n in view.notices if n.state == "dropped")
        wanted = [_message_id(n.key) for n in sent]
        first_seen = list(dict.fromkeys(ids))
        missing = [n.kind for n in sent if _message_id(n.key) not in ids]
        consequential = {"issue_opened", "resolved", "deactivated"}
        owed = [n.kind for n in view.notices if n.kind in consequential and n.state != "sent"]
        # The notices every case of this end owes, whether or not the case decided them.
        due = ["issue_opened"] * len(view.issues) + [view.status]
        decided = [n.kind for n in view.notices if n.kind in consequential]
        never_decided = [k for k in due if decided.count(k) < due.count(k)]
        found.lost += len(missing) + len(owed) + len(never_decided)
        if missing or owed or never_decided:
            problems.append(f"emails lost: {missing + owed + never_decided}")
        if [i for i in first_seen if i in wanted] != [i for i in wanted if i in first_seen]:
            found.out_of_order += 1
            problems.append(f"emails out of order: {[m.kind for m in received]}")
        if set(first_seen) - set(wanted):
            problems.append("an email arrived that the case does not list as sent")
        assert view.closed_at is not None
        for message in received:
            if message.kind in DROPPABLE and message.received_at > view.closed_at:
                found.stale_sent += 1
                problems.append(f"a {message.kind} arrived after the case closed")
        # Calls: none handed to the dialer after the seal, each attempt once.
        if run_key not in seals:
            problems.append("the run was never sealed")
        sealed_at = seals.get(run_key, datetime.max.replace(tzinfo=UTC))
        for key, row in rows.items():
            if not key.startswith(f"{run_key}/") or row["channel"] != "call":
                continue
            dialled_at = row["sent_at"]
            if dialled_at and dialled_at > view.closed_at:
                found.calls_after_closure += 1
                problems.append(f"{key} dialled after the case closed")
            if row["claimed_at"] > sealed_at and row["state"] == "sent":
                found.calls_after_closure += 1
                problems.append(f"{key} claimed after the run was sealed")
            number = int(key.rsplit("/", 1)[1])
            attempt = view.call_attempts[number - 1] if number <= len(view.call_attempts) else None
            if row["state"] == "sent" and attempt and attempt.placed_at and row["sent_at"]:
                lag = (attempt.placed_at - row["sent_at"]).total_seconds()
                found.placement_lag.append(lag)
                # At worst the signal was lost with its worker and the retried dial confirms.
                if lag > placement_lag_limit:
                    problems.append(f"attempt {number} shown {lag:.1f}s after its dial")
        found.problems += [f"{kind} {seller_id}: {p}" for p in problems]
    return found


def explain(stack: FaultStack, found: Findings) -> str:
    logs = "\n".join(f"--- worker {w.n}\n{tail(w.log_path, 15)}" for w in stack.workers)
    return "\n".join(found.problems[:20]) + f"\n{found.summary()}\n{logs}"


async def run_cases(
    stack: FaultStack, per_kind: int, spread: float, timeout: float
) -> dict[str, Kind]:
    """Open `per_kind` cases of every kind over `spread` seconds and drive each to its end."""
    kinds: dict[str, Kind] = {}
    order = [kind for _ in range(per_kind) for kind in KINDS]
    for kind in order:
        kinds[stack.new_seller(kind)] = kind
    give_up_at = time.monotonic() + timeout

    async def one(index: int, seller_id: str, kind: Kind) -> None:
        await asyncio.sleep(spread * index / len(order))
        await detect(stack, seller_id)
        await drive(stack, seller_id, kind, give_up_at)

    actors = [asyncio.create_task(one(i, s, k)) for i, (s, k) in enumerate(kinds.items())]
    try:
        await asyncio.gather(*actors)
    finally:
        for actor in actors:  # one actor's failure must not leave the others running
            actor.cancel()
    return kinds


@contextlib.asynccontextmanager
async def every(seconds: float, action: Any, times: int) -> AsyncIterator[list[float]]:
    """Run `action` `times` times, `seconds` apart, beside the block; yields when each ran."""
    moments: list[float] = []

    async def loop() -> None:
        for _ in range(times):
            await asyncio.sleep(seconds)
            await action()
            moments.append(time.monotonic())

    task = asyncio.create_task(loop())
    try:
        yield moments
        await task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
