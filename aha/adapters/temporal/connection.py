"""The one way every process connects to Temporal: the same address, namespace and data
converter for the worker, the CLI, the API and the dev stack."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from aha.adapters.temporal.tracing import tracing_interceptors
from aha.config import Settings

DATA_CONVERTER = pydantic_data_converter


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """`runtime` carries the worker's metrics endpoint; it must exist before the client."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.namespace,
        data_converter=DATA_CONVERTER,
        interceptors=tracing_interceptors(settings),
        runtime=runtime,
    )
