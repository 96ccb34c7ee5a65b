"""`aha codec-server`: the Temporal codec endpoints, so the Web UI and the `temporal` CLI can
show encrypted payloads decoded, for whoever may hold the token.

`POST /encode` and `POST /decode` take and return `{"payloads": [...]}` in protobuf JSON,
the form the UI and the CLI (`--codec-endpoint`) send.
"""

from __future__ import annotations

import hmac
import sys
from collections.abc import Awaitable, Callable, Sequence

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from aha.adapters.temporal.codec import EncryptionCodec, PayloadDecryptionError, codec_for
from aha.config import Settings

# What the UI sends: its namespace, and the user's token when "pass access token" is on.
ALLOWED_HEADERS = ["content-type", "x-namespace", "authorization"]

Transform = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


def create_codec_app(
    codec: EncryptionCodec, *, auth_token: str | None, cors_origins: Sequence[str]
) -> FastAPI:
    app = FastAPI(title="aha codec server", docs_url=None, redoc_url=None, openapi_url=None)
    expected = f"Bearer {auth_token}".encode() if auth_token else None

    async def apply(transform: Transform, request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return JSONResponse(
                    {"detail": "this codec server needs Authorization: Bearer <token>"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        try:
            payloads = json_format.Parse(await request.body(), Payloads())
        except (json_format.ParseError, UnicodeDecodeError) as err:
            return JSONResponse(
                {"detail": f'expected {{"payloads": [...]}} in protobuf JSON: {err}'},
                status_code=400,
            )
        try:
            result = Payloads(payloads=await transform(payloads.payloads))
        except PayloadDecryptionError as err:
            return JSONResponse({"detail": str(err)}, status_code=400)
        return Response(json_format.MessageToJson(result), media_type="application/json")

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        return await apply(codec.encode, request)

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        return await apply(codec.decode, request)

    # Outermost, so preflights need no token and a 401 still reaches the UI's page.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(cors_origins),
        allow_methods=["POST"],
        allow_headers=ALLOWED_HEADERS,
        allow_credentials=True,
    )
    return app


def app_for(settings: Settings, cors_origins: Sequence[str] | None = None) -> FastAPI:
    codec = codec_for(settings)
    if codec is None:
        raise ValueError(
            "AHA_CODEC_KEYS_FILE is unset: the codec server needs the key ring the workers use"
        )
    return create_codec_app(
        codec,
        auth_token=settings.codec_auth_token,
        cors_origins=settings.codec_cors_origins if cors_origins is None else cors_origins,
    )


async def serve_codec(
    settings: Settings,
    host: str,
    port: int,
    cors_origins: Sequence[str] | None = None,
) -> None:
    """Run the codec server until cancelled; a bad key ring stops it before it listens."""
    app = app_for(settings, cors_origins)
    guarded = "a bearer token" if settings.codec_auth_token else "no token"
    print(
        f"aha codec-server: listening on http://{host}:{port} (requires {guarded}; "
        f"CORS for {', '.join(cors_origins or settings.codec_cors_origins) or 'no origin'})",
        file=sys.stderr,
    )
    if not settings.codec_auth_token and host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"aha codec-server: warning: listening on {host} without AHA_CODEC_AUTH_TOKEN: "
            "anyone who reaches it can decrypt payloads",
            file=sys.stderr,
        )
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
    )
    await uvicorn.Server(config).serve()
