"""The case policy: deadlines, calling hours and retry spacing, loaded from TOML."""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"(\d{2}:\d{2})-(\d{2}:\d{2})")


def checked_windows(value: Any) -> Any:
    if not isinstance(value, list | tuple):
        return value
    windows = []
    for item in value:
        match = _WINDOW.fullmatch(item.strip()) if isinstance(item, str) else None
        if match is None:
            raise ValueError(f"{item!r} is not a window 'HH:MM-HH:MM'")
        start, end = _clock(match[1]), _clock(match[2])
        if start >= end:
            raise ValueError(f"window {item!r} must start before it ends")
        windows.append(f"{start}-{end}")
    return tuple(windows)


class SpecialistHours(BaseModel):
    """When the specialists work: a time zone and each weekday's windows ("09:00-17:00");
    a day left empty is a day off. Plan reviews are timed in these hours only."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    timezone: str = "UTC"
    mon: tuple[str, ...] = ("09:00-17:00",)
    tue: tuple[str, ...] = ("09:00-17:00",)
    wed: tuple[str, ...] = ("09:00-17:00",)
    thu: tuple[str, ...] = ("09:00-17:00",)
    fri: tuple[str, ...] = ("09:00-17:00",)
    sat: tuple[str, ...] = ()
    sun: tuple[str, ...] = ()

    _check = field_validator(*WEEKDAYS, mode="before")(checked_windows)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone, e.g. Europe/Dublin") from None
        return value

    @model_validator(mode="after")
    def _some_hours(self) -> SpecialistHours:
        if not any(getattr(self, day) for day in WEEKDAYS):
            raise ValueError("at least one weekday needs working hours")
        _refuse_overlaps(self, "working")
        return self

    def windows(self, weekday: int) -> list[tuple[int, int]]:
        """The day's windows (Monday is 0) as minutes from local midnight."""
        return window_spans(getattr(self, WEEKDAYS[weekday]))


def window_spans(windows: tuple[str, ...]) -> list[tuple[int, int]]:
    spans = []
    for window in windows:
        start, end = window.split("-")
        spans.append((_minutes(start), _minutes(end)))
    return spans


def _refuse_overlaps(week: BaseModel, what: str) -> None:
    for day in WEEKDAYS:
        spans = sorted(window_spans(getattr(week, day)))
        for (_, ends), (starts, _) in pairwise(spans):
            if starts < ends:
                raise ValueError(f"{day}: {what} windows overlap; give each hour once")


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


# A marketplace code, as the service accepts it in filters (e.g. US, CA, UK).
MARKETPLACE_PATTERN = r"^[A-Za-z]{2,8}$"


