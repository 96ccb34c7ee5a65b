"""`aha seller preferred-windows` as a subprocess over a real case: set, show and clear the
windows; a bad window is a usage error naming it and changes nothing; the open case is told."""

from __future__ import annotations

import asyncio
import json
import subprocess

from tests.conftest import Cases
from tests.test_cli_queue import run, usage_error


async def test_set_show_and_clear_over_a_real_case(cases: Cases) -> None:
    seller = cases.new_seller(timezone="UTC")
    env = {
        "TEMPORAL_ADDRESS": str(cases.client.service_client.config.target_host),
        "AHA_TASK_QUEUE": cases.service.task_queue,
    }

    async def aha(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        proc = await asyncio.to_thread(run, cases.db, "seller", "preferred-windows", *args, **env)
        assert proc.returncode == code, proc.stderr
        assert "Traceback" not in proc.stderr
        return proc

    shown = await aha(seller)
    assert shown.stdout == f"preferred windows of {seller} (UTC): none\n"

    await cases.detect(seller)
    saved = await aha(seller, "--set", "mon=09:00-12:00", "--set", "sat=10:00-11:00,14:00-15:00")
    assert saved.stdout.endswith("mon 09:00-12:00; sat 10:00-11:00, 14:00-15:00\n")
    assert saved.stderr == ""  # the open case was told: no warning
    view = await cases.wait_for(seller, lambda v: v.preferred_windows is not None)
    entry = next(e for e in view.timeline if e.kind == "preferred_windows_updated")
    assert entry.who == "aha CLI"

    data = json.loads((await aha(seller, "--json")).stdout)
    assert data["windows"]["sat"] == ["10:00-11:00", "14:00-15:00"]
    assert data["timezone"] == "UTC"

    usage_error(
        await aha(seller, "--set", "mon=9-12", code=2),
        "argument --set: mon: '9-12' is not a window 'HH:MM-HH:MM'",
    )
    usage_error(
        await aha(seller, "--set", "someday=09:00-12:00", code=2),
        "'someday=09:00-12:00' is not DAY=HH:MM-HH:MM with DAY one of mon, tue",
    )
    usage_error(await aha(seller, "--clear", "--set", "mon=09:00-10:00", code=2), "not allowed")
    overlap = await aha(seller, "--set", "mon=09:00-12:00", "--set", "mon=11:00-13:00", code=1)
    assert overlap.stderr == "aha: mon: preferred windows overlap; give each hour once\n"
    contact = cases.store.get(seller)
    assert contact is not None and contact.preferred_windows is not None
    assert contact.preferred_windows.mon == ("09:00-12:00",)  # nothing changed

    cleared = await aha(seller, "--clear")
    assert cleared.stdout.endswith(": none\n")
    await cases.wait_for(seller, lambda v: v.preferred_windows is None)

    unknown = await aha("nobody", code=1)
    assert unknown.stderr == "aha: unknown seller 'nobody'\n"
