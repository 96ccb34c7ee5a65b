"""The worker's Prometheus endpoint: the SDK's own metrics and the case's business metrics.

The runtime is per process and must exist before the client that uses it. Its naming stays
the SDK's default (durations in milliseconds, counters without `_total`), which is what the
public Temporal SDK dashboards query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from aha.config import Settings


def metrics_runtime(
    settings: Settings, histogram_buckets: Mapping[str, Sequence[float]] | None = None
) -> Runtime | None:
    """A runtime serving /metrics on AHA_METRICS_BIND; None when that is unset.

    `histogram_buckets` gives histograms whose unit is not the SDK's milliseconds their own
    boundaries (a case's hours and days would all land in the top bucket otherwise).
    """
    if settings.metrics_address is None:  # a malformed AHA_METRICS_BIND raises here
        return None
    prometheus = PrometheusConfig(
        bind_address=settings.metrics_bind or "",
        histogram_bucket_overrides=dict(histogram_buckets or {}),
    )
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=prometheus))
    except ValueError as err:  # the port is taken, or the host is a name, not an address
        raise ValueError(
            f"AHA_METRICS_BIND: cannot serve metrics on {settings.metrics_bind}: {err}"
        ) from None
