"""What every request needs: settings, the tokens, the directory and a Temporal connection."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

from fastapi import Request
from temporalio.client import Client

from aha.adapters.stores import (
    open_call_consents,
    open_case_board,
    open_programme_store,
    open_signed_out,
)
from aha.adapters.temporal.connection import connect
from aha.adapters.temporal.gateway import TemporalCases
from aha.board_reads import BoardReads
from aha.catalogue_file import load_catalogue, shipped_catalogue
from aha.config import Settings
from aha.domain.catalogue import Catalogue
from aha.domain.policy import Policy
from aha.domain.preferred import PreferredWindows
from aha.policy_file import load_policy
from aha.ports import CallConsents, ProgrammeStore, SignedOutSessions
from aha.service import CaseService, ContactUpdate, change_contact, change_preferred_windows
from aha.twilio_settings import TwilioCallbacks, twilio_callbacks
from api.auth import TokenBook, TokenSource
from api.errors import TemporalUnavailable

ResultT = TypeVar("ResultT")


def require_session_secret(settings: Settings) -> None:
    """On PostgreSQL the API runs as replicas: each must sign and read the same sessions."""
    if settings.uses_postgres and not settings.session_secret:
        raise ValueError(
            "AHA_SESSION_SECRET is required when AHA_DB is PostgreSQL: API replicas share the "
            "database, so page sessions, CSRF and page tokens signed by one must be valid on "
            "every other; set the same long random secret on each replica"
        )


class TemporalLink:
    """Connects on first use and keeps the connection: the API starts even if Temporal is down.

    Once connected, the SDK's client reconnects by itself; a call that fails meanwhile is a 503.
    """

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(connect(self.settings), timeout=5)
                except (RuntimeError, TimeoutError, OSError) as err:
                    raise TemporalUnavailable(
                        f"cannot reach Temporal at {self.settings.temporal_address}: {err}"
                    ) from err
        return self._client


@dataclass
class ApiState:
    settings: Settings
    token_source: TokenSource
    temporal: TemporalLink
    store: ProgrammeStore
    # The issue types detections may carry; read once, at start-up, so a bad file stops it.
    catalogue: Catalogue = field(default_factory=shipped_catalogue)
    # The policy new cases get (AHA_POLICY_FILE, as the worker reads it): the page's words.
    policy: Policy = field(default_factory=Policy)
    # Signs page sessions, CSRF and page tokens; several API processes must share it.
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    # Verifies Twilio's status callbacks; None refuses them all.
    twilio: TwilioCallbacks | None = None
    signed_out: SignedOutSessions = field(init=False)
    # Sellers' consent to calls (the dial reads it too, just before it rings).
    consents: CallConsents = field(init=False)
    # The queue, the call list and the dashboard: one row per case from the board, no
    # histories, and no Temporal (they still show while Temporal is down).
    reads: BoardReads = field(init=False)

    def __post_init__(self) -> None:
        self.signed_out = open_signed_out(self.settings)
        self.consents = open_call_consents(self.settings)
        self.reads = BoardReads(open_case_board(self.settings))

    @classmethod
    def from_settings(cls, settings: Settings, client: Client | None = None) -> ApiState:
        require_session_secret(settings)
        state = cls(
            settings=settings,
            token_source=TokenSource(settings.api_tokens_file),
            temporal=TemporalLink(settings, client),
            store=open_programme_store(settings),
            catalogue=load_catalogue(settings.issue_catalog),
            policy=load_policy(settings.policy_file),
            twilio=twilio_callbacks(settings),  # a bad AHA_TWILIO_* setting stops the API
        )
        if settings.session_secret:
            state.secret = hashlib.sha256(settings.session_secret.encode()).digest()
        return state

    @property
    def tokens(self) -> TokenBook:
        return self.token_source.book()

    async def service(self) -> CaseService:
        cases = TemporalCases(await self.temporal.client())
        return CaseService(cases, self.store, self.settings.task_queue, self.catalogue)

    async def change_contact(
        self, seller_id: str, *, email: str, phone: str | None, timezone: str, changed_by: str
    ) -> ContactUpdate:
        return await change_contact(
            self.store,
            seller_id,
            email=email,
            phone=phone,
            timezone=timezone,
            service=self.service,
            changed_by=changed_by,
            temporal_timeout=self.settings.api_timeout_seconds,
        )

    async def change_preferred_windows(
        self, seller_id: str, windows: PreferredWindows | None, *, changed_by: str
    ) -> ContactUpdate:
        return await change_preferred_windows(
            self.store,
            seller_id,
            windows,
            service=self.service,
            changed_by=changed_by,
            temporal_timeout=self.settings.api_timeout_seconds,
        )

    async def within(self, action: Awaitable[ResultT]) -> ResultT:
        """Every Temporal call gets an answer in bounded time: without a worker it never would."""
        try:
            return await asyncio.wait_for(action, timeout=self.settings.api_timeout_seconds)
        except TimeoutError:
            waited = self.settings.api_timeout_seconds
            try:
                service = await self.service()
                why = await service.explain_wait(waited, self.settings.temporal_address)
            except Exception:  # no client at all: say what we know, never guess a cause
                why = f"no answer within {waited:.0f}s from Temporal"
            raise TemporalUnavailable(why) from None


def state_of(request: Request) -> ApiState:
    state: ApiState = request.app.state.aha
    return state
