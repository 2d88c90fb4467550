"""Microsoft Graph: the small HTTP client both Graph mail paths use, and the sendMail transport.

Plain ``requests`` with msal tokens (bot.oauth), not msgraph-sdk: the bot needs five documented
endpoints (a folder's messages delta, a message's ``$value``, ``move``, ``mailFolders`` and
``sendMail``), the mailbox watcher is a blocking thread, and requests is already here as msal's
HTTP client; msgraph-sdk would bring Kiota's generated model of all of Graph and an async
runtime for those five calls, and hide the status codes (410, 429) the watcher must act on.

Every call carries a bearer token for the Graph scope. A 401 is retried once with a token
fetched afresh. 429 (throttling) and 503/504 wait as long as ``Retry-After`` says (1 s at
least, 5 min at most), as Microsoft's throttling guidance asks, and are retried; other answers
go back to the caller.

``GraphTransport`` sends the very MIME message the SMTP transport would (build_email: the same
Message-ID, threading headers and .ics), base64-encoded, to ``/users/{mailbox}/sendMail`` with
``Content-Type: text/plain``, the documented way to send MIME.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from handlers.transports.interface import DeliveryError, OutboundMessage
from handlers.transports.smtp import build_email

if TYPE_CHECKING:
    import requests

    from bot.oauth import TokenProvider

MIN_WAIT = 1.0
MAX_WAIT = 300.0
RETRY_STATUSES = {429, 503, 504}


class GraphUnavailable(Exception):
    """Graph could not be reached, or kept refusing: the caller backs off."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GraphRefused(Exception):
    """Graph refused a fresh token too (401/403): the app lacks permission for the mailbox."""


def retry_after(response: requests.Response) -> float:
    """Seconds to wait per ``Retry-After`` (seconds form, which Graph uses), bounded."""
    try:
        value = float(response.headers.get("Retry-After", "5"))
    except ValueError:
        value = 5.0
    return min(max(value, MIN_WAIT), MAX_WAIT)


class GraphClient:
    def __init__(self, base_url: str, tokens: TokenProvider, *, timeout: float = 30.0) -> None:
        import requests

        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.timeout = timeout
        self.session = requests.Session()
        self.throttled = 0  # how often Graph said 429/503 (for the log and tests)

    def user_path(self, mailbox: str) -> str:
        return f"{self.base_url}/users/{quote(mailbox)}"

    def request(self, method: str, url: str, *, stop: threading.Event | None = None, max_waits: int = 20,
                **kwargs: Any) -> requests.Response:
        """One call, with the token, the 401 refresh and the Retry-After waits."""
        import requests

        if not url.startswith(("http://", "https://")):
            url = self.base_url + url
        refreshed = False
        waits = 0
        while True:
            token = self.tokens.token(refresh=refreshed)
            headers = dict(kwargs.pop("headers", None) or {})
            headers["Authorization"] = f"Bearer {token}"
            try:
                response = self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
            except requests.RequestException as exc:
                raise GraphUnavailable(f"Microsoft Graph unreachable ({type(exc).__name__})") from None
            kwargs["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
            if response.status_code == 401 and not refreshed:
                refreshed = True
                continue
            if response.status_code in (401, 403):
                raise GraphRefused(f"Microsoft Graph refused the app ({response.status_code} "
                                   f"{_error_code(response)}): check Mail.ReadWrite/Mail.Send consent and "
                                   "the RBAC for Applications scope of the mailbox")
            if response.status_code in RETRY_STATUSES:
                self.throttled += 1
                wait = retry_after(response)
                waits += 1
                if waits > max_waits:
                    raise GraphUnavailable(f"Microsoft Graph kept answering {response.status_code}",
                                           retry_after=wait)
                if stop is not None:
                    if stop.wait(wait):
                        raise GraphUnavailable("stopping")
                else:
                    threading.Event().wait(wait)
                continue
            return response


def _error_code(response: requests.Response) -> str:
    try:
        return str(response.json().get("error", {}).get("code", ""))
    except ValueError:
        return ""


class GraphTransport:
    """E-mail through ``sendMail`` of ``mailbox`` (the partnership mailbox the bot sends as)."""

    kind = "email"

    def __init__(self, client: GraphClient, *, mailbox: str, sender: str) -> None:
        self.client = client
        self.mailbox = mailbox
        self.sender = sender

    def build(self, message: OutboundMessage) -> Any:
        return build_email(message, self.sender)

    async def send(self, message: OutboundMessage) -> None:
        mime = base64.b64encode(self.build(message).as_bytes())
        try:
            response = await asyncio.to_thread(
                self.client.request, "POST", f"{self.client.user_path(self.mailbox)}/sendMail", data=mime,
                headers={"Content-Type": "text/plain"}, max_waits=0)
        except GraphUnavailable as exc:
            raise DeliveryError(str(exc), transient=True, retry_after=exc.retry_after) from None
        except GraphRefused as exc:
            raise DeliveryError(str(exc), transient=True) from None
        except Exception as exc:  # noqa: BLE001 - OAuthError: the authority, retried later
            raise DeliveryError(f"Graph sign-in: {exc}", transient=True) from None
        if response.status_code == 202:
            return
        transient = response.status_code >= 500
        raise DeliveryError(f"Graph sendMail {response.status_code} {_error_code(response)}", transient=transient)
