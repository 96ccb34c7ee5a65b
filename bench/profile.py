"""Sampling a benchmark's own process with py-spy, and where the samples fall.

    .venv/bin/python -m bench.profile FILE.collapsed [--top 25] [--json-out FILE]

`PySpy` records this process between `start` and `stop`: at each sample, the Python thread
that holds the GIL, if any (`--gil`: one interpreter runs one thread at a time, so this is
the worker's Python time, and samples / (rate x seconds) is how busy the interpreter was).
Without `--gil`, py-spy here also counts threads blocked in a queue, a select or a socket
read as running. The output is py-spy's raw collapsed stacks (`thread (tid): name;frame;...
count`, full file names, one line number per function). `summarise` groups the samples two
ways:

- by category, from each sample's innermost frame outwards: the first frame that belongs to a
  category decides (standard-library frames other than sqlite3, smtplib, email and logging
  belong to whoever called them). A sample with the sandbox's importer anywhere on its stack
  is a sandbox import, whatever the module being imported runs; one inside the sandbox's
  serialization context (which the SDK enters for every payload) counts as that.
- by function, inclusive: every one of our functions (workflows/, activities/, aha/,
  worker.py) with the share of samples that had it on the stack.

Time outside the GIL is not here: C code that releases it (SQLite running a statement,
socket I/O) and the Rust core's threads, which have no Python frames: bench/cpu.py measures
CPU by thread for those.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from time import perf_counter
from typing import Any

IMPORTS = "sandbox: imports for each new workflow instance"
CONTEXT = "sandbox: serialization context, entered once per payload"
SANDBOX = "SDK: workflow sandbox (runner, restricted-module proxies)"
INSTANCE = "SDK: workflow instance (commands, activations)"
SDK = "SDK: worker, bridge, data converter (Python side)"
CLIENT = "SDK: client calls"
PYDANTIC = "pydantic (de)serialisation and validation"
WORKFLOWS = "our workflow code (workflows/)"
ACTIVITIES = "our activities (activities/)"
SQLITE = "SQLite (directory, delivery ledger)"
EMAIL = "email: rendering, SMTP client, mail catcher"
LOGGING = "logging (structlog, workflow.logger)"
AHA = "our other code (aha/, worker.py)"
BENCH = "the benchmark client (bench/)"
OTHER = "standard library and other (asyncio, threads, ...)"

_STDLIB = sysconfig.get_paths()["stdlib"].rstrip("/") + "/"
_ROOT = str(Path(__file__).resolve().parents[1]) + "/"  # the repository: our code
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*):(?P<line>\d+)\)$")

# (category, path fragments) in the order they are tried for one frame.
_OWNERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (PYDANTIC, ("/pydantic/", "/pydantic_core/", "/temporalio/contrib/pydantic")),
    (SANDBOX, ("/temporalio/worker/workflow_sandbox/",)),
    (INSTANCE, ("/temporalio/worker/_workflow_instance.py", "/temporalio/workflow.py")),
    (CLIENT, ("/temporalio/client.py", "/temporalio/service.py")),
    (SDK, ("/temporalio/",)),
    (LOGGING, ("/structlog/", "/aha/logs.py", f"{_STDLIB}logging/")),
    (
        EMAIL,
        (
            "/aiosmtpd/",
            "/aha/mailcatcher.py",
            "/aha/domain/emails.py",
            "/aha/adapters/smtp.py",
            f"{_STDLIB}email/",
        ),
    ),
    (EMAIL, (f"{_STDLIB}smtplib.py",)),
    (SQLITE, (f"{_ROOT}aha/adapters/sqlite/",)),
    (SQLITE, (f"{_STDLIB}sqlite3/",)),
    (WORKFLOWS, (f"{_ROOT}workflows/",)),
    (ACTIVITIES, (f"{_ROOT}activities/",)),
    (BENCH, (f"{_ROOT}bench/",)),
    (AHA, (f"{_ROOT}aha/", f"{_ROOT}worker.py", f"{_ROOT}api/")),
)
_OURS = tuple(f"{_ROOT}{p}" for p in ("workflows/", "activities/", "aha/", "api/", "worker.py"))
# The SDK asks the workflow's sandbox for a serialization context for every payload it
# encodes or decodes (search attributes, summaries, arguments, results, details).
_CONTEXT_FRAMES = ("_Instance.get_serialization_context", "_Instance.get_external_store_context")


def category_of_frame(path: str) -> str | None:
    for category, fragments in _OWNERS:
        if any(fragment in path for fragment in fragments):
            return category
    if path.startswith(_STDLIB) and "site-packages" not in path:
        return None  # the standard library belongs to whoever called it
    return OTHER


def _parse(line: str) -> tuple[str, list[tuple[str, str]], int] | None:
    head, _, count = line.rstrip("\n").rpartition(" ")
    if not head or not count.isdigit():
        return None
    thread, *frames = head.split(";")
    parsed = []
    for frame in frames:
        match = _FRAME.match(frame)
        if match:
            parsed.append((match["function"], match["file"]))
        else:
            parsed.append((frame, ""))
    return thread, parsed, int(count)


def thread_group(thread: str) -> str:
    """`thread (0x..): temporal_workflow_3` -> workflow tasks, and so on (bench/cpu.py)."""
    from bench.cpu import (
        ACTIVITY_THREADS,
        EVENT_LOOP,
        OTHER_PYTHON,
        WORKFLOW_THREADS,
        thread_role,
    )

    name = thread.split(": ", 1)[1] if ": " in thread else thread
    role = thread_role(name, None, None)
    return role if role in (WORKFLOW_THREADS, EVENT_LOOP, ACTIVITY_THREADS) else OTHER_PYTHON


def short(path: str) -> str:
    """The path from the package root: .../site-packages/temporalio/x.py -> temporalio/x.py."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    return path.removeprefix(_ROOT).removeprefix(_STDLIB)


