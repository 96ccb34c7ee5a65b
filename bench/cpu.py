"""CPU time and memory by process and by thread, from /proc (Linux only; None elsewhere)."""

from __future__ import annotations

import os
import resource
import threading
from collections import defaultdict
from pathlib import Path

# Python names of the threads in a worker process, and what runs on each (see thread_roles).
WORKFLOW_THREADS = "workflow tasks"
EVENT_LOOP = "event loop"
ACTIVITY_THREADS = "activity threads"
SMTP_THREAD = "SMTP catcher"
OTHER_PYTHON = "other Python threads"
NATIVE_THREADS = "SDK core (Rust threads)"

THREAD_ROLES = {
    WORKFLOW_THREADS: "sandboxed workflow code, the SDK's workflow instance, payload conversion",
    EVENT_LOOP: "the SDK worker's Python side, async activities (dial), client calls, bench",
    ACTIVITY_THREADS: "sync activities: policy, profile, emails (SQLite, SMTP client), seal",
    SMTP_THREAD: "the in-process mail catcher (aiosmtpd), the server side of every email",
    OTHER_PYTHON: "any other Python thread",
    NATIVE_THREADS: "threads without Python: Temporal's Rust core (gRPC, state machines)",
}


def _processes() -> tuple[dict[int, list[int]], dict[int, int], dict[int, str]] | None:
    """Children by parent, CPU ticks and command name of every process."""
    try:
        entries = [e.name for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        return None
    children: dict[int, list[int]] = defaultdict(list)
    ticks: dict[int, int] = {}
    names: dict[int, str] = {}
    for name in entries:
        try:
            text = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue  # gone since the listing
        fields = text[text.rindex(")") + 2 :].split()
        pid = int(name)
        children[int(fields[1])].append(pid)
        ticks[pid] = int(fields[11]) + int(fields[12])
        names[pid] = text[text.index("(") + 1 : text.rindex(")")]
    return children, ticks, names


def tree_cpu_seconds(roots: dict[str, int]) -> dict[str, float] | None:
    """User + system CPU seconds of each root process and its descendants."""
    found = _processes()
    if found is None:
        return None
    children, ticks, _ = found
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    result: dict[str, float] = {}
    for label, root in roots.items():
        total, stack = 0, [root]
        while stack:
            pid = stack.pop()
            total += ticks.get(pid, 0)
            stack.extend(children.get(pid, ()))
        result[label] = total / ticks_per_s
    return result


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread, the SDK's Rust ones too
    return usage.ru_utime + usage.ru_stime


def child_pids(name: str) -> list[int]:
    """This process's descendants called `name` (e.g. the dev server, `temporal`)."""
    found = _processes()
    if found is None:
        return []
    children, _, names = found
    result, stack = [], list(children.get(os.getpid(), ()))
    while stack:
        pid = stack.pop()
        if names.get(pid) == name:
            result.append(pid)
        stack.extend(children.get(pid, ()))
    return result


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def thread_role(name: str, smtp_ident: int | None, native_id: int | None) -> str:
    if name.startswith("temporal_workflow_"):
        return WORKFLOW_THREADS
    if name == "MainThread":
        return EVENT_LOOP
    if name.startswith("ThreadPoolExecutor"):
        return ACTIVITY_THREADS
    if smtp_ident is not None and native_id == smtp_ident:
        return SMTP_THREAD
    return OTHER_PYTHON


def thread_cpu_seconds(smtp_native_id: int | None = None) -> dict[str, float] | None:
    """CPU seconds of this process's threads so far, summed by role (THREAD_ROLES).

    Threads that ended are missing: only compare two readings of long-lived thread pools.
    """
    python_threads = {t.native_id: t.name for t in threading.enumerate() if t.native_id}
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = defaultdict(float)
    try:
        tasks = list(os.scandir("/proc/self/task"))
    except OSError:
        return None
    for task in tasks:
        try:
            text = Path(task.path, "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        tid = int(task.name)
        name = python_threads.get(tid)
        role = NATIVE_THREADS if name is None else thread_role(name, smtp_native_id, tid)
        totals[role] += (int(fields[11]) + int(fields[12])) / ticks_per_s
    return dict(totals)


SERVER = "Temporal dev server (its own process)"
PROCESS = "this process, all threads"
MACHINE = "the whole machine, every process"


def machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def others_cores(spent: dict[str, float], wall_s: float) -> float | None:
    """Cores that processes other than this one and its dev server kept busy meanwhile."""
    if MACHINE not in spent or wall_s <= 0:
        return None
    ours = spent.get(PROCESS, 0.0) + spent.get(SERVER, 0.0)
    return max(0.0, spent[MACHINE] - ours) / wall_s


class Meter:
    """Reads CPU seconds of this process (by thread role) and of the dev server, at once."""

    def __init__(self, smtp_native_id: int | None = None, server_pids: list[int] | None = None):
        self.smtp_native_id = smtp_native_id
        self.server_pids = server_pids if server_pids is not None else child_pids("temporal")

    def read(self) -> dict[str, float]:
        reading = {PROCESS: own_cpu_seconds()}
        threads = thread_cpu_seconds(self.smtp_native_id)
        if threads is not None:
            reading |= threads
        servers = tree_cpu_seconds({str(pid): pid for pid in self.server_pids})
        if servers is not None and self.server_pids:
            reading[SERVER] = sum(servers.values())
        machine = machine_busy_seconds()
        if machine is not None:
            reading[MACHINE] = machine
        return reading

    @staticmethod
    def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {key: after[key] - before.get(key, 0.0) for key in after}
