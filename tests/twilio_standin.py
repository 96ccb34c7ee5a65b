"""A stand-in for Twilio's REST API, which lies outside our world: an HTTP server on
loopback that the test owns. It takes `POST /2010-04-01/Accounts/{sid}/Calls.json` as
Twilio does (HTTP Basic auth, a form body), records each request, and answers with a
call resource, or with the error a test queues (Twilio's error JSON).

Only what aha uses is modelled; the phone network behind it is the test's callbacks."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class CreatedCall:
    sid: str
    auth: tuple[str, str]
    form: dict[str, list[str]]

    def one(self, name: str) -> str:
        (value,) = self.form[name]
        return value


@dataclass
class TwilioStandIn:
    account_sid: str
    username: str
    password: str
    calls: list[CreatedCall] = field(default_factory=list)
    # Errors to answer the next create requests with: (HTTP status, Twilio error code).
    refusals: list[tuple[int, int]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> TwilioStandIn:
        standin = self
        sids = itertools.count(1)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                path = f"/2010-04-01/Accounts/{standin.account_sid}/Calls.json"
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                auth = self._auth()
                if self.path != path:
                    self._answer(404, _error(404, 20404, "The requested resource was not found"))
                    return
                if auth != (standin.username, standin.password):
                    self._answer(401, _error(401, 20003, "Authenticate"))
                    return
                form = parse_qs(body.decode(), keep_blank_values=True)
                with standin._lock:
                    if standin.refusals:
                        status, code = standin.refusals.pop(0)
                        self._answer(status, _error(status, code, "refused by the stand-in"))
                        return
                    sid = f"CA{next(sids):032x}"
                    standin.calls.append(CreatedCall(sid, auth, form))
                self._answer(201, _call(standin.account_sid, sid, form))

            def _auth(self) -> tuple[str, str]:
                scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
                if scheme != "Basic":
                    return ("", "")
                user, _, password = base64.b64decode(encoded).decode().partition(":")
                return (user, password)

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _call(account_sid: str, sid: str, form: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "sid": sid,
        "account_sid": account_sid,
        "to": form.get("To", [""])[0],
        "from": form.get("From", [""])[0],
        "status": "queued",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "date_created": None,
        "uri": f"/2010-04-01/Accounts/{account_sid}/Calls/{sid}.json",
    }
