"""The rule both stores apply to a batch of AHR readings, without a store."""

from __future__ import annotations

from datetime import date

from aha.domain.programme import sort_readings

TODAY = date(2026, 11, 27)


def test_a_batch_keeps_good_readings_and_names_each_bad_one_by_position() -> None:
    readings = [
        ("acme", date(2026, 11, 1), 300),
        ("acme", date(2026, 11, 28), 300),
        ("ghost", date(2026, 11, 2), 300),
        ("acme", date(2026, 11, 3), 1001),
        ("acme", date(2026, 11, 4), 280),
    ]
    good, problems = sort_readings(readings, {"acme"}, TODAY, positions=[2, 3, 4, 5, 6])
    assert good == [readings[0], readings[4]]
    assert [line for line, _ in problems] == [3, 4, 5]
    assert "in the future" in problems[0][1]
    assert "unknown seller 'ghost'" in problems[1][1]
    assert "outside 0-1000" in problems[2][1]


def test_positions_default_to_the_index_in_the_batch() -> None:
    _, problems = sort_readings([("ghost", date(2026, 11, 1), 300)], set(), TODAY)
    assert problems == [(0, "unknown seller 'ghost'")]
