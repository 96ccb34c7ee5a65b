"""The case policy: durations, calling hours, validation messages and the shipped default."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from aha.domain.policy import (
    CallingHours,
    Policy,
    PolicyError,
    SlaTargets,
    format_duration,
    parse_duration,
    parse_policy,
)
from aha.policy_file import default_policy_text, load_policy

# --- parse_duration / format_duration -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("72h", timedelta(hours=72)),
        ("90m", timedelta(minutes=90)),
        ("15s", timedelta(seconds=15)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d", timedelta(days=1)),
        ("2d12h", timedelta(days=2, hours=12)),
        ("1h1m1s", timedelta(seconds=3661)),
        (" 3H ", timedelta(hours=3)),
    ],
)
def test_parse_duration_accepts_unit_suffixed_amounts(text: str, value: timedelta) -> None:
    assert parse_duration(text) == value


@pytest.mark.parametrize(
    "text",
    ["", "   ", "72", "h", "1.5h", "-3h", "3 hours", "1h 30m", "3w", "PT15M", "72h!"],
)
def test_parse_duration_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration like '72h', '90m' or '15s'"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(hours=72), "72h"),
        (timedelta(days=1), "24h"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(minutes=20), "20m"),
        (timedelta(seconds=15), "15s"),
        (timedelta(seconds=3661), "1h1m1s"),
        (timedelta(seconds=3601), "1h1s"),
        (timedelta(0), "0s"),
    ],
)
def test_format_duration_uses_hours_minutes_and_seconds(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize(
    "value",
    [timedelta(hours=72), timedelta(minutes=90), timedelta(seconds=3661), timedelta(days=2)],
)
def test_format_duration_round_trips_through_parse_duration(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


# --- Policy and ISO 8601 round trip -------------------------------------------------------


def test_policy_defaults_match_the_documented_practice() -> None:
    policy = Policy()

    assert policy.deadline == timedelta(hours=72)
    assert policy.call_report_timeout == timedelta(minutes=15)
    assert policy.max_call_attempts_per_day == 4
    assert policy.reminders_before_deadline == (timedelta(hours=24), timedelta(hours=4))
    assert (policy.calling_hours.start, policy.calling_hours.end) == ("08:00", "21:00")
    assert policy.call_retry_after.no_answer == timedelta(hours=3)
    assert policy.call_retry_after.busy == timedelta(minutes=20)
    assert policy.call_retry_after.voicemail == timedelta(hours=24)


def test_policy_serialises_durations_as_iso_8601() -> None:
    data = Policy().model_dump(mode="json")

    assert data["call_report_timeout"] == "PT15M"
    assert data["call_retry_after"]["busy"] == "PT20M"


@pytest.mark.parametrize(
    "policy",
    [
        Policy(),
        parse_policy(
            'deadline = "1d12h"\n'
            'call_report_timeout = "90s"\n'
            "max_call_attempts_per_day = 2\n"
            'reminders_before_deadline = ["12h", "1h30m"]\n'
            '[calling_hours]\nstart = "09:00"\nend = "21:30"\n'
            '[call_retry_after]\nno_answer = "2h"\nbusy = "15m"\nvoicemail = "1d"\n'
        ),
    ],
    ids=["default", "custom"],
)
def test_policy_round_trips_through_its_json_form(policy: Policy) -> None:
    # A case records its policy through pydantic, which writes ISO 8601 durations.
    assert Policy.model_validate(policy.model_dump(mode="json")) == policy


def test_policy_accepts_iso_8601_durations_directly() -> None:
    policy = Policy.model_validate(
        {
            "deadline": "P3D",
            "call_report_timeout": "PT15M",
            "reminders_before_deadline": ["P1D", "PT4H"],
            "call_retry_after": {"no_answer": "PT3H", "busy": "PT20M", "voicemail": "P1D"},
        }
    )

    assert policy == Policy()


def test_policy_is_frozen() -> None:
    with pytest.raises(ValidationError):
        Policy().deadline = timedelta(hours=1)  # type: ignore[misc]


# --- CallingHours -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "start_minutes", "end_minutes"),
    [
        ("08:00", "21:00", 480, 1260),
        ("09:00", "21:30", 540, 1290),
        ("00:00", "24:00", 0, 1440),
    ],
)
def test_calling_hours_minutes(start: str, end: str, start_minutes: int, end_minutes: int) -> None:
    hours = CallingHours(start=start, end=end)

    assert (hours.start_minutes, hours.end_minutes) == (start_minutes, end_minutes)


@pytest.mark.parametrize("value", ["8am", "8:00", "25:00", "24:30", "08:60", "0800", ""])
def test_calling_hours_reject_bad_clock_times(value: str) -> None:
    with pytest.raises(ValidationError, match="is not a time of day 'HH:MM'"):
        CallingHours(start=value)


@pytest.mark.parametrize(("start", "end"), [("21:00", "08:00"), ("08:00", "08:00")])
def test_calling_hours_start_must_be_before_end(start: str, end: str) -> None:
    with pytest.raises(ValidationError, match=f"start {start} must be before end {end}"):
        CallingHours(start=start, end=end)


# --- parse_policy / load_policy -----------------------------------------------------------


def test_shipped_default_policy_is_the_model_defaults_with_the_example_targets() -> None:
    # A policy without [sla] tracks no target; the shipped file tracks the examples,
    # and names the appeal window (a policy without it leaves it to aha.domain.appeals).
    targets = SlaTargets(
        first_attempt_within=timedelta(minutes=15),
        reached_by_before_deadline=timedelta(hours=24),
        plan_review_within=timedelta(hours=8),
        warn_at=0.5,
    )
    # And it allows 72 hours of extension per issue (none when the key is left out), in the
    # "resolution" mode, with the "contact" mode's window and engagement timeout ready.
    shipped = Policy(
        sla=targets,
        max_extension=timedelta(hours=72),
        resolution_window=timedelta(days=14),
        engagement_timeout=timedelta(hours=72),
        appeal_window=timedelta(days=17),
    )
    assert parse_policy(default_policy_text(), "default policy") == shipped
    assert load_policy(None) == shipped
    assert load_policy("") == shipped
    assert Policy().sla.any is False


def test_parse_policy_fills_missing_keys_with_defaults() -> None:
    policy = parse_policy('deadline = "48h"\n[calling_hours]\nstart = "09:00"\n')

    assert policy.deadline == timedelta(hours=48)
    assert policy.calling_hours == CallingHours(start="09:00", end="21:00")
    assert policy.call_retry_after == Policy().call_retry_after
    assert policy.reminders_before_deadline == Policy().reminders_before_deadline


def test_parse_policy_accepts_always_open_hours() -> None:
    policy = parse_policy('[calling_hours]\nstart = "00:00"\nend = "24:00"\n')

    assert (policy.calling_hours.start_minutes, policy.calling_hours.end_minutes) == (0, 1440)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('colour = "red"\n', "team.toml: colour: unknown key"),
        ('[calling_hours]\nlunch = "12:00"\n', "team.toml: calling_hours.lunch: unknown key"),
        ('[call_retry_after]\nring = "1h"\n', "team.toml: call_retry_after.ring: unknown key"),
        (
            'deadline = "3 days"\n',
            "team.toml: deadline: '3 days' is not a duration like '72h', '90m' or '15s'",
        ),
        (
            '[call_retry_after]\nbusy = "soon"\n',
            "team.toml: call_retry_after.busy: 'soon' is not a duration",
        ),
        (
            'reminders_before_deadline = ["24h", "4 hours"]\n',
            "team.toml: reminders_before_deadline: '4 hours' is not a duration",
        ),
        (
            '[calling_hours]\nstart = "21:00"\nend = "08:00"\n',
            "team.toml: calling_hours: start 21:00 must be before end 08:00",
        ),
        (
            '[calling_hours]\nstart = "8am"\n',
            "team.toml: calling_hours.start: '8am' is not a time of day 'HH:MM'",
        ),
        (
            '[calling_hours]\nend = "24:30"\n',
            "team.toml: calling_hours.end: '24:30' is not a time of day 'HH:MM'",
        ),
        (
            'reminders_before_deadline = ["96h"]\n',
            "reminders_before_deadline entries must be between zero and the deadline",
        ),
        (
            'deadline = "24h"\n',  # the default 24h reminder is no longer shorter than it
            "reminders_before_deadline entries must be between zero and the deadline",
        ),
        (
            "max_call_attempts_per_day = 0\n",
            "team.toml: max_call_attempts_per_day: Input should be greater than or equal to 1",
        ),
        (
            "max_call_attempts_per_day = -2\n",
            "team.toml: max_call_attempts_per_day: Input should be greater than or equal to 1",
        ),
        ('deadline = "0h"\n', "deadline must be longer than zero"),
        ('[call_retry_after]\nbusy = "0s"\n', "call_retry_after.busy must be longer than zero"),
        ('deadline = "72h\n', "team.toml: not valid TOML"),
    ],
)
def test_invalid_policy_names_the_key_and_the_reason(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "team.toml")

    assert message in str(caught.value)


def test_invalid_policy_lists_every_problem() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy('colour = "red"\ndeadline = "soon"\n', "team.toml")

    message = str(caught.value)
    assert message.startswith("team.toml: ")
    assert "colour: unknown key" in message
    assert "deadline: 'soon' is not a duration" in message


def test_policy_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_policy('colour = "red"\n')


def test_load_policy_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('deadline = "48h"\nmax_call_attempts_per_day = 2\n', encoding="utf-8")

    policy = load_policy(path)

    assert policy.deadline == timedelta(hours=48)
    assert policy.max_call_attempts_per_day == 2
    assert load_policy(str(path)) == policy


def test_load_policy_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('deadline = "forever"\n', encoding="utf-8")

    with pytest.raises(PolicyError, match="deadline: 'forever' is not a duration") as caught:
        load_policy(path)

    assert str(caught.value).startswith(f"{path}: ")


def test_load_policy_on_a_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"

    with pytest.raises(PolicyError) as caught:
        load_policy(path)

    assert str(caught.value).startswith(f"{path}: cannot read policy file")
