"""Many open cases on the server, and how soon a call is still placed: `--open-cases N`.

Run by bench/case_bench.py on its dev server, after its closed-loop phases:

1. fill: N cases detected through `CaseService.detect` at `--fill-concurrency`, for enrolled
   sellers in a time zone where the policy's calling hours (the shipped default policy,
   08:00-21:00 local) have ended and will not begin again for hours. Each sends its issue
   email and then sleeps on a timer until the next calling window (its deadline and reminder
   timers lie further out), as a case does overnight. The sticky cache of the worker keeps
   its default (1,000 workflows), so most of them are evicted from it, as in service.
2. the maximum rate of each operation, closed loop at `--concurrency`, with all of them open:
   - detection -> first call placed: a detection for a new seller in a time zone where calls
     are allowed now; the case places attempt 1 at once;
   - contact me now -> call placed: a seller of one of the sleeping cases, chosen at random,
     presses contact me now, and the case dials at once whatever the hour.
3. each operation again, open loop, at half its maximum rate for `--open-duration` seconds:
   latencies count from each item's scheduled send time.

"Call placed" is the moment the dialer (the fake phone network: `ManualDialer`'s job, a task
for a specialist) receives the call, seen in-process by `WatchingDialer`. The moment the case
itself shows the attempt as placed (its `call_placed` signal, `placed_at`) is read from each
open-loop case afterwards and reported beside it.
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from time import perf_counter, time
from typing import TYPE_CHECKING, Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from aha.adapters.sqlite.programme import SqliteProgrammeStore
from aha.adapters.temporal.gateway import TemporalCases
from aha.config import Settings
from aha.dev import free_port
from aha.domain import calling
from aha.domain.calls import CallTask
from aha.domain.models import DetectionEvent
from aha.domain.policy import CallingHours, Policy
from aha.domain.programme import Enrollment
from aha.domain.vocabulary import EnrollmentState
from aha.policy_file import load_policy
from aha.service import CaseService, case_id_for
from bench.cpu import MACHINE, PROCESS, SERVER, Meter, others_cores, rss_mb
from bench.load import Driven, Item, Sample, closed_loop, open_loop
from bench.stats import latency_summary
from worker import build_worker
from workflows.case import CaseWorkflow

if TYPE_CHECKING:
    from bench.case_bench import Bench

# The issue's goals: p99 at half the maximum rate.
P99_GOALS_MS = {"detect": 500.0, "contact": 300.0}
PLACED = "call placed (dialer has it)"
KINDS = {"detect": "detection -> first call placed", "contact": "contact me now -> call placed"}
SHOWN = "case shows it placed"

# Real zones across the offsets, so that at any hour one is inside the calling window and one
# is hours away from it.
ZONES = (
    "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver",
    "America/Chicago", "America/New_York", "America/Halifax", "America/Sao_Paulo",
    "Atlantic/Azores", "Europe/London", "Europe/Paris", "Europe/Athens", "Europe/Moscow",
    "Asia/Dubai", "Asia/Karachi", "Asia/Dhaka", "Asia/Bangkok", "Asia/Shanghai", "Asia/Tokyo",
    "Australia/Brisbane", "Pacific/Noumea", "Pacific/Auckland",
)  # fmt: skip
MARGIN = timedelta(hours=3)  # far longer than the run: no window opens or closes during it
PHONE = "+12125550123"
SETTLED_CORES = 0.2  # this process and the server together below this: idle
SETTLE_WINDOW_S = 1.0


class WatchingDialer:
    """`ManualDialer` (the call becomes a specialist's task) that notes when each seller's
    first call reaches it, on this process's clock."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.seen_wall: dict[str, float] = {}  # the same moment on the wall clock
        self._waiting: dict[str, asyncio.Future[float]] = {}

    async def dial(self, task: CallTask, phone: str) -> None:
        if task.seller_id in self.seen:
            return
        now = perf_counter()
        self.seen[task.seller_id] = now
        self.seen_wall[task.seller_id] = time()
        waiting = self._waiting.pop(task.seller_id, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(now)

    async def placed(self, seller_id: str) -> float:
        if seller_id in self.seen:
            return self.seen[seller_id]
        waiting = asyncio.get_running_loop().create_future()
        self._waiting[seller_id] = waiting
        return float(await waiting)


def pick_zones(hours: CallingHours, now: datetime) -> tuple[str, str]:
    """A zone where calls are allowed from now for MARGIN, and the zone whose calling window
    opens last, at least MARGIN from now."""
    awake = [
        z
        for z in ZONES
        if calling.is_callable(now, z, hours) and calling.is_callable(now + MARGIN, z, hours)
    ]
    opens = {z: calling.next_call_slot(now, z, hours, max_per_day=1) for z in ZONES}
    asleep = max(ZONES, key=lambda z: opens[z])
    if not awake or opens[asleep] < now + MARGIN:
        raise RuntimeError(f"no time zone fits calling hours {hours} at {now:%H:%M} UTC")
    return awake[0], asleep


def seed_sellers(db_path: str, ids: Sequence[str], timezone: str) -> None:
    """Enrolled sellers with a phone, in one transaction (not timed)."""
    now = datetime.now(UTC).isoformat()
    db = sqlite3.connect(db_path, timeout=30)
    try:
        with db:
            db.executemany(
                "INSERT INTO sellers (seller_id, name, email, phone, timezone, marketplace,"
                " account_type, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        sid,
                        f"Seller {sid}",
                        f"{sid}@sellers.example",
                        "+12125550123",
                        timezone,
                        "US",
                        "professional",
                        now,
                    )
                    for sid in ids
                ],
            )
    finally:
        db.close()
    # Enrolled directly: this run measures cases, not the enrolment sweep.
    today = datetime.now(UTC).date()
    enrolled = EnrollmentState.ENROLLED
    store = SqliteProgrammeStore(db_path)
    store.save_enrollments(Enrollment(sid, enrolled, today, ()) for sid in ids)


