"""`aha extend` as a subprocess over a real case: a supervisor moves a deadline, with the
tokens file deciding who is one; a refusal is one line and exit 1."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import ALWAYS_CALLABLE
from tests.test_cli_queue import TOKENS, run


async def test_a_supervisor_extends_a_deadline_from_the_command_line(
    cases_with: Callable[[str], Any], tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(TOKENS, encoding="utf-8")
    async with cases_with('max_extension = "72h"\n' + ALWAYS_CALLABLE) as cases:
        seller_id = cases.new_seller()
        env = {
            "TEMPORAL_ADDRESS": str(cases.client.service_client.config.target_host),
            "AHA_TASK_QUEUE": cases.service.task_queue,
            "AHA_API_TOKENS": str(tokens),
        }

        async def aha(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
            proc = await asyncio.to_thread(run, cases.db, *args, **env)
            assert proc.returncode == code, proc.stderr
            assert "Traceback" not in proc.stderr
            return proc

        await aha("detect", seller_id, "--issue-type", "ip_complaint", "--severity", "high")
        original = (await cases.view(seller_id)).issues[0].deadline
        until = original + timedelta(hours=12)
        iso = until.isoformat()

        refused = await aha(
            "extend", seller_id, "--issue", "I1", "--until",
            (original + timedelta(hours=80)).isoformat(), "--reason", "r", "--as", "lee",
            code=1,
        )  # fmt: skip
        assert refused.stderr.startswith("aha: until is 80h past the original deadline")
        assert refused.stderr.count("\n") == 1

        done = await aha(
            "extend", seller_id, "--issue", "I1", "--until", iso, "--reason", "fair", "--as",
            "lee", "--json",
        )  # fmt: skip
        issue = json.loads(done.stdout)
        assert datetime.fromisoformat(issue["deadline"]) == until
        assert issue["extensions"][0]["by"] == "cli:lee"
        view = await cases.view(seller_id)
        assert view.deadline == until
        entry = next(e for e in view.timeline if e.kind == "deadline_extended")
        assert entry.who == "cli:lee" and entry.detail.endswith(": fair")
