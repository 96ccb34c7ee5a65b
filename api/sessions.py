"""Page sign-in sessions and CSRF tokens.

The seller signs in once with its token; the page then keeps a signed session cookie
(HttpOnly, SameSite=Strict, scoped to that seller's page). The session names the token by its
digest, so removing the token from AHA_API_TOKENS ends the session at the next request.
Every form carries a CSRF token derived from a nonce in a cookie the page script cannot read.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from api.auth import Identity, TokenBook

SESSION_COOKIE = "aha_session"
NONCE_COOKIE = "aha_form"
SESSION_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Session:
    seller_id: str
    nonce: str


class Sessions:
    def __init__(self, secret: bytes, tokens: TokenBook, signed_out: dict[str, float]) -> None:
        self._secret = secret
        self._signer = URLSafeTimedSerializer(secret, salt="aha-page-session")
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
        if nonce in self._signed_out:
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
        now = time.time()
        for nonce, expiry in list(self._signed_out.items()):
            if expiry < now:
                del self._signed_out[nonce]
        self._signed_out[session.nonce] = now + SESSION_SECONDS
        response.delete_cookie(SESSION_COOKIE, path=_path(request))

    # ---- CSRF --------------------------------------------------------------------------------

    def form_nonce(self, request: Request) -> tuple[str, bool]:
        """The nonce that sign-in's CSRF token is made from, and whether it is new."""
        nonce = request.cookies.get(NONCE_COOKIE)
        if nonce and len(nonce) <= 64:
            return nonce, False
        return secrets.token_urlsafe(16), True

    def keep_form_nonce(self, response: Response, request: Request, nonce: str) -> None:
        self._set(response, request, NONCE_COOKIE, nonce, SESSION_SECONDS)

    def csrf_token(self, nonce: str) -> str:
        return hmac.new(self._secret, f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, nonce: str | None, presented: str) -> bool:
        if not nonce:
            return False
        # Bytes: compare_digest refuses str with non-ASCII characters (a 500, not a no).
        return hmac.compare_digest(self.csrf_token(nonce).encode(), presented.encode())

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
