"""One fault run with every fault at once, for the README's figure:
`python -m tests.fault_run [--per-kind 20] [--kills 15] [--outage 60] [--json-out FILE]`.

Two `aha worker` processes, a dev server on a persisted database and a real SMTP server;
cases of every kind open over the first 30 s. Meanwhile a worker is `kill -9`ed and
restarted every 5 s, the mail server goes away for `--outage` seconds, and the Temporal
server is `kill -9`ed and restarted on its database. Then every case is checked as the fault
tests check it, and the totals are printed as a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.fault_cases import check_cases, every, fault_stack, run_cases, settle, worker_killer

SERVER_DOWN = 5.0


async def fault_run(per_kind: int, kills: int, outage: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        async with fault_stack(Path(tmp), deadline="60s", reminder="25s") as stack:

            async def mail_outage() -> None:
                await asyncio.sleep(20.0)
                stack.mail.stop()
                await asyncio.sleep(outage)
                stack.mail.start()

            async def server_crash() -> None:
                await asyncio.sleep(45.0)
                stack.server.kill()
                await asyncio.sleep(SERVER_DOWN)
                await stack.server.restart()

            started = time.monotonic()
            faults = [asyncio.create_task(mail_outage()), asyncio.create_task(server_crash())]
            async with every(5.0, worker_killer(stack), times=kills) as kill_times:
                kinds = await run_cases(stack, per_kind, spread=30.0, timeout=400.0)
            await asyncio.gather(*faults)
            views = await settle(stack, kinds, timeout=300.0)
            found = check_cases(
                stack, [(k, views[s]) for s, k in kinds.items()], late_by=timedelta(seconds=60)
            )
            return {
                "worker_kills": len(kill_times),
                "server_restarts": 1,
                "server_down_s": SERVER_DOWN,
                "mail_outage_s": outage,
                "wall_s": round(time.monotonic() - started, 1),
                **found.summary(),
                "problems": found.problems[:20],
            }


ROWS = [
    ("cases (every kind)", "cases"),
    ("worker `kill -9` (and restart)", "worker_kills"),
    ("Temporal server `kill -9` and restart", "server_restarts"),
    ("mail outage (s)", "mail_outage_s"),
    ("emails delivered", "emails"),
    ("duplicates (same Message-ID twice)", "duplicates"),
    ("lost (decided, never delivered)", "lost"),
    ("cases with emails out of order", "out_of_order"),
    ("stale emails sent after the end", "stale_sent"),
    ("reminders dropped as stale", "dropped_as_stale"),
    ("calls dialled after closure", "calls_after_closure"),
    ("attempts dialled twice", "attempts_dialled_twice"),
    ("deactivation lateness p50 / p99 (s)", "lateness"),
    ("call shown after its dial, p99 (s)", "call_shown_after_dial_p99_s"),
]


def table(result: dict[str, Any]) -> str:
    lines = ["| | value |", "|---|---:|"]
    for label, key in ROWS:
        if key == "lateness":
            value = (
                f"{result['deactivation_lateness_p50_s']} / {result['deactivation_lateness_p99_s']}"
            )
        else:
            value = str(result[key])
        lines.append(f"| {label} | {value} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-kind", type=int, default=20)
    parser.add_argument("--kills", type=int, default=15)
    parser.add_argument("--outage", type=float, default=60.0)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    result = asyncio.run(fault_run(args.per_kind, args.kills, args.outage))
    print(table(result))
    if result["problems"]:
        print("\nproblems:\n" + "\n".join(result["problems"]))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
