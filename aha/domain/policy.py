"""The case policy: deadlines, calling hours and retry spacing, loaded from TOML."""

from __future__ import annotations

import re
import tomllib
from datetime import time, timedelta
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

_DURATION_PART = re.compile(r"(\d+)([dhms])")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the key and the reason."""


def parse_duration(text: str) -> timedelta:
    """Parse "72h", "90m", "15s", "1d", or combinations such as "1h30m"."""
    cleaned = text.strip().lower()
    if not cleaned or _DURATION_PART.sub("", cleaned):
        raise ValueError(f"{text!r} is not a duration like '72h', '90m' or '15s'")
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(cleaned))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    parts: list[str] = []
    for unit in ("h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)


def _duration(value: Any) -> Any:
    # ISO 8601 ("PT15M") is how pydantic serialises a timedelta when a case records its policy.
    if isinstance(value, str) and not value.startswith("P"):
        return parse_duration(value)
    if isinstance(value, int | float):
        # A bare 72 would otherwise be read as 72 seconds.
        raise ValueError(f"{value!r} needs a unit: durations are strings like '72h' or '15m'")
    return value


def _clock(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    match = re.fullmatch(r"(\d{2}):(\d{2})", value.strip())
    if (
        not match
        or int(match[1]) > 24
        or int(match[2]) > 59
        or (match[1] == "24" and match[2] != "00")
    ):
        raise ValueError(f"{value!r} is not a time of day 'HH:MM' (00:00 to 24:00)")
    return value.strip()


class CallingHours(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    start: str = "08:00"
    end: str = "21:00"

    _check = field_validator("start", "end", mode="before")(_clock)

    @model_validator(mode="after")
    def start_before_end(self) -> CallingHours:
        if self.start_minutes >= self.end_minutes:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self

    @property
    def start_minutes(self) -> int:
        hours, minutes = self.start.split(":")
        return int(hours) * 60 + int(minutes)

    @property
    def end_minutes(self) -> int:
        hours, minutes = self.end.split(":")
        return int(hours) * 60 + int(minutes)

    @property
    def start_time(self) -> time:
        return time(self.start_minutes // 60, self.start_minutes % 60)


class CallRetryAfter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    no_answer: timedelta = timedelta(hours=3)
    busy: timedelta = timedelta(minutes=20)
    voicemail: timedelta = timedelta(hours=24)

    _check = field_validator("no_answer", "busy", "voicemail", mode="before")(_duration)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    deadline: timedelta = timedelta(hours=72)
    call_report_timeout: timedelta = timedelta(minutes=15)
    max_call_attempts_per_day: StrictInt = Field(default=4, ge=1, le=48)
    reminders_before_deadline: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=4))
    immediate_deactivation_issue_types: tuple[str, ...] = (
        "fraud",
        "deception",
        "illegal_activity",
    )
    calling_hours: CallingHours = CallingHours()
    call_retry_after: CallRetryAfter = CallRetryAfter()
    # How long a notice that carries consequences keeps being retried through a mail outage.
    notice_give_up: timedelta = timedelta(days=7)

    @field_validator("deadline", "call_report_timeout", "notice_give_up", mode="before")
    @classmethod
    def _parse_duration(cls, value: Any) -> Any:
        return _duration(value)

    @field_validator("reminders_before_deadline", mode="before")
    @classmethod
    def _parse_reminders(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(_duration(item) for item in value)
        return value

    @model_validator(mode="after")
    def _positive(self) -> Policy:
        durations = {
            "deadline": self.deadline,
            "call_report_timeout": self.call_report_timeout,
            "call_retry_after.no_answer": self.call_retry_after.no_answer,
            "call_retry_after.busy": self.call_retry_after.busy,
            "call_retry_after.voicemail": self.call_retry_after.voicemail,
            "notice_give_up": self.notice_give_up,
        }
        for key, value in durations.items():
            if value <= timedelta(0):
                raise ValueError(f"{key} must be longer than zero")
        for reminder in self.reminders_before_deadline:
            if not timedelta(0) < reminder < self.deadline:
                raise ValueError(
                    "reminders_before_deadline entries must be between zero and the deadline"
                )
        return self


def parse_policy(text: str, source: str = "policy") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PolicyError(f"{source}: not valid TOML: {err}") from err
    try:
        return Policy.model_validate(data)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            key = ".".join(str(part) for part in error["loc"]) or "(policy)"
            reason = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                reason = "unknown key"
            problems.append(f"{key}: {reason}")
        raise PolicyError(f"{source}: " + "; ".join(problems)) from err
