"""structlog for everything, the SDK's and Temporal's own stdlib loggers included."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, Literal

import structlog
import temporalio.activity
import temporalio.workflow

_EMAIL = re.compile(r"[^@\s'\"<>]+@[^@\s'\"<>]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+\d{7,15}|\(\d{3}\)\s?\d{3}-\d{4}")


def _redact(value: str) -> str:
    return _PHONE.sub("+***", _EMAIL.sub("***@***", value))


def redact_personal_data(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A last line of defence: no phone number or email address reaches a log line."""
    return {k: _redact(v) if isinstance(v, str) else v for k, v in event_dict.items()}


def _lift_extra(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    record = event_dict.get("_record")
    if record is not None:
        # workflow.logger puts case context in record.temporal_workflow; keep the useful parts.
        context = getattr(record, "temporal_workflow", None) or {}
        for key in ("workflow_id", "run_id"):
            if key in context:
                event_dict.setdefault(key, context[key])
        for key in ("seller_id", "who"):
            if hasattr(record, key):
                event_dict.setdefault(key, getattr(record, key))
    return event_dict


def configure(log_format: Literal["console", "json"] = "console", level: str = "INFO") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _lift_extra,
        # Tracebacks are rendered first so the redaction sees their text too.
        structlog.processors.format_exc_info,
        redact_personal_data,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The SDK appends its context dict to the message text; _lift_extra makes fields of it.
    temporalio.workflow.logger.workflow_info_on_message = False
    temporalio.activity.logger.activity_info_on_message = False
    # aiosmtpd narrates every SMTP session at INFO.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
