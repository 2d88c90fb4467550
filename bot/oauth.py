"""OAuth2 access tokens for Microsoft 365 mail (IMAP and SMTP over XOAUTH2).

Exchange Online takes no password for IMAP and is turning SMTP AUTH with a password off, so an
unattended service signs in the way Microsoft documents for daemons: the client-credentials
grant of an app registration (msal's ``ConfidentialClientApplication.acquire_token_for_client``)
with a client secret or a certificate, for the scope ``https://outlook.office365.com/.default``.

Why here (bot/, beside the settings) and not in handlers/mail: the IMAP watcher and the SMTP
transport both need tokens, and one app registration's tokens are shared by both through one
provider (``provider_for``), so each token is fetched once and cached in msal's in-memory cache.
msal hands back the cached token until it has less than five minutes left, then fetches a fresh
one: a reconnecting IMAP session or a new SMTP connection always logs in with a live token.

Failures come in two kinds, because they need opposite handling:
- ``OAuthRefused``: the authority answered and said no (bad secret, tenant, client id,
  certificate, scope). Retrying will not help until someone fixes a setting, so the message is
  one line naming the setting and quoting the authority's AADSTS code.
- ``OAuthUnavailable``: the authority could not be reached or failed (network, 5xx). Transient:
  the callers back off and try again; nothing is lost meanwhile (mail waits in the mailbox, the
  outbox keeps its rows).

Trust: msal talks HTTPS through ``requests``, so ``REQUESTS_CA_BUNDLE`` decides which authority
certificates are trusted (the IMAP and SMTP connections use ``SSL_CERT_FILE``).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from bot.settings import MailboxSettings, Settings

# Which setting an AADSTS code blames (Microsoft's "Entra authentication and authorization
# error codes" list). Anything else blames the credential, the usual culprit.
_BLAME = {
    7000215: "client_secret",  # invalid client secret provided
    7000222: "client_secret",  # the client secret has expired
    700027: "certificate_file",  # client assertion: signature or certificate not registered
    700024: "certificate_file",  # client assertion not within its valid time range
    700016: "client_id",  # application not found in the directory
    90002: "tenant_id",  # tenant not found
    900023: "tenant_id",  # tenant identifier not valid
    90013: "tenant_id",  # invalid input received (malformed tenant)
    70011: "scope",  # the scope is not valid
    500011: "scope",  # resource principal not found (the scope's resource)
}
_AADSTS = re.compile(r"AADSTS\d+:[^.\r\n]*")
_TRANSIENT_ERRORS = {"temporarily_unavailable", "server_error"}
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"


class OAuthError(Exception):
    """A token could not be had; the message is one line and holds no secret."""


class OAuthRefused(OAuthError):
    """The authority refused the credentials: a setting is wrong (named in the message)."""


class OAuthUnavailable(OAuthError):
    """The authority could not be reached or failed: try again later."""


@dataclass(frozen=True)
class OAuthConfig:
    """One app registration's credentials, as resolved for a mailbox or the SMTP transport.

    ``names`` maps each field to the setting a person would fix (``SAFEGUARD_OAUTH_CLIENT_SECRET``,
    or the mailbox's own key in ``SAFEGUARD_MAILBOXES`` when the mailbox overrides it); it is
    not part of equality, so a mailbox and the SMTP transport on the same registration share a
    provider and its token cache.
    """

    tenant_id: str | None
    client_id: str | None
    client_secret: str | None = field(repr=False)
    certificate_file: Path | None
    certificate_thumbprint: str | None
    authority_host: str
    scope: str
    names: dict[str, str] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def of(cls, settings: Settings, mailbox: MailboxSettings | None = None, *, graph: bool = False) -> OAuthConfig:
        """The installation's SAFEGUARD_OAUTH_* values, with the mailbox's own oauth_* over them.

        ``graph``: for Microsoft Graph, whose scope is its own host's ``/.default``
        (https://graph.microsoft.com/.default) unless a scope was set explicitly."""
        values: dict[str, Any] = {}
        names: dict[str, str] = {}
        for key in ("tenant_id", "client_id", "client_secret", "certificate_file",
                    "certificate_thumbprint", "authority_host", "scope"):
            own = getattr(mailbox, f"oauth_{key}", None) if mailbox is not None else None
            if own is not None:
                values[key] = own
                names[key] = f"mailboxes[{mailbox.name}].oauth_{key} (SAFEGUARD_MAILBOXES)"  # type: ignore[union-attr]
            else:
                values[key] = getattr(settings, f"oauth_{key}")
                names[key] = f"oauth_{key} (SAFEGUARD_OAUTH_{key.upper()})"
        explicit = "oauth_scope" in settings.model_fields_set or (mailbox is not None and mailbox.oauth_scope)
        if graph and not explicit:
            parts = urlsplit(settings.graph_base_url)
            values["scope"] = f"{parts.scheme}://{parts.netloc}/.default"
        secret = values["client_secret"]
        return cls(
            tenant_id=values["tenant_id"], client_id=values["client_id"],
            client_secret=secret.get_secret_value() if secret is not None else None,
            certificate_file=values["certificate_file"],
            certificate_thumbprint=values["certificate_thumbprint"],
            authority_host=str(values["authority_host"]).rstrip("/"), scope=values["scope"], names=names,
        )

    def setting(self, key: str) -> str:
        return self.names.get(key, f"oauth_{key} (SAFEGUARD_OAUTH_{key.upper()})")

    @property
    def credential_key(self) -> str:
        return "certificate_file" if self.certificate_file is not None else "client_secret"

    @property
    def authority(self) -> str:
        """``{host}/{tenant}``: msal adds ``/oauth2/v2.0/token`` and the discovery path."""
        return f"{self.authority_host}/{self.tenant_id}"

    def check(self, needed_by: str) -> None:
        """Raise SettingsError (one line, naming the key) unless a token could be asked for."""
        from bot.settings import SettingsError

        for key in ("tenant_id", "client_id"):
            if not getattr(self, key):
                raise SettingsError(f"bad setting {self.setting(key)}: needed with {needed_by}")
        if self.client_secret and self.certificate_file is not None:
            raise SettingsError(f"bad setting {self.setting('client_secret')}: set either it or "
                                f"{self.setting('certificate_file')}, not both")
        if not self.client_secret and self.certificate_file is None:
            raise SettingsError(f"bad setting {self.setting('client_secret')}: needed with {needed_by} "
                                f"(or {self.setting('certificate_file')} with its thumbprint)")
        if self.certificate_file is not None:
            if not self.certificate_thumbprint:
                raise SettingsError(f"bad setting {self.setting('certificate_thumbprint')}: needed with "
                                    f"{self.setting('certificate_file')}")
            self._private_key()
        parts = urlsplit(self.authority_host)
        if parts.scheme != "https" or not parts.netloc or parts.path not in ("", "/"):
            raise SettingsError(f"bad setting {self.setting('authority_host')}: must be https://host "
                                f"(e.g. {DEFAULT_AUTHORITY_HOST})")

    def _private_key(self) -> str:
        """The PEM text of the certificate file, checked to hold a private key."""
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        from bot.settings import SettingsError

        assert self.certificate_file is not None
        try:
            pem = self.certificate_file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"bad setting {self.setting('certificate_file')}: cannot read "
                                f"{self.certificate_file} ({getattr(exc, 'strerror', None) or type(exc).__name__})") from None
        try:
            load_pem_private_key(pem.encode(), password=None)
        except (ValueError, TypeError):
            raise SettingsError(f"bad setting {self.setting('certificate_file')}: {self.certificate_file} "
                                "holds no unencrypted PEM private key") from None
        return pem

    def credential(self) -> str | dict[str, str]:
        """msal's ``client_credential``: the secret, or the certificate's key and thumbprint."""
        if self.certificate_file is None:
            assert self.client_secret is not None
            return self.client_secret
        return {"private_key": self._private_key(),
                "thumbprint": (self.certificate_thumbprint or "").replace(":", "").strip()}


class TokenProvider:
    """Access tokens for one app registration; thread-safe (the watchers run in threads)."""

    def __init__(self, config: OAuthConfig, *, timeout: float = 30.0) -> None:
        self.config = config
        self.timeout = timeout
        self._lock = threading.Lock()
        self._app: Any = None

    def _application(self) -> Any:
        """msal's application, made on first use: making it reads the authority's
        openid-configuration, which must not stop start-up while the authority is down."""
        if self._app is not None:
            return self._app
        import msal
        import requests
        from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

        host = urlsplit(self.config.authority_host).hostname or ""
        try:
            self._app = msal.ConfidentialClientApplication(
                self.config.client_id,
                client_credential=self.config.credential(),
                authority=self.config.authority,
                # MSAL's instance discovery asks Microsoft about the host; for a host it does
                # not know (a private or test authority) that must be off, as MSAL documents.
                instance_discovery=host in WELL_KNOWN_AUTHORITY_HOSTS,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise OAuthUnavailable(f"the token authority {self.config.authority_host} is unreachable "
                                   f"({type(exc).__name__})") from None
        except ValueError as exc:
            # An unknown tenant fails msal's OIDC discovery with HTTP 400 and Entra's AADSTS90002
            # (msal re-raises it as "Unable to get authority configuration": the code is inside).
            texts, cause = [], exc
            while cause is not None:
                texts.append(str(cause))
                cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
            quoted = next((_quote(t) for t in texts if _AADSTS.search(t)), "its OIDC discovery failed")
            raise OAuthRefused(f"bad setting {self.config.setting('tenant_id')}: the token authority "
                               f"refused it ({quoted})") from None
        return self._app

    def token(self, *, refresh: bool = False) -> str:
        """A live access token: msal's cached one, or a new one. ``refresh`` drops the cached
        token first (the server refused it: revoked, or consent changed since)."""
        import requests

        with self._lock:
            app = self._application()
            if refresh:
                app.remove_tokens_for_client()
            try:
                result = app.acquire_token_for_client(scopes=[self.config.scope])
            except requests.RequestException as exc:
                raise OAuthUnavailable(f"the token authority {self.config.authority_host} is unreachable "
                                       f"({type(exc).__name__})") from None
        if result and "access_token" in result:
            return str(result["access_token"])
        raise self._failure(result or {})

    def _failure(self, result: dict[str, Any]) -> OAuthError:
        error = str(result.get("error") or "no token")
        quoted = _quote(str(result.get("error_description") or "")) or error
        if error in _TRANSIENT_ERRORS:
            return OAuthUnavailable(f"the token authority {self.config.authority_host} failed ({quoted})")
        codes = result.get("error_codes") or []
        key = next((_BLAME[c] for c in codes if c in _BLAME), None)
        if key in ("client_secret", "certificate_file"):
            key = self.config.credential_key  # a secret code with a certificate configured: blame it
        return OAuthRefused(f"bad setting {self.config.setting(key or self.config.credential_key)}: "
                            f"the token authority refused it ({quoted})")


def _quote(description: str) -> str:
    """The authority's ``AADSTSnnnn: first sentence``, on one line (never a trace id or the rest)."""
    found = _AADSTS.search(description)
    if found:
        return found.group(0).strip()[:200]
    return " ".join(description.split())[:200]


_PROVIDERS: dict[OAuthConfig, TokenProvider] = {}
_PROVIDERS_LOCK = threading.Lock()


def provider_for(config: OAuthConfig) -> TokenProvider:
    """The one provider (and token cache) for this app registration in this process."""
    with _PROVIDERS_LOCK:
        provider = _PROVIDERS.get(config)
        if provider is None:
            provider = _PROVIDERS[config] = TokenProvider(config)
        return provider


def configs_in_use(settings: Settings) -> list[tuple[str, OAuthConfig]]:
    """Every app registration the settings sign in with, and what needs it (for start-up)."""
    used: list[tuple[str, OAuthConfig]] = []
    if settings.mail_backend == "graph":  # Graph knows no password: every mailbox, and sending
        return [(f"mailbox {box.name} (SAFEGUARD_MAIL_BACKEND=graph)", OAuthConfig.of(settings, box, graph=True))
                for box in settings.imap_mailboxes()]
    for box in settings.imap_mailboxes():
        if box.auth == "oauth2":
            used.append((f"mailbox {box.name} (auth = oauth2)", OAuthConfig.of(settings, box)))
    if settings.smtp_host is not None and settings.smtp_auth == "oauth2":
        used.append(("SAFEGUARD_SMTP_AUTH=oauth2", OAuthConfig.of(settings)))
    return used


def check_credentials(settings: Settings) -> list[str]:
    """At start-up: every registration in use gets a token now, so a bad secret, tenant or
    certificate stops start-up with one line (``OAuthRefused``/SettingsError) rather than at
    the first login. An unreachable authority is not fatal (the watchers retry): its one-line
    warnings are returned."""
    warnings: list[str] = []
    seen: set[OAuthConfig] = set()
    for needed_by, config in configs_in_use(settings):
        config.check(needed_by)
        if config in seen:
            continue
        seen.add(config)
        try:
            provider_for(config).token()
        except OAuthUnavailable as exc:
            warnings.append(f"{exc}; {needed_by} will keep trying")
    return warnings
