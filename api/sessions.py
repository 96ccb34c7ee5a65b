"""Page sign-in sessions and CSRF tokens.

The seller signs in once with its token; the page then keeps a signed session cookie
(HttpOnly, SameSite=Strict, scoped to that seller's page). The session names the token by its
digest, so removing the token from AHA_API_TOKENS ends the session at the next request.
Sign-out is kept server-side, behind `aha.ports.SignedOutSessions`, so a copied cookie stops
working in every API process too.
Every form carries a CSRF token derived from a nonce in a cookie the page script cannot read.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer

from aha.ports import SignedOutSessions
from api.auth import Identity, TokenBook

SESSION_COOKIE = "aha_session"
NONCE_COOKIE = "aha_form"
SESSION_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Session:
    seller_id: str
    nonce: str


class Sessions:
    def __init__(self, secret: bytes, tokens: TokenBook, signed_out: SignedOutSessions) -> None:
        self._secret = secret
        self._signer = URLSafeTimedSerializer(secret, salt="aha-page-session")
        self._nonce_signer = Signer(secret, salt="aha-sign-in-nonce")
        self._tokens = tokens
        self._signed_out = signed_out

    def current(self, request: Request, seller_id: str) -> Session | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            data = self._signer.loads(raw, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        if not isinstance(data, dict) or data.get("seller") != seller_id:
            return None
        identity = Identity(role=str(data.get("role")), name=str(data.get("name")))
        try:
            token_digest = bytes.fromhex(str(data.get("token")))
        except ValueError:
            return None
        if identity.seller_id != seller_id or not self._tokens.holds(token_digest, identity):
            return None
        nonce = str(data.get("nonce"))
        if self._signed_out.is_signed_out(nonce):
            return None
        return Session(seller_id=seller_id, nonce=nonce)

    def start(self, response: Response, request: Request, identity: Identity, token: str) -> None:
        data = {
            "seller": identity.seller_id,
            "role": identity.role,
            "name": identity.name,
            "token": hashlib.sha256(token.encode()).hexdigest(),
            "nonce": secrets.token_urlsafe(16),
        }
        self._set(response, request, SESSION_COOKIE, self._signer.dumps(data), SESSION_SECONDS)

    def end(self, response: Response, request: Request, session: Session) -> None:
        """Sign out: the cookie goes, and a copy of it stops working too."""
        self._signed_out.sign_out(session.nonce, time.time() + SESSION_SECONDS)
        response.delete_cookie(SESSION_COOKIE, path=_path(request))

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
            path=_path(request),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


def _path(request: Request) -> str:
    # One seller's cookies stay on that seller's page: /account-health/{seller_id}. The id has
    # been checked against the seller-id pattern, so it cannot add cookie attributes.
    seller_id = request.path_params.get("seller_id", "")
    return f"/account-health/{seller_id}"
