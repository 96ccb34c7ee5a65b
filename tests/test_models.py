"""Detection events are checked and normalised before they reach a case."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from aha.domain.models import DetectionEvent


def event(**overrides: object) -> DetectionEvent:
    fields: dict[str, object] = {
        "event_id": "e1",
        "seller_id": "acme",
        "issue_type": "ip_complaint",
        "severity": "high",
        "detected_at": "2026-11-27T10:00:00-05:00",
    }
    return DetectionEvent.model_validate(fields | overrides)


def test_detection_time_is_kept_in_utc_whatever_offset_it_came_with() -> None:
    detected = event().detected_at
    assert detected == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert detected.utcoffset() == UTC.utcoffset(None)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("detected_at", "2026-11-27T10:00:00", "timezone"),
        ("severity", "urgent", "severity"),
        ("seller_id", "a b", "seller_id"),
        ("event_id", "", "event_id"),
    ],
)
def test_malformed_events_are_refused_naming_the_field(field: str, value: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        event(**{field: value})
