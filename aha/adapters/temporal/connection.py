"""The one way every process connects to Temporal: the same address, namespace, TLS, API key
and data converter for the worker, the CLI, the API and the dev stack."""

from __future__ import annotations

from typing import NamedTuple

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfigProfile
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from aha.config import Settings

DATA_CONVERTER = pydantic_data_converter


class ConnectionTarget(NamedTuple):
    """What a process connects to, for messages and the start-up log: never a key."""

    address: str
    namespace: str
    tls: bool
    api_key: bool
    client_cert: bool


def connection_target(settings: Settings) -> ConnectionTarget:
    profile = settings.temporal_profile
    tls = tls_config(profile)
    return ConnectionTarget(
        address=settings.temporal_address,
        namespace=settings.namespace,
        tls=tls is not False,
        api_key=profile.api_key is not None,
        client_cert=isinstance(tls, TLSConfig) and tls.client_cert is not None,
    )


def tls_config(profile: ClientConfigProfile) -> bool | TLSConfig:
    """The profile's TLS; an API key alone means TLS with the system's roots, as Cloud needs."""
    if profile.tls is not None:
        return profile.tls.to_connect_tls_config()
    return profile.api_key is not None


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    profile = settings.temporal_profile
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.namespace,
        api_key=profile.api_key,
        tls=tls_config(profile),
        rpc_metadata=profile.grpc_meta,
        runtime=runtime,
        data_converter=DATA_CONVERTER,
    )
