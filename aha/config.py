"""Settings from the environment, with the embedded defaults `make run` relies on."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Literal

from temporalio.envconfig import ClientConfigProfile

from aha.domain.policy import parse_duration
from aha.temporal_settings import DEFAULT_ADDRESS, DEFAULT_NAMESPACE, load_temporal_profile

TASK_QUEUE = "at-risk-cases"


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _positive_int(name: str, default: str) -> int:
    text = _env(name, default)
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"{name}: {text!r} is not a positive whole number")
    return int(text)


def _seconds(name: str, default: str) -> float:
    """A duration setting: bare seconds ("30") or a duration ("30s", "2m")."""
    text = _env(name, default)
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parse_duration(text).total_seconds()
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a duration such as 30, 30s or 2m") from None


def _addresses(name: str) -> tuple[str, ...]:
    addresses = tuple(a.strip() for a in os.environ.get(name, "").split(",") if a.strip())
    for address in addresses:
        if not re.fullmatch(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+", address):
            raise ValueError(f"{name}: {address!r} is not an email address")
    return addresses


@dataclass(frozen=True)
class Settings:
    # TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE, else the profile's (see temporal_profile);
    # left empty, they are filled from the profile, which is read once per Settings.
    temporal_address: str = ""
    namespace: str = ""
    task_queue: str = field(default_factory=lambda: _env("AHA_TASK_QUEUE", TASK_QUEUE))
    # Out of repr, as the secrets below: a PostgreSQL URL may carry its password.
    db_path: str = field(default_factory=lambda: _env("AHA_DB", ".aha/aha.db"), repr=False)
    policy_file: str | None = field(default_factory=lambda: os.environ.get("AHA_POLICY_FILE"))
    # The operator's issue types on top of the shipped catalogue (aha/issue_catalog.toml).
    issue_catalog: str | None = field(default_factory=lambda: os.environ.get("AHA_ISSUE_CATALOG"))
    smtp_host: str = field(default_factory=lambda: _env("AHA_SMTP_HOST", "127.0.0.1"))
    smtp_port: int = field(default_factory=lambda: int(_env("AHA_SMTP_PORT", "1025")))
    email_from: str = field(
        default_factory=lambda: _env("AHA_EMAIL_FROM", "account-health@aha.local")
    )
    page_url: str = field(
        default_factory=lambda: _env(
            "AHA_PAGE_URL", "http://127.0.0.1:8000/account-health/{seller_id}"
        )
    )
    dialer: Literal["manual", "simulated", "twilio"] = field(
        default_factory=lambda: _env("AHA_DIALER", "manual")  # type: ignore[arg-type,return-value]
    )
    simulated_answer_probability: float = field(
        default_factory=lambda: float(_env("AHA_SIMULATED_ANSWER_PROBABILITY", "0.4"))
    )
    cli_timeout_seconds: float = field(default_factory=lambda: float(_env("AHA_CLI_TIMEOUT", "30")))
    simulated_delay_seconds: float = field(
        default_factory=lambda: float(_env("AHA_SIMULATED_DELAY", "8"))
    )
    api_host: str = field(default_factory=lambda: _env("AHA_API_HOST", "127.0.0.1"))
    api_port: int = field(default_factory=lambda: int(_env("AHA_API_PORT", "8000")))
    api_tokens_file: str | None = field(default_factory=lambda: os.environ.get("AHA_API_TOKENS"))
    api_timeout_seconds: float = field(default_factory=lambda: float(_env("AHA_API_TIMEOUT", "10")))
    api_max_body_bytes: int = field(
        default_factory=lambda: int(_env("AHA_API_MAX_BODY", str(1024 * 1024)))
    )
    # How long a stopping worker lets its activities in flight finish (SIGTERM or SIGINT).
    worker_shutdown_grace_seconds: float = field(
        default_factory=lambda: _seconds("AHA_WORKER_SHUTDOWN_GRACE", "30")
    )
    # Signs page sessions and CSRF tokens; unset, each API process picks its own at start.
    session_secret: str | None = field(
        default_factory=lambda: os.environ.get("AHA_SESSION_SECRET"), repr=False
    )
    # Where the worker (and, separately, the API) serves Prometheus metrics, e.g. 0.0.0.0:9464;
    # unset, no metrics endpoint.
    metrics_bind: str | None = field(default_factory=lambda: os.environ.get("AHA_METRICS_BIND"))
    # The AES-GCM key ring that encrypts payloads in Temporal; unset, payloads are plain.
    codec_keys_file: str | None = field(
        default_factory=lambda: os.environ.get("AHA_CODEC_KEYS_FILE")
    )
    # The bearer token the codec server requires; unset, it requires none.
    codec_auth_token: str | None = field(
        default_factory=lambda: os.environ.get("AHA_CODEC_AUTH_TOKEN"), repr=False
    )
    # How many connections each process may hold to a PostgreSQL AHA_DB (one pool per process).
    db_pool_size: int = field(default_factory=lambda: _positive_int("AHA_DB_POOL_SIZE", "20"))
    # How to reach Temporal beyond the address and namespace above: TLS, certificates, API key,
    # from TEMPORAL_PROFILE's profile in the TOML profile file and the TEMPORAL_* variables.
    # Out of repr: it holds the API key and the client key. Out of the hash: its gRPC headers
    # are a dict, and Settings stays hashable.
    temporal_profile: ClientConfigProfile = field(
        default_factory=load_temporal_profile, repr=False, hash=False
    )
    # OpenTelemetry tracing of workflows and activities: "otlp" exports spans to the standard
    # OTEL_EXPORTER_OTLP_* endpoint; unset or "off", no tracing.
    tracing: str | None = field(default_factory=lambda: os.environ.get("AHA_TRACING"))
    # The Web UI origins the codec server answers from browsers (comma-separated).
    codec_cors_origins: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            origin.strip()
            for origin in _env(
                "AHA_CODEC_CORS_ORIGINS", "http://localhost:8233,http://127.0.0.1:8233"
            ).split(",")
            if origin.strip()
        )
    )

    # Twilio (AHA_DIALER=twilio), checked by aha.twilio_settings where each is used.
    twilio_account_sid: str = field(default_factory=lambda: _env("AHA_TWILIO_ACCOUNT_SID", ""))
    twilio_auth_token: str = field(
        default_factory=lambda: _env("AHA_TWILIO_AUTH_TOKEN", ""), repr=False
    )
    twilio_api_key: str = field(default_factory=lambda: _env("AHA_TWILIO_API_KEY", ""))
    twilio_api_secret: str = field(
        default_factory=lambda: _env("AHA_TWILIO_API_SECRET", ""), repr=False
    )
    twilio_from: str = field(default_factory=lambda: _env("AHA_TWILIO_FROM", ""))
    # The public URL of POST /v1/telephony/twilio/status, as Twilio reaches it: the
    # callbacks' signatures cover it, so it is never rebuilt from a request.
    twilio_status_url: str = field(default_factory=lambda: _env("AHA_TWILIO_STATUS_URL", ""))
    # Where Twilio's REST API is; only tests point it elsewhere (a stand-in on loopback).
    twilio_api_base: str = field(
        default_factory=lambda: _env("AHA_TWILIO_API_BASE", "https://api.twilio.com")
    )

    # Who hears of SLA breaches: supervisors' addresses, comma-separated.
    supervisor_emails: tuple[str, ...] = field(
        default_factory=lambda: _addresses("AHA_SUPERVISOR_EMAIL")
    )
    # The specialists' console, for links in staff alerts; {seller_id} names the case screen.
    console_url: str = field(
        default_factory=lambda: _env(
            "AHA_CONSOLE_URL", "http://127.0.0.1:8000/console/cases/{seller_id}"
        )
    )

    def __post_init__(self) -> None:
        if self.dialer not in ("manual", "simulated", "twilio"):
            raise ValueError(f"AHA_DIALER: {self.dialer!r} is not one of manual, simulated, twilio")
        try:
            self.console_url.format(seller_id="seller")
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(
                f"AHA_CONSOLE_URL: {self.console_url!r} may hold {{seller_id}} and nothing "
                f"else in braces ({err!r})"
            ) from None
        profile = self.temporal_profile
        if not self.temporal_address:
            object.__setattr__(self, "temporal_address", profile.address or DEFAULT_ADDRESS)
        if not self.namespace:
            object.__setattr__(self, "namespace", profile.namespace or DEFAULT_NAMESPACE)

    @property
    def uses_postgres(self) -> bool:
        """`AHA_DB` names a PostgreSQL database rather than an SQLite file."""
        return self.db_path.startswith(("postgresql://", "postgres://"))

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """`metrics_bind` as (host, port), or None when metrics are off."""
        if not self.metrics_bind:
            return None
        host, _, port = self.metrics_bind.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(
                f"AHA_METRICS_BIND: {self.metrics_bind!r} is not host:port, such as 0.0.0.0:9464"
            )
        return host.strip("[]"), int(port)
