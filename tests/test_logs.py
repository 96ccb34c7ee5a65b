"""Logs are structlog JSON on request, and never carry a phone number or an email address."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from aha.logs import configure


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.usefixtures("restore_logging")
def test_json_logs_redact_personal_data(capsys: pytest.CaptureFixture[str]) -> None:
    configure("json")
    structlog.get_logger("aha.test").info(
        "calling +12125550123 for ops@acme.example", seller_id="acme", note="+14155550199"
    )
    logging.getLogger("temporalio.test").warning("stdlib line about ops@acme.example")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["event"] for line in lines] == [
        "calling +*** for ***@***",
        "stdlib line about ***@***",
    ]
    assert lines[0]["seller_id"] == "acme" and lines[0]["note"] == "+***"
    assert all(line["timestamp"].endswith("Z") for line in lines)