def detection(seller_id: str) -> DetectionEvent:
    return DetectionEvent(
        event_id=f"evt-{uuid.uuid4().hex[:12]}",
        seller_id=seller_id,
        marketplace="US",
        issue_type="ip_complaint",
        severity="high",
        description="Trademark complaint on two listings",
        detected_at=datetime.now(UTC),
    )


# Where an open-loop item's time goes, from its case's history (server event times) and this
# process's wall clock (one host): detection, then contact me now.
SEGMENTS = {
    "detect": {
        "to server": "sent -> case workflow started (client, gRPC, server)",
        "to worker": "started -> first workflow task picked up by the worker",
        "first task": "that task in the worker: new sandbox, policy and profile local "
        "activities, the detect update, the dial scheduled",
        "dial queued": "dial activity scheduled -> picked up",
        "dial runs": "picked up -> the dialer has the call (ledger claim, directory read)",
    },
    "contact": {
        "to worker": "sent -> the workflow task with the update picked up by the worker",
        "task": "that task in the worker: full replay when the case is not in the sticky "
        "cache, the update, the dial scheduled",
        "dial queued": "dial activity scheduled -> picked up",
        "dial runs": "picked up -> the dialer has the call (ledger claim, directory read)",
    },
}


def segments(
    kind: str, events: Sequence[HistoryEvent], sent: float, dialled: float
) -> dict[str, float] | None:
    """The item's time split at its case's history events (see SEGMENTS), in seconds."""

    def at(event: HistoryEvent) -> float:
        return float(event.event_time.ToMicroseconds()) / 1e6

    started = task_started = task_done = dial_scheduled = dial_started = None
    dial_id = None
    last_task_started = last_task_done = None
    for event in events:
        kind_of = event.event_type
        if kind_of == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            started = at(event)
        elif kind_of == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            last_task_started = at(event)
            if task_started is None and kind == "detect":
                task_started = last_task_started
        elif kind_of == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            last_task_done = at(event)
            if task_done is None and kind == "detect":
                task_done = last_task_done
        elif kind_of == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            if kind == "contact" and request.input.name == "contact_me_now":
                task_started, task_done = last_task_started, last_task_done
        elif kind_of == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attributes = event.activity_task_scheduled_event_attributes
            if attributes.activity_type.name == "dial" and dial_id is None:
                dial_id, dial_scheduled = event.event_id, at(event)
        elif (
            kind_of == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
            and event.activity_task_started_event_attributes.scheduled_event_id == dial_id
        ):
            dial_started = at(event)
    if None in (task_started, task_done, dial_scheduled, dial_started):
        return None
    assert task_started is not None and task_done is not None
    assert dial_scheduled is not None and dial_started is not None
    found = {}
    if kind == "detect":
        if started is None:
            return None
        found = {"to server": started - sent, "to worker": task_started - started}
        found["first task"] = task_done - task_started
    else:
        found = {"to worker": task_started - sent, "task": task_done - task_started}
    found |= {"dial queued": dial_started - dial_scheduled, "dial runs": dialled - dial_started}
    found["total"] = dialled - sent
    return found


