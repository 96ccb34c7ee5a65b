"""`make run` is `aha dev`: the whole stack comes up on 127.0.0.1, demo cases move, and
Ctrl-C takes every child process down with it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from temporalio.client import Client, ScheduleDescription

from aha.adapters.temporal.schedule import SCHEDULE_ID
from api.auth import token_for
from tests.conftest import free_port

AHA = [sys.executable, "-m", "aha.cli"]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def test_dev_stack_runs_the_demo_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    temporal, ui, smtp, api = free_port(), free_port(), free_port(), free_port()
    data = tmp_path / "data"
    env = {
        **{k: v for k, v in os.environ.items() if k != "AHA_API_TOKENS"},
        "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal}",
        "AHA_DB": str(data / "aha.db"),
    }
    log = open(tmp_path / "dev.log", "w")  # noqa: SIM115
    dev = subprocess.Popen(
        [
            *AHA,
            "dev",
            "--data-dir",
            str(data),
            "--dialer",
            "manual",
            "--temporal-port",
            str(temporal),
            "--ui-port",
            str(ui),
            "--smtp-port",
            str(smtp),
            "--api-port",
            str(api),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        # A shell set up for production: the dev stack still talks plainly to its own server.
        env=env | {"TEMPORAL_API_KEY": "a-production-key", "TEMPORAL_TLS": "true"},
    )
    try:
        _wait(lambda: "aha dev is up" in (tmp_path / "dev.log").read_text(), 90, "the stack")
        with urllib.request.urlopen(f"http://127.0.0.1:{ui}/", timeout=10) as page:
            assert page.status == 200, "the Temporal UI answers"

        def demo_case_listed() -> bool:
            out = subprocess.run(
                [*AHA, "list", "--json"], env=env, capture_output=True, text=True, timeout=60
            )
            return out.returncode == 0 and any(
                (c["seller_id"] or "").startswith("demo-") for c in json.loads(out.stdout)
            )

        _wait(demo_case_listed, 60, "a demo case in the list")
        _wait(lambda: any((data / "outbox").glob("*.eml")), 30, "the first demo email")
        shown = subprocess.run(
            [*AHA, "seller", "show", "demo-maple-goods", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        seller = json.loads(shown.stdout)
        assert seller["timezone"] == "America/Toronto"
        assert seller["enrollment"]["state"] == "enrolled", "the demo ran the enrolment sweep"
        _check_api(api, data / "api-tokens.toml")
        schedule = asyncio.run(_describe_schedule(f"127.0.0.1:{temporal}"))
        assert schedule.schedule.spec.calendars, "aha-enrollment-daily runs on a calendar"
    finally:
        dev.send_signal(signal.SIGINT)
        code = dev.wait(timeout=30)
        log.close()
    assert code == 0, (tmp_path / "dev.log").read_text()[-2000:]
    assert not _listening(temporal), "the Temporal dev server stopped with aha dev"
    assert not _listening(ui) and not _listening(smtp) and not _listening(api)
    assert (data / "temporal.db").exists(), "Temporal keeps its state under the data dir"


def _check_api(port: int, tokens_file: Path) -> None:
    """The API is up beside the stack, and a demo seller's token from the dev tokens file
    reads that seller's case."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as ready:
        assert json.load(ready)["status"] == "ready"
    token = token_for(tokens_file, "seller:demo-maple-goods")
    assert token, "aha dev wrote a token for each demo seller"

    def case_readable() -> bool:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/sellers/demo-maple-goods/case",
            headers={"Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return bool(json.load(answer)["seller_id"] == "demo-maple-goods")
        except urllib.error.HTTPError as err:
            assert err.code == 404, f"only 'no case yet' is expected, got {err.code}"
            return False

    _wait(case_readable, 60, "the demo seller's case through the API")


async def _describe_schedule(address: str) -> ScheduleDescription:
    client = await Client.connect(address)
    return await client.get_schedule_handle(SCHEDULE_ID).describe()
