"""A loopback stand-in for the Bot Connector service Teams talks to a bot through.

One plain-HTTP server on a free 127.0.0.1 port, in its own thread, playing both sides of the
Bot Framework's documented authentication and REST API:

- **the OpenID issuer** whose signing keys the bot trusts for incoming activities
  (Bot Connector authentication, "Connector to bot"): ``GET /v1/.well-known/openidconfiguration``
  (``issuer``, ``jwks_uri``, ``id_token_signing_alg_values_supported``) and
  ``GET /v1/.well-known/keys`` (the JWKS, keys with ``kid``, ``endorsements: ["msteams"]``).
  :meth:`BotConnector.token` signs the JWT the channel sends as ``Authorization: Bearer``:
  ``iss`` the issuer, ``aud`` the bot's app id, ``serviceurl`` the activity's service URL,
  ``nbf``/``exp``; ``expired=True`` or ``forged=True`` (signed with a key nobody published)
  make the tokens the bot must refuse.
- **the Connector REST API** the bot calls back (the activity's ``serviceUrl``), bearer tokens
  checked against the Entra stand-in (tests/support/token_authority.py):
  ``POST /v3/conversations`` (create a personal chat: ``{"id", "serviceUrl", "activityId"}``),
  ``POST /v3/conversations/{id}/activities`` and ``.../activities/{replyToId}`` (send, reply:
  201 ``{"id"}``), ``PUT /v3/conversations/{id}/activities/{activityId}`` (update: 200 ``{"id"}``).
  Every call is recorded; :meth:`fail_next` answers the next sends with an error (429 with
  ``Retry-After`` for throttling, as the service documents).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.slack_api import free_port


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class ConnectorCall:
    method: str
    conversation: str | None
    activity_id: str | None
    body: dict[str, Any]
    status: int


@dataclass
class BotConnector:
    """The issuer and the Connector API. ``check_token`` says whether a bot's bearer token is
    live (the Entra stand-in's ``check``); None accepts any non-empty token."""

    check_token: Callable[[str], Any] | None = None
    port: int = field(default_factory=free_port)
    calls: list[ConnectorCall] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "loopback-" + secrets.token_hex(4)
        self._forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._failures: list[tuple[int, dict[str, str]]] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._server: ThreadingHTTPServer | None = None
        self._ids = 0

    # --- addresses ------------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return self.base

    @property
    def openid_metadata_url(self) -> str:
        return f"{self.base}/v1/.well-known/openidconfiguration"

    @property
    def service_url(self) -> str:
        return f"{self.base}/teams/"

    # --- the channel's side -----------------------------------------------------------------------

    def token(self, app_id: str, *, service_url: str | None = None, expired: bool = False,
              forged: bool = False, audience: str | None = None) -> str:
        """The JWT the Bot Connector service signs an activity it posts to the bot with."""
        now = int(time.time())
        start = now - 7200 if expired else now - 10
        claims = {
            "iss": self.issuer,
            "aud": audience or app_id,
            "serviceurl": service_url or self.service_url,
            "nbf": start,
            "iat": start,
            "exp": start + 3600 if expired else now + 3600,
        }
        key = self._forger if forged else self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})

    def fail_next(self, status: int, headers: dict[str, str] | None = None, count: int = 1) -> None:
        with self._lock:
            self._failures.extend([(status, headers or {})] * count)

    def sent(self, conversation: str | None = None) -> list[ConnectorCall]:
        """Activities the bot sent or updated (successful calls), oldest first."""
        with self._lock:
            return [c for c in self.calls if c.status < 300 and c.method in {"send", "update"}
                    and (conversation is None or c.conversation == conversation)]

    def wait_for(self, predicate: Callable[[list[ConnectorCall]], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(list(self.calls)):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"connector calls never matched: {self.calls!r}")
                self._changed.wait(left)

    # --- the HTTP side ------------------------------------------------------------------------------

    def _jwks(self) -> dict[str, Any]:
        public = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "kid": self.kid, "n": _b64(public.n),
                          "e": _b64(public.e), "endorsements": ["msteams"]}]}

    def _record(self, call: ConnectorCall) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def _next_id(self) -> str:
        with self._lock:
            self._ids += 1
            return f"1{self._ids:011d}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        connector = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body or {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/v1/.well-known/openidconfiguration":
                    self._answer(200, {"issuer": connector.issuer,
                                       "jwks_uri": f"{connector.base}/v1/.well-known/keys",
                                       "id_token_signing_alg_values_supported": ["RS256"],
                                       "token_endpoint_auth_methods_supported": ["private_key_jwt"]})
                elif self.path == "/v1/.well-known/keys":
                    self._answer(200, connector._jwks())
                else:
                    self._answer(404, {"error": {"code": "NotFound", "message": "no such resource"}})

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    return json.loads(raw or b"{}")
                except ValueError:
                    return {}

            def _authorised(self) -> bool:
                auth = self.headers.get("Authorization") or ""
                token = auth.removeprefix("Bearer ").strip()
                if not auth.startswith("Bearer ") or not token:
                    return False
                return connector.check_token is None or bool(connector.check_token(token))

            def _route(self, method: str) -> None:
                body = self._body()
                parts = [unquote(p) for p in self.path.split("?")[0].strip("/").split("/")]
                if parts[:1] == ["teams"]:
                    parts = parts[1:]
                if parts[:2] != ["v3", "conversations"]:
                    self._answer(404, {"error": {"code": "NotFound", "message": "no such resource"}})
                    return
                conversation = parts[2] if len(parts) > 2 else None
                activity_id = parts[4] if len(parts) > 4 else None
                kind = ("create" if conversation is None else
                        "update" if method == "PUT" else "send")
                if not self._authorised():
                    connector._record(ConnectorCall(kind, conversation, activity_id, body, 401))
                    self._answer(401, {"message": "Authorization has been denied for this request."})
                    return
                with connector._lock:
                    failure = connector._failures.pop(0) if connector._failures and kind != "create" else None
                if failure is not None:
                    status, headers = failure
                    connector._record(ConnectorCall(kind, conversation, activity_id, body, status))
                    self._answer(status, {"error": {"code": "Throttled" if status == 429 else "ServiceError",
                                                    "message": "try again later"}}, headers)
                    return
                if kind == "create":
                    members = body.get("members") or [{}]
                    new_id = f"a:personal-{members[0].get('id', 'unknown')}"
                    connector._record(ConnectorCall(kind, new_id, None, body, 201))
                    self._answer(201, {"id": new_id, "serviceUrl": connector.service_url,
                                       "activityId": connector._next_id()})
                    return
                new = activity_id if kind == "update" else connector._next_id()
                status = 200 if kind == "update" else 201
                connector._record(ConnectorCall(kind, conversation, activity_id, body, status))
                self._answer(status, {"id": new})

            def do_POST(self) -> None:
                self._route("POST")

            def do_PUT(self) -> None:
                self._route("PUT")

        return Handler

    def start(self) -> BotConnector:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