def scrape(port: int) -> dict[str, float]:
    """The worker's sticky-cache and replay counters from its Prometheus endpoint."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return {}
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or "sticky_cache" not in line:
            continue
        name, _, value = line.rpartition(" ")
        metric = name.split("{", 1)[0]
        values[metric] = values.get(metric, 0.0) + float(value)
    return values


@dataclass
class Step:
    key: str
    label: str
    mode: str  # fill, closed or open
    concurrency: int | None = None
    rate: float | None = None
    sent: int = 0
    driven: Driven = field(default_factory=Driven)
    cpu_s: dict[str, float] = field(default_factory=dict)
    settle_s: float = 0.0
    sticky: dict[str, float] = field(default_factory=dict)
    shown: list[float] = field(default_factory=list)  # case shows placed, seconds
    sellers: list[str] = field(default_factory=list)
    load_average: float = 0.0  # 1-min, as the step began: other jobs share the machine
    kind: str = ""  # detect or contact, for the breakdown
    breakdown: list[dict[str, float]] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        driven = self.driven
        done = driven.done
        latency = {op: latency_summary(v, (50, 90, 99)) for op, v in driven.samples.items() if v}
        if self.shown:
            latency[SHOWN] = latency_summary(self.shown, (50, 90, 99))
        return {
            "label": self.label,
            "mode": self.mode,
            "concurrency": self.concurrency,
            "target_rate": self.rate,
            "sent": self.sent,
            "completed": done,
            "errors": len(driven.errors),
            "error_samples": driven.errors[:5],
            "wall_s": driven.wall_s,
            "per_s": done / driven.wall_s if driven.wall_s else 0.0,
            "max_send_lag_ms": (
                driven.max_send_lag_s * 1000 if driven.max_send_lag_s is not None else None
            ),
            "settle_s_before": self.settle_s,
            "latency_ms": latency,
            "cpu_ms_per_item": (
                {k: v * 1000 / done for k, v in self.cpu_s.items() if k != MACHINE} if done else {}
            ),
            "others_cores": others_cores(self.cpu_s, driven.wall_s),
            "cores_busy": (
                (self.cpu_s.get(PROCESS, 0.0) + self.cpu_s.get(SERVER, 0.0)) / driven.wall_s
                if driven.wall_s
                else None
            ),
            "sticky_cache": self.sticky,
            "load_average_at_start": self.load_average,
            "breakdown_ms": {
                key: latency_summary([b[key] for b in self.breakdown], (50, 90, 99))
                for key in [*SEGMENTS.get(self.kind, {}), "total"]
                if self.breakdown
            },
            "slowest_ms": [
                {k: v * 1000 for k, v in b.items()}
                for b in sorted(self.breakdown, key=lambda b: -b["total"])[:5]
            ],
        }


class OpenCases:
    def __init__(self, b: Bench, client: Client, metrics_port: int) -> None:
        self.b = b
        self.args = b.args
        self.client = client
        self.metrics_port = metrics_port
        self.policy: Policy = load_policy(None)  # the shipped default: calls 08:00-21:00
        self.settings = replace(
            Settings(),
            task_queue=f"bench-open-{uuid.uuid4()}",
            db_path=str(b.workdir / "open-cases.db"),
            smtp_host="127.0.0.1",
            smtp_port=b.smtp_port,
            dialer="manual",
        )
        self.store = SqliteProgrammeStore(self.settings.db_path)
        self.service = CaseService(TemporalCases(client), self.store, self.settings.task_queue)
        self.dialer = WatchingDialer()
        self.awake_zone, self.asleep_zone = pick_zones(self.policy.calling_hours, datetime.now(UTC))
        self.taken = 0
        self.sent_at: dict[str, float] = {}  # seller -> wall clock at the item's start
        self.emails_expected = self.emails()
        self.settle_notes: list[str] = []

    def emails(self) -> int:
        return sum(1 for _ in os.scandir(self.b.workdir / "outbox"))

    def sellers(self, count: int, timezone: str) -> list[str]:
        ids = [f"open-{self.b.tag}-{i:06d}" for i in range(self.taken, self.taken + count)]
        self.taken += count
        seed_sellers(self.settings.db_path, ids, timezone)
        return ids

    async def settle(self, before: str) -> float:
        """Wait until every email owed has gone and this process and the server are idle."""
        started = perf_counter()
        previous = self.b.meter.read()
        while True:
            await asyncio.sleep(SETTLE_WINDOW_S)
            current = self.b.meter.read()
            spent = Meter.spent(previous, current)
            busy = (spent.get(PROCESS, 0.0) + spent.get(SERVER, 0.0)) / SETTLE_WINDOW_S
            previous = current
            waited = perf_counter() - started
            emails = self.emails()
            if emails >= self.emails_expected and busy < SETTLED_CORES:
                return waited
            if waited > self.args.settle_timeout:
                self.settle_notes.append(
                    f"before {before}: not settled after {waited:.0f}s ({emails}/"
                    f"{self.emails_expected} emails, {busy:.2f} cores busy)"
                )
                return waited

    async def step(self, step: Step, item: Item, indices: Sequence[int], emails: int) -> Step:
        """Settle, then run `item` over `indices`; each new case owes one issue email."""
        step.settle_s = await self.settle(step.label)
        self.emails_expected += emails
        count = step.sent = len(indices)
        step.load_average = round(os.getloadavg()[0], 2)
        sticky_before = scrape(self.metrics_port)
        before = self.b.meter.read()
        if step.mode == "open":
            assert step.rate is not None
            step.driven = await open_loop(indices, step.rate, item, self.args.timeout)
        else:
            concurrency = step.concurrency or 1
            step.driven = await closed_loop(indices, concurrency, item, self.args.timeout)
        step.cpu_s = Meter.spent(before, self.b.meter.read())
        sticky_after = scrape(self.metrics_port)
        step.sticky = {k: v - sticky_before.get(k, 0.0) for k, v in sticky_after.items()}
        print(
            f"  open cases: {step.label}: {step.driven.done}/{count} in "
            f"{step.driven.wall_s:.1f}s, {len(step.driven.errors)} errors",
            flush=True,
        )
        return step

    # ---- the items -----------------------------------------------------------------------

    def fill_item(self, sellers: Sequence[str]) -> Item:
        async def item(index: int) -> Sample:
            t0 = perf_counter()
            receipt = await self.service.detect(detection(sellers[index]))
            if not receipt.created:
                raise RuntimeError(f"detect did not open a new case: {receipt}")
            return {"detect answered": perf_counter() - t0}

        return item

    def detect_item(self, sellers: Sequence[str]) -> Item:
        async def item(index: int) -> Sample:
            seller_id = sellers[index]
            self.sent_at[seller_id] = time()
            t0 = perf_counter()
            receipt = await self.service.detect(detection(seller_id))
            t1 = perf_counter()
            if not receipt.created:
                raise RuntimeError(f"detect did not open a new case: {receipt}")
            placed = await self.dialer.placed(seller_id)
            return {"detect answered": t1 - t0, PLACED: placed - t0}

        return item

    def contact_item(self, sellers: Sequence[str]) -> Item:
        async def item(index: int) -> Sample:
            seller_id = sellers[index]
            self.sent_at[seller_id] = time()
            t0 = perf_counter()
            receipt = await self.service.contact_me_now(seller_id, requested_by="bench")
            t1 = perf_counter()
            if not receipt.created:
                raise RuntimeError(f"contact me now placed no new attempt: {receipt}")
            placed = await self.dialer.placed(seller_id)
            return {"contact_me_now answered": t1 - t0, PLACED: placed - t0}

        return item

    async def shown_placed(self, step: Step) -> None:
        """From each case's own record: its first attempt's placed_at, from the schedule."""
        gate = asyncio.Semaphore(8)
        lags = step.driven.lags

        async def one(index: int, seller_id: str) -> float | None:
            handle = self.client.get_workflow_handle_for(CaseWorkflow.run, case_id_for(seller_id))
            async with gate:
                view = await handle.query(CaseWorkflow.get_case)
            placed = [a.placed_at for a in view.call_attempts if a.placed_at is not None]
            if not placed or seller_id not in self.sent_at:
                return None
            return placed[0].timestamp() - self.sent_at[seller_id] + lags.get(index, 0.0)

        found = await asyncio.gather(
            *(one(i, s) for i, s in enumerate(step.sellers)), return_exceptions=True
        )
        step.shown = [f for f in found if isinstance(f, float)]

    async def split(self, step: Step) -> None:
        """Each item's segments (SEGMENTS) from its case's history."""
        gate = asyncio.Semaphore(8)

        async def one(seller_id: str) -> dict[str, float] | None:
            if seller_id not in self.sent_at or seller_id not in self.dialer.seen_wall:
                return None
            async with gate:
                history = await self.client.get_workflow_handle(
                    case_id_for(seller_id)
                ).fetch_history()
            return segments(
                step.kind,
                history.events,
                self.sent_at[seller_id],
                self.dialer.seen_wall[seller_id],
            )

        found = await asyncio.gather(*(one(s) for s in step.sellers), return_exceptions=True)
        step.breakdown = [f for f in found if isinstance(f, dict)]

    # ---- the run -------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        args = self.args
        count = args.open_cases
        filler = self.sellers(count, self.asleep_zone)
        steps: list[Step] = []
        async with build_worker(self.client, self.settings, self.policy, dialer=self.dialer):
            fill = Step("fill", f"fill: {count} cases detected", "fill", args.fill_concurrency)
            self.emails_expected += count  # each sends its issue email
            fill.sent = count
            fill.load_average = round(os.getloadavg()[0], 2)
            before = self.b.meter.read()
            fill.driven = await closed_loop(
                range(count), args.fill_concurrency, self.fill_item(filler), args.timeout
            )
            fill.cpu_s = Meter.spent(before, self.b.meter.read())
            print(
                f"  open cases: filled {fill.driven.done}/{count} in {fill.driven.wall_s:.0f}s",
                flush=True,
            )
            steps.append(fill)
            fill_settle_s = await self.settle("counting the open cases")
            running = await self.client.count_workflows(
                f"TaskQueue = '{self.settings.task_queue}' AND ExecutionStatus = 'Running'"
            )
            server_rss = [rss_mb(pid) for pid in self.b.meter.server_pids]
            spare = random.Random(count).sample(filler, len(filler))  # contact me now, at random
            spy = self.b.profiler("open-cases")
            if spy is not None:
                spy.start()

            # Maximum rates, closed loop, then half of each, open loop.
            probe = min(args.open_probe, len(spare) // 3)
            rates: dict[str, float] = {}
            for kind, label in KINDS.items():
                step = Step(f"max_{kind}", f"{label}, max rate", "closed", args.concurrency)
                if kind == "detect":
                    sellers = self.sellers(probe, self.awake_zone)
                    item = self.detect_item(sellers)
                else:
                    sellers, spare = spare[:probe], spare[probe:]
                    item = self.contact_item(sellers)
                step.sellers = sellers
                emails = probe if kind == "detect" else 0
                steps.append(await self.step(step, item, range(probe), emails))
                rates[kind] = step.json()["per_s"]
            for kind, label in KINDS.items():
                rate = rates[kind] / 2
                n = max(1, min(round(rate * args.open_duration), len(spare)))
                step = Step(f"open_{kind}", f"{label}, at {rate:.1f}/s", "open", rate=rate)
                step.kind = kind
                if kind == "detect":
                    sellers = self.sellers(n, self.awake_zone)
                    item = self.detect_item(sellers)
                else:
                    sellers, spare = spare[:n], spare[n:]
                    item = self.contact_item(sellers)
                step.sellers = sellers
                emails = n if kind == "detect" else 0
                steps.append(await self.step(step, item, range(n), emails))
            if spy is not None:
                spy.stop()
            self.b.keep_profile(spy, sum(s.sent for s in steps[1:]))
            for step in steps:
                if step.mode == "open":
                    await self.shown_placed(step)
                    await self.split(step)
            final_settle_s = await self.settle("the end")
            open_now = await self.client.count_workflows(
                f"TaskQueue = '{self.settings.task_queue}' AND ExecutionStatus = 'Running'"
            )
        data = {s.key: s.json() for s in steps}
        goals = {}
        for kind, goal in P99_GOALS_MS.items():
            p99 = data[f"open_{kind}"]["latency_ms"].get(PLACED, {}).get("p99")
            goals[kind] = {"p99_ms": p99, "goal_ms": goal, "met": p99 is not None and p99 <= goal}
        return {
            "open_cases": count,
            "fill_concurrency": args.fill_concurrency,
            "fill_s": fill.driven.wall_s,
            "fill_per_s": data["fill"]["per_s"],
            "fill_settle_s": fill_settle_s,
            "running_after_fill": running.count,
            "running_at_end": open_now.count,
            "server_rss_mb_after_fill": server_rss,
            "process_rss_mb_at_end": rss_mb(os.getpid()),
            "zones": {"calls allowed now": self.awake_zone, "asleep (the fill)": self.asleep_zone},
            "policy_calling_hours": f"{self.policy.calling_hours.start}-"
            f"{self.policy.calling_hours.end} seller-local (the shipped default policy)",
            "max_rates_per_s": rates,
            "open_duration_s": args.open_duration,
            "steps": data,
            "goals": goals,
            "final_settle_s": final_settle_s,
            "settle_notes": self.settle_notes,
            "emails": self.emails(),
            "emails_expected": self.emails_expected,
        }


async def run_open_cases(b: Bench, target: str) -> dict[str, Any]:
    """The open-cases run on the benchmark's server (`target`), with its own client: one
    whose runtime exports the worker's metrics (sticky cache hits and misses)."""
    port = free_port()
    runtime = Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}"))
    )
    client = await Client.connect(
        target, namespace="default", data_converter=pydantic_data_converter, runtime=runtime
    )
    return await OpenCases(b, client, port).run()