def _holidays(value: Any) -> Any:
    if not isinstance(value, list | tuple):
        return value
    days = []
    for item in value:
        # TOML has dates of its own (holidays = [2026-12-25]); a datetime is not a day.
        if isinstance(item, date) and not isinstance(item, datetime):
            days.append(item)
            continue
        try:
            if not isinstance(item, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", item.strip()):
                raise ValueError
            days.append(date.fromisoformat(item.strip()))
        except ValueError:
            raise ValueError(f"{item!r} is not a date 'YYYY-MM-DD'") from None
    return tuple(days)


class WeeklyWindows(BaseModel):
    """Seller-local "HH:MM-HH:MM" windows per weekday, `mon` ... `sun`; a day left out has none."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mon: tuple[str, ...] = ()
    tue: tuple[str, ...] = ()
    wed: tuple[str, ...] = ()
    thu: tuple[str, ...] = ()
    fri: tuple[str, ...] = ()
    sat: tuple[str, ...] = ()
    sun: tuple[str, ...] = ()

    _check = field_validator(*WEEKDAYS, mode="before")(checked_windows)

    def windows_on(self, day: date) -> list[tuple[int, int]]:
        """The local day's windows as minutes from local midnight."""
        return sorted(window_spans(getattr(self, WEEKDAYS[day.weekday()])))


class CallingCalendar(WeeklyWindows):
    """One marketplace's proactive calling days, in the seller's local time: each weekday's
    windows ("09:00-21:30"); a weekday left out, or a holiday, has no proactive calls."""

    holidays: tuple[date, ...] = ()

    _check_holidays = field_validator("holidays", mode="before")(_holidays)

    @model_validator(mode="after")
    def _no_overlaps(self) -> CallingCalendar:
        if not any(getattr(self, day) for day in WEEKDAYS):
            raise ValueError("at least one weekday needs calling windows")
        _refuse_overlaps(self, "calling")
        return self

    def windows_on(self, day: date) -> list[tuple[int, int]]:
        """The local day's windows as minutes from local midnight; none on a holiday."""
        return [] if day in self.holidays else super().windows_on(day)


class SlaTargets(BaseModel):
    """Internal service targets (they never move the 72-hour deadline). A target left out is
    not tracked. `warn_at` is the share of each target's allowed time at which its owner is
    warned; at the target itself the supervisors are told."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # From the case's opening to its first dialled call, counted in the seller's calling hours
    # (the calendar of the seller's marketplace, for cases of the calendar edition).
    first_attempt_within: timedelta | None = None
    # The seller should be reached at least this long before the deactivation deadline.
    reached_by_before_deadline: timedelta | None = None
    # From a plan's submission to its review, counted in `[specialist_hours]`.
    plan_review_within: timedelta | None = None
    warn_at: float = Field(default=0.5, gt=0, lt=1)

    _check = field_validator(
        "first_attempt_within", "reached_by_before_deadline", "plan_review_within", mode="before"
    )(_duration)

    @model_validator(mode="after")
    def _positive(self) -> SlaTargets:
        for key in ("first_attempt_within", "reached_by_before_deadline", "plan_review_within"):
            value = getattr(self, key)
            if value is not None and value <= timedelta(0):
                raise ValueError(f"{key} must be longer than zero")
        return self

    @property
    def any(self) -> bool:
        return any(
            t is not None
            for t in (
                self.first_attempt_within,
                self.reached_by_before_deadline,
                self.plan_review_within,
            )
        )


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
    # Per marketplace code (upper case); a marketplace without one calls in `calling_hours`.
    calling_calendar: dict[str, CallingCalendar] = {}
    call_retry_after: CallRetryAfter = CallRetryAfter()
    # How long a notice that carries consequences keeps being retried through a mail outage.
    notice_give_up: timedelta = timedelta(days=7)
    sla: SlaTargets = SlaTargets()
    specialist_hours: SpecialistHours = SpecialistHours()
    # The most a supervisor may move one issue's deadline past its original, in total.
    # Absent, no extension is allowed: granting time is a policy decision, never a default.
    max_extension: timedelta = timedelta(0)
    # "resolution": every issue must be resolved by its deadline. "contact": reaching the
    # seller before the deadline lifts it and starts `resolution_window` for the plan; the
    # seller must keep engaging (no gap longer than `engagement_timeout`).
    deadline_applies_to: Literal["resolution", "contact"] = "resolution"
    resolution_window: timedelta | None = None
    engagement_timeout: timedelta = timedelta(hours=72)
    # How long after its deactivation a case may be appealed. None: not set in this policy
    # (a case recorded before the key existed); aha.domain.appeals says what then applies.
    appeal_window: timedelta | None = None
    # A proactive call waits for the seller's preferred contact windows (inside the calendar)
    # only while more than this remains before the earliest open deadline.
    preferred_windows_until: timedelta = timedelta(hours=24)

    @field_validator(
        "deadline",
        "call_report_timeout",
        "notice_give_up",
        "max_extension",
        "resolution_window",
        "engagement_timeout",
        "appeal_window",
        "preferred_windows_until",
        mode="before",
    )
    @classmethod
    def _parse_duration(cls, value: Any) -> Any:
        return _duration(value)

    @field_validator("reminders_before_deadline", mode="before")
    @classmethod
    def _parse_reminders(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(_duration(item) for item in value)
        return value

    @field_validator("calling_calendar", mode="before")
    @classmethod
    def _marketplace_codes(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        calendars: dict[str, Any] = {}
        for code, calendar in value.items():
            if not isinstance(code, str) or not re.fullmatch(MARKETPLACE_PATTERN, code):
                raise ValueError(f"{code!r} is not a marketplace code of 2 to 8 letters, e.g. CA")
            if code.upper() in calendars:
                raise ValueError(f"{code!r}: marketplace {code.upper()} has two calendars")
            calendars[code.upper()] = calendar
        return calendars

    def calendar_for(self, marketplace: str) -> CallingCalendar | None:
        return self.calling_calendar.get(marketplace.upper())

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
        durations["engagement_timeout"] = self.engagement_timeout
        if self.resolution_window is not None:
            durations["resolution_window"] = self.resolution_window
        if self.appeal_window is not None:
            durations["appeal_window"] = self.appeal_window
        for key, value in durations.items():
            if value <= timedelta(0):
                raise ValueError(f"{key} must be longer than zero")
        if self.max_extension < timedelta(0):
            raise ValueError("max_extension cannot be negative")
        if self.preferred_windows_until < timedelta(0):
            raise ValueError("preferred_windows_until cannot be negative")
        if self.deadline_applies_to == "contact" and self.resolution_window is None:
            raise ValueError(
                "resolution_window is required when deadline_applies_to is 'contact' "
                '(e.g. resolution_window = "14d")'
            )
        reach_by = self.sla.reached_by_before_deadline
        if reach_by is not None and reach_by >= self.deadline:
            raise ValueError(
                "sla.reached_by_before_deadline must be shorter than the deadline "
                f"({format_duration(self.deadline)})"
            )
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
