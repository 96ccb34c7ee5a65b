"""The HTTP service: the /v1 API, the seller's account-health page, the specialists' console,
health and docs."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client

from aha.adapters.temporal.connection import connection_target
from aha.config import Settings
from api import (
    appeals,
    console,
    console_case,
    console_dashboard,
    errors,
    page,
    routes,
    telephony,
)
from api.bodies import Health
from api.errors import ApiError, ErrorBody
from api.metrics import HttpMetrics, MeasureRequests
from api.state import ApiState

log = structlog.get_logger(__name__)


class BodyLimit:
    """Refuse bodies over `limit` bytes with a 413, whether or not Content-Length says so."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _send_error(send, _too_large(self.limit), CLOSE)
            return
        seen = 0
        exceeded = False
        answered = False

        async def counted_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # Whatever the app makes of the interrupted body (FastAPI says 400), it is a 413.
            nonlocal answered
            if not exceeded:
                await send(message)
            elif not answered:
                answered = True
                await _send_error(send, _too_large(self.limit), CLOSE)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except _TooLarge:
            if not answered:
                await _send_error(send, _too_large(self.limit), CLOSE)


class RequireToken:
    """Every /v1 request needs a known token before anything else, its body included:
    without one the answer is 401, even for a body that would not parse."""

    def __init__(self, app: ASGIApp, state: ApiState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = _route_path(scope) if scope["type"] == "http" else ""
        # Twilio sends no token: that route checks Twilio's signature instead.
        if path.startswith("/v1/") and path != telephony.STATUS_PATH:
            header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
            scheme, _, token = header.decode("latin-1").partition(" ")
            identity = (
                self.state.tokens.identify(token.strip()) if scheme.lower() == "bearer" else None
            )
            if identity is None:
                detail = "send a valid token: Authorization: Bearer ..."
                await _send_error(
                    send, ApiError(401, "unauthorized", detail), [(b"www-authenticate", b"Bearer")]
                )
                return
            # The routes' role checks read it from here: one lookup per request.
            scope.setdefault("state", {})["identity"] = identity
        await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path the routes see: without the prefix a proxy mounts the service under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


# After a 413 the rest of the body is not worth reading: the server closes the connection.
CLOSE = [(b"connection", b"close")]


class _TooLarge(Exception):
    pass


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"the body is larger than {limit} bytes")


async def _send_error(
    send: Send, err: ApiError, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = errors.error_response(err).body
    await send(
        {
            "type": "http.response.start",
            "status": err.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings, client: Client | None = None) -> FastAPI:
    """The app for `settings`; pass `client` to share a Temporal connection (tests, `aha dev`)."""
    state = ApiState.from_settings(settings, client)
    # Swagger UI and ReDoc from the fastapi-offline wheel: /docs works with no internet access.
    app = FastAPIOffline(
        title="aha: Account Health Assurance",
        version="1",
        description=(
            "At-risk cases as durable Temporal workflows. Every /v1 route takes a bearer token "
            "from the AHA_API_TOKENS file; errors are `{error, detail, fields}`."
        ),
        favicon_url="/static/favicon.svg",
    )
    app.state.aha = state
    errors.install(app)
    app.include_router(routes.router)
    app.include_router(appeals.router)
    app.include_router(telephony.router)
    app.include_router(page.router)
    app.include_router(console.router)
    app.include_router(console_case.router)
    app.include_router(console_dashboard.router)
    app.add_exception_handler(page.NoSuchPage, page.not_found_page)
    app.mount("/static", StaticFiles(directory=str(page.STATIC)), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(page.STATIC / "favicon.svg", media_type="image/svg+xml")

    @app.get("/healthz", response_model=Health, summary="The process is up", tags=["operations"])
    async def healthz() -> Health:
        return Health(status="ok")

    @app.head("/healthz", include_in_schema=False)  # load balancers probe with HEAD
    async def healthz_head() -> Response:
        return Response()

    @app.get(
        "/readyz",
        response_model=Health,
        responses={
            503: {
                "model": ErrorBody,
                "description": "Temporal is unreachable, or the tokens file stopped parsing",
            }
        },
        summary="Temporal is reachable",
        tags=["operations"],
    )
    async def readyz(request: Request) -> Any:
        try:
            client = await state.temporal.client()
            await asyncio.wait_for(client.service_client.check_health(), timeout=3)
        except Exception as err:  # any failure to answer means not ready
            detail = err.detail if isinstance(err, ApiError) else f"Temporal: {err}"
            body = ErrorBody(error="temporal_unavailable", detail=detail)
            return JSONResponse(body.model_dump(), status_code=503)
        if state.token_source.problem:
            body = ErrorBody(error="tokens_file", detail=state.token_source.problem)
            return JSONResponse(body.model_dump(), status_code=503)
        return Health(status="ready", detail=settings.temporal_address)

    # Added last runs first: the metrics, the size limit, then the token, then the app.
    app.add_middleware(RequireToken, state=state)
    app.add_middleware(BodyLimit, limit=settings.api_max_body_bytes)
    if settings.metrics_address is not None:  # a malformed AHA_METRICS_BIND raises here
        app.state.metrics = HttpMetrics()
        # Included routers' routes carry their full templates; the app's list wraps them.
        templates = [
            *routes.router.routes,
            *telephony.router.routes,
            *page.router.routes,
            *console.router.routes,
            *console_case.router.routes,
            *console_dashboard.router.routes,
            *app.router.routes,
        ]
        app.add_middleware(MeasureRequests, metrics=app.state.metrics, routes=templates)
    return app


async def serve(
    settings: Settings, client: Client | None = None, host: str | None = None, port: int = 0
) -> None:
    """Run the HTTP service until cancelled, and its metrics endpoint when one is set."""
    # Which cluster this replica talks to, and how (never a key): the first thing to check.
    log.info("Temporal connection", process="api", **connection_target(settings)._asdict())
    app = create_app(settings, client)
    address = settings.metrics_address
    metrics_server = app.state.metrics.serve(*address) if address is not None else None
    config = uvicorn.Config(
        app,
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    try:
        await uvicorn.Server(config).serve()
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
            metrics_server.server_close()
