"""Page sign-in sessions and CSRF tokens, for each place people sign in: a seller's page, and
the specialists' console.

A person signs in once with a token; the page then keeps a signed session cookie (HttpOnly,
SameSite=Strict, scoped to the page's path). The session names the token by its digest, so
removing the token from AHA_API_TOKENS ends the session at the next request. Sign-out is kept
server-side, behind `aha.ports.SignedOutSessions`, so a copied cookie stops working in every
API process too. Every form carries a CSRF token derived from a nonce in a cookie the page
script cannot read.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer

from aha.ports import SignedOutSessions
from api.auth import Identity, TokenBook

SESSION_COOKIE = "aha_session"
NONCE_COOKIE = "aha_form"
SESSION_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Scope:
    """Where a session holds: its name (kept in the cookie, so a session signed in for one
    scope never opens another), its cookies' path, and whose tokens may sign in there."""

    name: str
    path: str
    admits: Callable[[Identity], bool]


def seller_page(seller_id: str) -> Scope:
    # The id has been checked against the seller-id pattern: it cannot add cookie attributes.
    return Scope(
        name=f"seller:{seller_id}",
        path=f"/account-health/{seller_id}",
        admits=lambda identity: identity.seller_id == seller_id,
    )


CONSOLE = Scope(name="console", path="/console", admits=lambda identity: identity.staff)


@dataclass(frozen=True)
class Session:
    identity: Identity
    nonce: str

    @property
    def seller_id(self) -> str | None:
        return self.identity.seller_id


class Sessions:
    def __init__(
        self, secret: bytes, tokens: TokenBook, signed_out: SignedOutSessions, scope: Scope
    ) -> None:
        self._secret = secret
        self._signer = URLSafeTimedSerializer(secret, salt="aha-page-session")
        self._nonce_signer = Signer(secret, salt="aha-sign-in-nonce")
        self._tokens = tokens
        self._signed_out = signed_out
        self.scope = scope

    def current(self, request: Request) -> Session | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            data = self._signer.loads(raw, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        if not isinstance(data, dict) or _scope_of(data) != self.scope.name:
            return None
        identity = Identity(role=str(data.get("role")), name=str(data.get("name")))
        try:
            token_digest = bytes.fromhex(str(data.get("token")))
        except ValueError:
            return None
        if not self.scope.admits(identity) or not self._tokens.holds(token_digest, identity):
            return None
        nonce = str(data.get("nonce"))
        if self._signed_out.is_signed_out(nonce):
            return None
        return Session(identity=identity, nonce=nonce)

    def start(self, response: Response, request: Request, identity: Identity, token: str) -> None:
        data = {
            "scope": self.scope.name,
            "role": identity.role,
            "name": identity.name,
            "token": hashlib.sha256(token.encode()).hexdigest(),
            "nonce": secrets.token_urlsafe(16),
        }
        self._set(response, request, SESSION_COOKIE, self._signer.dumps(data), SESSION_SECONDS)

    def end(self, response: Response, session: Session) -> None:
        """Sign out: the cookie goes, and a copy of it stops working too."""
        self._signed_out.sign_out(session.nonce, time.time() + SESSION_SECONDS)
        response.delete_cookie(SESSION_COOKIE, path=self.scope.path)

    # ---- CSRF --------------------------------------------------------------------------------

    def sign_in_nonce(self, request: Request) -> str | None:
        """The nonce of the sign-in form's CSRF token, if its cookie is one we signed."""
        raw = request.cookies.get(NONCE_COOKIE)
        if not raw:
            return None
        try:
            return self._nonce_signer.unsign(raw).decode()
        except BadSignature:
            return None

    def keep_sign_in_nonce(self, response: Response, request: Request, nonce: str) -> None:
        signed = self._nonce_signer.sign(nonce).decode()
        self._set(response, request, NONCE_COOKIE, signed, SESSION_SECONDS)

    def csrf_token(self, nonce: str, purpose: str = "form") -> str:
        # The purpose keeps a sign-in token from ever passing for a session's, and back.
        message = f"csrf:{purpose}:{nonce}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def csrf_ok(self, nonce: str | None, presented: str, purpose: str = "form") -> bool:
        if not nonce:
            return False
        # Bytes: compare_digest refuses str with non-ASCII characters (a 500, not a no).
        expected = self.csrf_token(nonce, purpose).encode()
        return hmac.compare_digest(expected, presented.encode())

    def _set(self, response: Response, request: Request, name: str, value: str, age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=age,
            path=self.scope.path,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


def _scope_of(data: dict[str, object]) -> str:
    # Sessions signed before scopes existed were a seller page's, and named only the seller.
    scope = data.get("scope")
    return str(scope) if scope is not None else f"seller:{data.get('seller')}"
