"""`aha callback SELLER --at ISO8601` and `--cancel` as a subprocess over a real case: the
callback is kept by the case, a refusal is one line and exit 1, bad input a usage error."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from tests.conftest import Cases
from tests.test_cli_queue import run, usage_error


async def test_the_seller_schedules_and_cancels_a_callback_from_the_command_line(
    cases: Cases,
) -> None:
    seller_id = cases.new_seller()
    env = {
        "TEMPORAL_ADDRESS": str(cases.client.service_client.config.target_host),
        "AHA_TASK_QUEUE": cases.service.task_queue,
    }

    async def aha(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        proc = await asyncio.to_thread(run, cases.db, *args, **env)
        assert proc.returncode == code, proc.stderr
        assert "Traceback" not in proc.stderr
        return proc

    await aha("detect", seller_id, "--issue-type", "ip_complaint", "--severity", "high")
    now = await cases.now(seller_id)
    at = (now + timedelta(hours=2)).replace(microsecond=0)

    past = await aha("callback", seller_id, "--at", (now - timedelta(hours=1)).isoformat(), code=1)
    assert past.stderr.startswith("aha: at is in the past")
    assert past.stderr.count("\n") == 1

    done = await aha("callback", seller_id, "--at", at.isoformat())
    assert done.stdout.strip() == f"we will call you at {at:%Y-%m-%d %H:%M} UTC"
    later = at + timedelta(hours=1)
    replaced = await aha("callback", seller_id, "--at", later.isoformat(), "--json")
    assert datetime.fromisoformat(json.loads(replaced.stdout)["at"]) == later
    view = await cases.view(seller_id)
    assert view.callback is not None and view.callback.at == later

    cancelled = await aha("callback", seller_id, "--cancel")
    assert cancelled.stdout.strip() == f"callback for {later:%Y-%m-%d %H:%M} UTC cancelled"
    assert (await cases.view(seller_id)).callback is None
    again = await aha("callback", seller_id, "--cancel", code=1)
    assert again.stderr == "aha: no callback is scheduled\n"


def test_bad_callback_input_is_a_usage_error(tmp_path: Path) -> None:
    db = str(tmp_path / "aha.db")
    usage_error(run(db, "callback", "acme"), "one of the arguments --at --cancel is required")
    usage_error(run(db, "callback", "acme", "--at", "2027-01-16T15:00"), "needs a time zone offset")
    usage_error(run(db, "callback", "acme", "--at", "noon"), "is not an ISO 8601 date-time")
    usage_error(
        run(db, "callback", "acme", "--at", "2027-01-16T15:00Z", "--cancel"),
        "not allowed with argument",
    )