def render(result: dict[str, Any]) -> str:
    steps: dict[str, dict[str, Any]] = result["steps"]
    fill = steps["fill"]
    lines = [
        "",
        f"open cases: {result['open_cases']} cases detected at concurrency "
        f"{result['fill_concurrency']} in {result['fill_s']:.0f}s ({result['fill_per_s']:.1f}/s, "
        f"{fill['errors']} errors), then "
        f"{result['fill_settle_s']:.0f}s until their emails had gone and the worker was idle; "
        f"{result['running_after_fill']} running after the fill, {result['running_at_end']} "
        "at the end",
        f"  sellers of the fill in {result['zones']['asleep (the fill)']}, outside calling "
        f"hours {result['policy_calling_hours']}; new detections for sellers in "
        f"{result['zones']['calls allowed now']}; dev server RSS after the fill "
        + ", ".join(f"{mb:.0f} MB" for mb in result["server_rss_mb_after_fill"] if mb)
        + f", this process {result['process_rss_mb_at_end'] or 0:.0f} MB at the end",
        "",
        f"{'step':<48}{'done':>6}{'err':>5}{'per s':>7}{'p50':>8}{'p90':>8}{'p99':>8}"
        f"{'max':>8}  ms",
    ]
    for step in steps.values():
        for op, stats in step["latency_ms"].items():
            lines.append(
                f"{step['label'] + ': ' + op:<48.48}{step['completed']:>6}{step['errors']:>5}"
                f"{step['per_s']:>7.1f}{stats['p50']:>8.1f}{stats['p90']:>8.1f}"
                f"{stats['p99']:>8.1f}{stats['max']:>8.1f}"
            )
    for step in steps.values():
        parts = step["breakdown_ms"]
        if not parts:
            continue
        names = [k for k in parts if k != "total"]
        lines += [
            "",
            f"where the time goes, {step['label']} (ms, p50 / p99, from {parts['total']['n']} "
            "case histories; sent -> the dialer has the call)",
            "  " + "".join(f"{name:>17}" for name in [*names, "total"]),
            "  "
            + "".join(
                f"{parts[name]['p50']:>8.0f} /{parts[name]['p99']:>6.0f}"
                for name in [*names, "total"]
            ),
        ]
        for rank, one in enumerate(step["slowest_ms"], start=1):
            lines.append(f"  slowest #{rank}: " + ", ".join(f"{k} {v:.0f}" for k, v in one.items()))
    for kind, described in SEGMENTS.items():
        lines += [f"  {kind}: {name}: {text}" for name, text in described.items()]
    lines += [
        "",
        "CPU ms per item (this process / dev server), cores that other processes kept busy "
        "meanwhile, the 1-min load average as the step began (it counts this run's threads "
        "too), and the worker's sticky cache",
    ]
    for step in steps.values():
        cpu = step["cpu_ms_per_item"]
        sticky = ", ".join(
            f"{k.removeprefix('temporal_')} {v:+.0f}" for k, v in step["sticky_cache"].items()
        )
        lines.append(
            f"  {step['label']:<46.46}{cpu.get(PROCESS, 0.0):>7.1f} /{cpu.get(SERVER, 0.0):>6.1f}"
            f"  others {step['others_cores'] or 0.0:>4.2f} cores"
            f"  load {step['load_average_at_start']:>5.2f}" + (f"   {sticky}" if sticky else "")
        )
    lines.append("")
    for step in steps.values():
        if step["mode"] == "open" and step["per_s"] < 0.95 * step["target_rate"]:
            lines.append(
                f"  note: {step['label']} completed {step['per_s']:.1f}/s, behind its schedule: "
                "the rate is above what the worker sustains (a longer --open-probe measures "
                "the maximum better)"
            )
    for kind, goal in result["goals"].items():
        p99 = goal["p99_ms"]
        lines.append(
            f"  goal, {kind} -> call placed p99 at half the maximum rate: "
            + (f"{p99:.0f} ms" if p99 is not None else "n/a")
            + f" (goal <= {goal['goal_ms']:.0f} ms): {'met' if goal['met'] else 'MISSED'}"
        )
    lines += [f"  note: {note}" for note in result["settle_notes"]]
    for step in steps.values():
        lines += [f"  error in {step['label']}: {e}" for e in step["error_samples"]]
    return "\n".join(lines)
