"""Latency summaries shared by the benchmarks."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def latency_summary(
    seconds: Sequence[float], points: Sequence[int] = (50, 95, 99)
) -> dict[str, float]:
    """Milliseconds: n, mean, the percentiles in `points` (as p50, p95, ...), and max."""
    ordered = sorted(s * 1000 for s in seconds)
    if len(ordered) >= 2:
        cuts = statistics.quantiles(ordered, n=100, method="inclusive")
        marks = {f"p{p}": cuts[p - 1] for p in points}
    else:
        marks = {f"p{p}": ordered[0] for p in points}
    return {"n": len(ordered), "mean": statistics.fmean(ordered), **marks, "max": ordered[-1]}
