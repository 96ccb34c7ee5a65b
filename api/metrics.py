"""The API's HTTP metrics, served on their own endpoint (AHA_METRICS_BIND), never the API port.

Requests are labelled by route template (`/v1/sellers/{seller_id}/case`), never by the raw
path: seller ids are personal data, and raw paths are unbounded.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    start_http_server,
)
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = "aha_api_requests"  # exported as aha_api_requests_total
REQUEST_DURATION = "aha_api_request_duration_seconds"
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
UNMATCHED = "unmatched"


class HttpMetrics:
    """The counters and histogram of one app, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        self.requests = Counter(
            REQUESTS,
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            REQUEST_DURATION,
            "Seconds from a request's arrival to the end of its answer, by method and route",
            ["method", "route"],
            registry=self.registry,
        )

    def serve(self, host: str, port: int) -> WSGIServer:
        """Serve /metrics on host:port in a thread; `shutdown()` the server to stop it."""
        try:
            server, _ = start_http_server(port, addr=host, registry=self.registry)
        except OSError as err:
            raise OSError(
                f"AHA_METRICS_BIND: cannot serve metrics on {host}:{port}: {err.strerror or err}"
            ) from None
        return server


class MeasureRequests:
    """ASGI middleware, outermost: it times every answer, the 401s and 413s given before
    routing included, so it finds the route template itself."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = [route for route in routes if getattr(route, "path", "")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app answers: an exception escaped it

        async def noting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_send)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = self.template(scope)
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.duration.labels(method, route).observe(time.perf_counter() - started)

    def template(self, scope: Scope) -> str:
        partial = None
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return _path_of(route)
            if match == Match.PARTIAL and partial is None:
                partial = route  # the path matches, the method does not: a 405
        return _path_of(partial) if partial is not None else UNMATCHED


def _path_of(route: BaseRoute) -> str:
    return str(getattr(route, "path", UNMATCHED)) or UNMATCHED
