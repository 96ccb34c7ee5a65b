"""Optional OpenTelemetry tracing through the SDK's contrib interceptor (AHA_TRACING=otlp).

OpenTelemetry is the optional `aha[tracing]` extra: it is imported only when tracing is asked
for, so aha runs without it. The interceptor goes on the client; a worker built on that
client inherits it, so a case's workflow, activities and the calls that started it are traced.
"""

from __future__ import annotations

import os
from typing import Any

from temporalio.client import Interceptor

from aha.config import Settings

OFF = ("", "off", "none")
MODES = ("off", "otlp")

# The provider this module installed, flushed when the process ends.
_installed: Any = None


def tracing_on(settings: Settings) -> bool:
    mode = (settings.tracing or "").strip().lower()
    if mode in OFF:
        return False
    if mode == "otlp":
        return True
    raise ValueError(f"AHA_TRACING: {settings.tracing!r} is not one of {', '.join(MODES)}")


def tracing_interceptors(settings: Settings) -> list[Interceptor]:
    """The client interceptors AHA_TRACING asks for: none, or the SDK's TracingInterceptor."""
    if not tracing_on(settings):
        return []
    try:
        from opentelemetry import trace
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError as err:
        raise RuntimeError(
            f"AHA_TRACING={settings.tracing} needs OpenTelemetry, which is not installed: "
            f"pip install 'aha[tracing]' ({err})"
        ) from None
    _install_provider(trace)
    return [TracingInterceptor()]


def _install_provider(trace: Any) -> None:
    """Export spans over OTLP, unless the process already has a tracer provider.

    A provider set up before aha (by `opentelemetry-instrument`, or a test) is left as it is.
    """
    global _installed
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as err:
        raise RuntimeError(
            "AHA_TRACING=otlp needs the OpenTelemetry SDK and OTLP exporter: "
            f"pip install 'aha[tracing]' ({err})"
        ) from None
    # "aha" unless the standard OTEL_SERVICE_NAME names the service otherwise.
    name = os.environ.get("OTEL_SERVICE_NAME") or "aha"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    # The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT and the other standard variables.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _installed = provider


def flush_tracing() -> None:
    """Send the spans still batched; a process that ends with os._exit would lose them."""
    global _installed
    provider, _installed = _installed, None
    if provider is not None:
        provider.shutdown()
