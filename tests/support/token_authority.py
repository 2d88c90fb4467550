"""A loopback stand-in for Microsoft Entra ID's token endpoint, for XOAUTH2 tests.

It serves, over HTTPS with a CA of its own (made here with ``cryptography``), the two requests
msal makes for the client-credentials grant against a tenant-specific authority:

- ``GET /{tenant}/v2.0/.well-known/openid-configuration`` (msal's OIDC discovery; an unknown
  tenant gets HTTP 400 with ``AADSTS90002``, as Entra answers);
- ``POST /{tenant}/oauth2/v2.0/token`` with ``grant_type=client_credentials``, ``client_id``,
  ``scope`` and either ``client_secret`` or a ``client_assertion`` JWT signed with the app's
  certificate (RS256, ``x5t`` = the certificate's SHA-1 thumbprint). Errors carry Entra's
  ``error``, ``error_description`` (``AADSTS7000215: Invalid client secret provided. ...``) and
  ``error_codes``. Tokens are opaque, about 1.6 KB like real ones, and live ``lifetime`` s.

Beside it, on plain HTTP, the RFC 7662 introspection endpoint Dovecot's oauth2 passdb asks
(``POST /introspect``, form ``token=``): ``{"active": true, "username": <the app's mailbox>}``
for a token it issued that has not expired, else ``{"active": false}``. An app is registered
for one mailbox (Exchange's RBAC for Applications scoping). ``check`` answers the same question
for the SMTP stand-in. ``stop``/``start`` take the HTTPS side away and bring it back on the same
port (an authority outage); introspection stays up, as Exchange's own validation would.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.support.slack_api import free_port

TENANT = "11111111-2222-3333-4444-555555555555"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _certificate(subject: str, key: rsa.RSAPrivateKey, issuer: x509.Name, signer: rsa.RSAPrivateKey,
                 *, ca: bool, san: list[x509.GeneralName] | None = None) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(signer, hashes.SHA256())


@dataclass
class TestCA:
    """A throw-away certificate authority and a server certificate for 127.0.0.1/localhost."""

    folder: Path
    ca_file: Path = field(init=False)
    cert_file: Path = field(init=False)
    key_file: Path = field(init=False)

    def __post_init__(self) -> None:
        import ipaddress

        ca_key, server_key = _key(), _key()
        ca_cert = _certificate("safeguard-bot test CA", ca_key, _name("safeguard-bot test CA"), ca_key, ca=True)
        server_cert = _certificate(
            "127.0.0.1", server_key, ca_cert.subject, ca_key, ca=False,
            san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")])
        self.ca_file = self.folder / "ca.pem"
        self.cert_file = self.folder / "server.pem"
        self.key_file = self.folder / "server.key"
        self.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        self.cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
        self.key_file.write_bytes(_pem_key(server_key))


@dataclass
class App:
    """An app registration: its secret or certificate, and the one mailbox it may use."""

    client_id: str
    mailbox: str
    secret: str | None = None
    certificate: x509.Certificate | None = None

    @property
    def thumbprint(self) -> str:
        assert self.certificate is not None
        return self.certificate.fingerprint(hashes.SHA1()).hex().upper()  # Entra ID's x5t is SHA-1


def certificate_app(client_id: str, mailbox: str, folder: Path) -> tuple[App, Path]:
    """An app with a self-signed certificate, and the PEM file (key + certificate) for the bot."""
    key = _key()
    cert = _certificate(client_id, key, _name(client_id), key, ca=False)
    pem = folder / f"{client_id}.pem"
    pem.write_bytes(_pem_key(key) + cert.public_bytes(serialization.Encoding.PEM))
    return App(client_id=client_id, mailbox=mailbox, certificate=cert), pem


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenAuthority:
    def __init__(self, *, lifetime: float = 3600.0, jwt_tokens: bool = False) -> None:
        self.lifetime = lifetime
        # Entra's access tokens are JWTs; the mail tests treat them as opaque, the Teams SDK
        # reads their claims (``jwt_tokens``: RS256 JWTs signed with a key of this authority's).
        self._signer = _key() if jwt_tokens else None
        self.folder = Path(tempfile.mkdtemp(prefix="sgbot-authority-"))
        self.ca = TestCA(self.folder)
        self.port = free_port()
        self.introspection_port = free_port()
        self.apps: dict[str, App] = {}
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (client_id, expires at)
        self.scopes: dict[str, str] = {}  # token -> the scope it was asked for (its audience's /.default)
        self.requests: list[tuple[str, str]] = []  # (method, path) in order
        self.introspections = 0
        self._lock = threading.Lock()
        self._https: ThreadingHTTPServer | None = None
        self._introspection: ThreadingHTTPServer | None = None

    # --- registrations and tokens -------------------------------------------------------------

    def register(self, app: App) -> App:
        self.apps[app.client_id] = app
        return app

    def secret_app(self, client_id: str, mailbox: str) -> App:
        return self.register(App(client_id=client_id, mailbox=mailbox, secret=secrets.token_urlsafe(24)))

    @property
    def host(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def check(self, token: str) -> str | None:
        """The mailbox a live token is for, or None (unknown or expired)."""
        with self._lock:
            found = self.tokens.get(token)
        if found is None or found[1] <= time.time():
            return None
        app = self.apps.get(found[0])
        return app.mailbox if app else None

    def app_of(self, token: str) -> tuple[str, str] | None:
        """(client id, scope) of a live token, or None (unknown or expired)."""
        with self._lock:
            found = self.tokens.get(token)
            scope = self.scopes.get(token, "")
        if found is None or found[1] <= time.time():
            return None
        return found[0], scope

    def expires_at(self, token: str) -> float | None:
        with self._lock:
            found = self.tokens.get(token)
        return found[1] if found else None

    def revoke_all(self, client_id: str) -> None:
        """Every token of this app stops working (consent withdrawn, a revoked session)."""
        with self._lock:
            for token, (owner, _) in list(self.tokens.items()):
                if owner == client_id:
                    self.tokens[token] = (owner, 0.0)

    def issued(self, client_id: str | None = None) -> int:
        with self._lock:
            return sum(1 for c, _ in self.tokens.values() if client_id is None or c == client_id)

    def _issue(self, app: App, scope: str) -> dict[str, Any]:
        token = secrets.token_urlsafe(1200)
        if self._signer is not None:
            import jwt

            now = int(time.time())
            token = jwt.encode({"iss": f"{self.host}/{TENANT}/v2.0", "aud": scope.removesuffix("/.default"),
                                "appid": app.client_id, "tid": TENANT, "iat": now, "nbf": now,
                                "exp": now + int(self.lifetime), "jti": secrets.token_hex(8)},
                               self._signer, algorithm="RS256")
        with self._lock:
            self.tokens[token] = (app.client_id, time.time() + self.lifetime)
            self.scopes[token] = scope
        seconds = max(1, int(self.lifetime))
        return {"token_type": "Bearer", "expires_in": seconds, "ext_expires_in": seconds, "access_token": token}

    # --- the HTTP side --------------------------------------------------------------------------

    def _discovery(self, tenant: str) -> tuple[int, dict[str, Any]]:
        if tenant != TENANT:
            return 400, {"error": "invalid_tenant", "error_codes": [90002],
                         "error_description": f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure "
                                              "you have the correct tenant ID.\r\nTrace ID: 0"}
        base = f"{self.host}/{tenant}"
        return 200, {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "issuer": f"{self.host}/{tenant}/v2.0",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
        }

    def _token(self, tenant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        def fail(status: int, error: str, code: int, text: str) -> tuple[int, dict[str, Any]]:
            return status, {"error": error, "error_codes": [code],
                            "error_description": f"AADSTS{code}: {text}\r\nTrace ID: 0\r\nCorrelation ID: 0"}

        if tenant != TENANT:
            return fail(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            return fail(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        app = self.apps.get(form.get("client_id", ""))
        if app is None:
            return fail(400, "unauthorized_client", 700016,
                        f"Application with identifier '{form.get('client_id')}' was not found in the "
                        f"directory '{tenant}'.")
        if not form.get("scope", "").endswith("/.default"):
            return fail(400, "invalid_scope", 1002012, "The provided value for scope is not valid.")
        if "client_secret" in form:
            if app.secret is None or not secrets.compare_digest(form["client_secret"], app.secret):
                return fail(401, "invalid_client", 7000215,
                            "Invalid client secret provided. Ensure the secret being sent in the request "
                            f"is the client secret value, not the client secret ID, for a secret added to "
                            f"app '{app.client_id}'.")
            return 200, self._issue(app, form["scope"])
        assertion = form.get("client_assertion")
        if assertion and app.certificate is not None and self._assertion_ok(assertion, app, tenant):
            return 200, self._issue(app, form["scope"])
        return fail(401, "invalid_client", 700027, "Client assertion failed signature validation.")

    def _assertion_ok(self, assertion: str, app: App, tenant: str) -> bool:
        assert app.certificate is not None
        try:
            head, body, signature = assertion.split(".")
            header = json.loads(_b64url_decode(head))
            claims = json.loads(_b64url_decode(body))
            thumbprint = _b64url_decode(header.get("x5t", "")).hex().upper()
            public = app.certificate.public_key()
            assert isinstance(public, rsa.RSAPublicKey)
            public.verify(_b64url_decode(signature), f"{head}.{body}".encode(), padding.PKCS1v15(),
                          hashes.SHA256())
        except (ValueError, KeyError, InvalidSignature, AssertionError):
            return False
        return (header.get("alg") == "RS256" and thumbprint == app.thumbprint
                and claims.get("iss") == app.client_id and claims.get("sub") == app.client_id
                and claims.get("exp", 0) > time.time()
                and claims.get("aud", "").startswith(f"{self.host}/{tenant}/"))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _form(self) -> dict[str, str]:
                length = int(self.headers.get("Content-Length") or 0)
                parsed = parse_qs(self.rfile.read(length).decode())
                return {k: v[0] for k, v in parsed.items()}

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                authority.requests.append(("GET", path))
                parts = path.strip("/").split("/")
                if parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                    self._answer(*authority._discovery(parts[0]))
                else:
                    self._answer(404, {"error": "not_found"})

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                authority.requests.append(("POST", path))
                form = self._form()
                if path == "/introspect":
                    authority.introspections += 1
                    mailbox = authority.check(form.get("token", ""))
                    self._answer(200, {"active": True, "username": mailbox} if mailbox else {"active": False})
                    return
                parts = path.strip("/").split("/")
                if parts[1:] == ["oauth2", "v2.0", "token"]:
                    self._answer(*authority._token(parts[0], form))
                else:
                    self._answer(404, {"error": "not_found"})

        return Handler

    def start(self) -> TokenAuthority:
        """Serve the HTTPS authority (again, on the same port) and the introspection endpoint."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca.cert_file, self.ca.key_file)
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.allow_reuse_address = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._https = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        if self._introspection is None:
            plain = ThreadingHTTPServer(("127.0.0.1", self.introspection_port), self._handler())
            self._introspection = plain
            threading.Thread(target=plain.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Take the HTTPS authority away (connections are refused until ``start``)."""
        if self._https is not None:
            self._https.shutdown()
            self._https.server_close()
            self._https = None

    def close(self) -> None:
        self.stop()
        if self._introspection is not None:
            self._introspection.shutdown()
            self._introspection.server_close()
            self._introspection = None


def xoauth2_token(encoded: str | bytes) -> tuple[str, str] | None:
    """(user, token) from an XOAUTH2 initial response (base64 of ``user=U^Aauth=Bearer T^A^A``)."""
    try:
        text = base64.b64decode(encoded, validate=False).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    fields = dict(part.split("=", 1) for part in text.split("\x01") if "=" in part)
    auth = fields.get("auth", "")
    if "user" not in fields or not auth.startswith("Bearer "):
        return None
    return fields["user"], auth[len("Bearer "):]