def summarise(path: Path, top: int = 25) -> dict[str, Any]:
    categories: Counter[str] = Counter()
    by_thread: dict[str, Counter[str]] = defaultdict(Counter)
    pydantic_callers: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    everything: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        parsed = _parse(line)
        if parsed is None:
            continue
        thread, frames, count = parsed
        total += count
        group = thread_group(thread)
        threads[group] += count
        if any(function in _CONTEXT_FRAMES for function, _ in frames):
            category = CONTEXT
        elif any("/workflow_sandbox/_importer.py" in file for _, file in frames):
            category = IMPORTS
        else:
            category = OTHER
            owners = [category_of_frame(file) for _, file in reversed(frames)]
            found = [owner for owner in owners if owner is not None]
            if found:
                category = found[0]
                if category == PYDANTIC:
                    caller = next((o for o in found if o != PYDANTIC), OTHER)
                    pydantic_callers[caller] += count
        categories[category] += count
        by_thread[group][category] += count
        if frames:
            function, file = frames[-1]
            leaves[f"{short(file)}:{function}"] += count
        seen = set()
        for function, file in frames:
            name = f"{short(file)}:{function}"
            if name in seen:
                continue
            seen.add(name)
            everything[name] += count
            if file.startswith(_OURS):
                inclusive[name] += count

    def shares(counter: Counter[str], limit: int | None = None) -> list[dict[str, Any]]:
        return [
            {"name": name, "samples": n, "share": n / total if total else 0.0}
            for name, n in counter.most_common(limit)
        ]

    return {
        "file": str(path),
        "samples": total,
        "threads": shares(threads),
        "categories": shares(categories),
        "categories_by_thread": {t: shares(c) for t, c in by_thread.items()},
        "pydantic_by_caller": shares(pydantic_callers),
        "hottest_leaf_functions": shares(leaves, top),
        "our_functions_inclusive": shares(inclusive, top),
        # Below the event loop and thread roots (on more than 60% of the stacks).
        "all_functions_inclusive": [
            row for row in shares(everything, top * 3) if row["share"] < 0.6
        ][:top],
    }


def render(summary: dict[str, Any]) -> str:
    lines = [f"{summary['file']}: {summary['samples']} samples of the thread holding the GIL"]
    if summary.get("gil_busy") is not None:
        lines[0] += (
            f", {summary['seconds']:.1f}s at {summary['rate']}/s: the GIL was held "
            f"{summary['gil_busy']:.0%} of the time"
        )

    def block(title: str, rows: list[dict[str, Any]]) -> None:
        lines.extend(["", title])
        lines.extend(f"  {row['share']:>6.1%}  {row['name']}" for row in rows)

    block("by thread (GIL held)", summary["threads"])
    block("by category (innermost owning frame)", summary["categories"])
    for thread, rows in summary["categories_by_thread"].items():
        block(f"  {thread}", rows[:8])
    block("pydantic, by the code that called it", summary["pydantic_by_caller"])
    block("hottest functions (self time)", summary["hottest_leaf_functions"])
    block("our functions (inclusive: on the stack)", summary["our_functions_inclusive"])
    block("any functions (inclusive), below the loop's roots", summary["all_functions_inclusive"])
    return "\n".join(lines)


def py_spy_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "py-spy"
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


class PySpy:
    """py-spy sampling this process into `out_dir/name.collapsed` from `start` to `stop`."""

    def __init__(self, out_dir: Path, name: str, rate: int = 100) -> None:
        binary = py_spy_binary()
        if binary is None:
            raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
        out_dir.mkdir(parents=True, exist_ok=True)
        self.output = out_dir / f"{name}.collapsed"
        self.log = out_dir / f"{name}.py-spy.log"
        self.command = [
            binary, "record", "--pid", str(os.getpid()), "--rate", str(rate), "--gil",
            "--format", "raw", "--full-filenames", "--function", "--threads",
            "--output", str(self.output),
        ]  # fmt: skip
        self.rate = rate
        self.process: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self.seconds = 0.0

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        self._started = perf_counter()

    def stop(self) -> Path:
        assert self.process is not None
        self.seconds = perf_counter() - self._started
        self.process.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        self.process.wait(timeout=60)
        return self.output


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("collapsed", type=Path, help="py-spy raw output (--format raw)")
    parser.add_argument("--top", type=int, default=25, help="functions listed (25)")
    parser.add_argument("--json-out", type=Path, help="also write the summary as JSON here")
    args = parser.parse_args(argv)
    summary = summarise(args.collapsed, args.top)
    print(render(summary))
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
