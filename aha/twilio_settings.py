"""Twilio's settings (`AHA_TWILIO_*`), checked where they are used: the worker checks what
placing calls needs when `AHA_DIALER=twilio`, the API what verifying callbacks needs.

Each error names the setting and says what it must look like, so a bad one stops the process
at start, before any call is placed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from aha.config import Settings

DEFAULT_API_BASE = "https://api.twilio.com"

_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_KEY = re.compile(r"SK[0-9a-fA-F]{32}")
_TOKEN = re.compile(r"[0-9a-fA-F]{32}")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


@dataclass(frozen=True)
class TwilioCallbacks:
    """What the API needs to verify Twilio's status callbacks."""

    # Twilio signs callbacks with the account's auth token, even when calls are made with
    # an API key: the API always needs the token.
    auth_token: str
    status_url: str


@dataclass(frozen=True)
class TwilioAccount:
    """What the worker needs to place calls through Twilio's REST API."""

    account_sid: str
    # (username, password) for the REST API: the API key and its secret, else the SID and token.
    username: str
    password: str
    from_number: str
    status_url: str
    api_base: str


def twilio_account(settings: Settings) -> TwilioAccount:
    sid = _match(
        "AHA_TWILIO_ACCOUNT_SID", settings.twilio_account_sid, _SID, "AC and 32 hex digits"
    )
    key, secret = settings.twilio_api_key, settings.twilio_api_secret
    if key or secret:
        _match("AHA_TWILIO_API_KEY", key, _KEY, "SK and 32 hex digits")
        if not secret or secret.strip() != secret:
            raise ValueError("AHA_TWILIO_API_SECRET: required with AHA_TWILIO_API_KEY")
        username, password = key, secret
    elif settings.twilio_auth_token:
        username = sid
        password = _match(
            "AHA_TWILIO_AUTH_TOKEN", settings.twilio_auth_token, _TOKEN, "32 hex digits"
        )
    else:
        raise ValueError(
            "AHA_TWILIO_AUTH_TOKEN: required with AHA_DIALER=twilio "
            "(or AHA_TWILIO_API_KEY with AHA_TWILIO_API_SECRET)"
        )
    return TwilioAccount(
        account_sid=sid,
        username=username,
        password=password,
        from_number=_match(
            "AHA_TWILIO_FROM", settings.twilio_from, _E164, "an E.164 number such as +12125550100"
        ),
        status_url=status_url(settings),
        api_base=_url("AHA_TWILIO_API_BASE", settings.twilio_api_base, path=False),
    )


def twilio_callbacks(settings: Settings) -> TwilioCallbacks | None:
    """None when neither callback setting is given: the API then refuses every callback."""
    if not settings.twilio_auth_token and not settings.twilio_status_url:
        return None
    token = _match("AHA_TWILIO_AUTH_TOKEN", settings.twilio_auth_token, _TOKEN, "32 hex digits")
    return TwilioCallbacks(auth_token=token, status_url=status_url(settings))


def status_url(settings: Settings) -> str:
    return _url("AHA_TWILIO_STATUS_URL", settings.twilio_status_url, path=True)


def _match(name: str, value: str, pattern: re.Pattern[str], shape: str) -> str:
    if not value:
        raise ValueError(f"{name}: required with AHA_DIALER=twilio ({shape})")
    if not pattern.fullmatch(value):
        raise ValueError(f"{name}: {_shown(name, value)} is not {shape}")
    return value


def _shown(name: str, value: str) -> str:
    # Secrets are never echoed, not even a wrong one.
    return "the value" if name.endswith(("TOKEN", "SECRET")) else repr(value)


def _url(name: str, value: str, *, path: bool) -> str:
    if not value:
        raise ValueError(f"{name}: required with AHA_DIALER=twilio (an https:// URL)")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{name}: {value!r} is not an http(s) URL with a host")
    if parts.query or parts.fragment or "#" in value or "?" in value:
        # The status URL's query string is aha's own (case, attempt): one given here would
        # be signed by Twilio and then mistaken for ours.
        raise ValueError(f"{name}: {value!r} must have no query string or fragment")
    if not path and parts.path not in ("", "/"):
        raise ValueError(f"{name}: {value!r} must be a bare origin such as {DEFAULT_API_BASE}")
    return value.rstrip("/") if not path else value
