"""Horizontal bar charts as SVG markup: labelled numbers in, a string out.

Pure, so the dashboard renders charts on the server (no script, nothing the page's CSP
forbids) and tests read them as text. Every label and title is escaped here; the chart says
its numbers in words too (its <desc>, and a text label on every bar), for people who cannot
see the bars.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Sized for a chart about 30rem wide: its text then reads at about the page's own size.
WIDTH = 520
LABEL_WIDTH = 215  # the labels' column, right-aligned against the bars
VALUE_WIDTH = 90  # room after the longest bar for its value
ROW = 34
BAR = 22
PAD = 6
MAX_LABEL = 26  # characters shown; the full label is the row's <title>
_ID = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
# Characters XML 1.0 does not allow at all: they would make the page unparseable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str | None = None  # how the value reads ("3 h 20 min"); the number by default


def bar_chart(chart_id: str, title: str, description: str, bars: Sequence[Bar]) -> str:
    """An <svg> of one bar per item, longest for the largest value, in the order given."""
    if not _ID.match(chart_id):
        raise ValueError(f"chart id {chart_id!r} must be lowercase letters, digits and dashes")
    for bar in bars:
        if not math.isfinite(bar.value) or bar.value < 0:
            raise ValueError(f"bar {bar.label!r}: {bar.value} is not a finite number >= 0")
    height = PAD * 2 + ROW * max(len(bars), 1)
    largest = max((bar.value for bar in bars), default=0) or 1
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    spoken = "; ".join(f"{bar.label}: {_value_text(bar)}" for bar in bars) or "no data"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart_id}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{_text(title)}</title>',
        f'<desc id="{chart_id}-desc">{_text(description)}. {_text(spoken)}.</desc>',
    ]
    if not bars:
        parts.append(
            f'<text x="{WIDTH // 2}" y="{height // 2 + 5}" text-anchor="middle" '
            'class="chart-empty">No data yet</text>'
        )
    for index, bar in enumerate(bars):
        top = PAD + index * ROW
        middle = top + ROW // 2 + 5
        length = round(span * bar.value / largest, 1)
        shown = bar.label if len(bar.label) <= MAX_LABEL else bar.label[: MAX_LABEL - 1] + "…"
        parts += [
            '<g class="chart-row">',
            f"<title>{_text(bar.label)}: {_text(_value_text(bar))}</title>",
            f'<text x="{LABEL_WIDTH - 8}" y="{middle}" text-anchor="end" class="chart-label">'
            f"{_text(shown)}</text>",
            f'<rect x="{LABEL_WIDTH}" y="{top + (ROW - BAR) // 2}" width="{length}" '
            f'height="{BAR}" class="chart-bar"/>',
            f'<text x="{LABEL_WIDTH + length + 6}" y="{middle}" class="chart-value">'
            f"{_text(_value_text(bar))}</text>",
            "</g>",
        ]
    parts.append("</svg>")
    return "\n".join(parts)


def _value_text(bar: Bar) -> str:
    if bar.text is not None:
        return bar.text
    return f"{bar.value:g}" if bar.value != int(bar.value) else str(int(bar.value))


def _text(value: str) -> str:
    return escape(_NOT_XML.sub("", value), quote=True)
