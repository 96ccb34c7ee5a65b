"""The dashboard's SVG bar charts: well-formed, labelled, escaped, proportional."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from api.charts import Bar, bar_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_a_chart_has_a_title_a_description_and_a_labelled_bar_per_item() -> None:
    svg = bar_chart(
        "open-cases",
        "Open cases by status",
        "How many open cases are in each status",
        [Bar("awaiting contact", 3), Bar("engaged", 1, "one case")],
    )
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "open-cases-title open-cases-desc"
    assert root.find(f"{SVG}title").text == "Open cases by status"  # type: ignore[union-attr]
    desc = root.find(f"{SVG}desc").text  # type: ignore[union-attr]
    assert desc == "How many open cases are in each status. awaiting contact: 3; engaged: one case."
    rows = root.findall(f"{SVG}g")
    assert len(rows) == 2
    texts = [[t.text for t in row.findall(f"{SVG}text")] for row in rows]
    assert texts == [["awaiting contact", "3"], ["engaged", "one case"]]


def test_bars_are_proportional_and_the_largest_spans_the_width() -> None:
    root = parse(bar_chart("c", "t", "d", [Bar("a", 10), Bar("b", 5), Bar("c", 0)]))
    widths = [float(r.get("width", "")) for r in root.iter(f"{SVG}rect")]
    assert widths[0] > 0
    assert widths[1] == pytest.approx(widths[0] / 2, abs=0.1)
    assert widths[2] == 0


def test_all_zero_values_draw_empty_bars_not_a_division_by_zero() -> None:
    root = parse(bar_chart("c", "t", "d", [Bar("a", 0), Bar("b", 0)]))
    assert [r.get("width") for r in root.iter(f"{SVG}rect")] == ["0.0", "0.0"]


def test_no_bars_says_so() -> None:
    root = parse(bar_chart("c", "Nothing", "Nothing yet", []))
    assert any(t.text == "No data yet" for t in root.iter(f"{SVG}text"))
    assert root.find(f"{SVG}desc").text == "Nothing yet. no data."  # type: ignore[union-attr]


def test_labels_and_titles_are_escaped() -> None:
    hostile = '<script>alert("x")</script> & \x00\x1b'
    svg = bar_chart("c", hostile, hostile, [Bar(hostile, 1, hostile)])
    assert "<script>" not in svg
    root = parse(svg)  # still well-formed XML: control characters are dropped
    assert root.find(f"{SVG}title").text == '<script>alert("x")</script> & '  # type: ignore[union-attr]
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert '<script>alert("x")</script> & ' in labels


def test_a_long_label_is_shortened_on_the_bar_and_kept_whole_in_its_title() -> None:
    label = "a very long closure reason that does not fit"
    root = parse(bar_chart("c", "t", "d", [Bar(label, 2)]))
    row = root.find(f"{SVG}g")
    assert row is not None
    assert row.find(f"{SVG}title").text == f"{label}: 2"  # type: ignore[union-attr]
    shown = row.find(f"{SVG}text").text  # type: ignore[union-attr]
    assert shown is not None and shown.endswith("…") and len(shown) == 26


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf")])
def test_a_value_that_is_not_a_finite_count_is_refused(value: float) -> None:
    with pytest.raises(ValueError, match="finite number"):
        bar_chart("c", "t", "d", [Bar("a", value)])


@pytest.mark.parametrize("chart_id", ["", "Upper", "a b", 'x" onload="y', "1st"])
def test_a_chart_id_that_is_not_a_plain_name_is_refused(chart_id: str) -> None:
    with pytest.raises(ValueError, match="chart id"):
        bar_chart(chart_id, "t", "d", [])


def test_fractional_values_read_as_numbers() -> None:
    root = parse(bar_chart("c", "t", "d", [Bar("rate", 0.25)]))
    assert [t.text for t in root.iter(f"{SVG}text")][-1] == "0.25"


def test_every_dashboard_figure_has_its_csv_name() -> None:
    from datetime import UTC, datetime

    from aha.domain.board import Dashboard
    from api.console_dashboard import FIGURE_NAMES, figures

    empty = Dashboard(
        at=datetime.now(UTC),
        open_by_status={},
        at_risk_6h=0,
        at_risk_24h=0,
        closed_30d=0,
        reached_before_deadline_30d=0,
        deactivations_7d={},
        deactivations_30d={},
        sla_breaches_30d={},
    )
    assert tuple(f.name for f in figures(empty)) == FIGURE_NAMES
