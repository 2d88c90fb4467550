"""Teams transport: proactive messages to a Teams conversation through the Bot Connector API
(``POST {serviceUrl}/v3/conversations/{id}/activities``), sent with the Teams SDK for Python's
``ApiClient`` and the bot's own token (the client-credentials grant of its app registration,
with a secret or a certificate, through bot/oauth.py).

Messages carry a neutral payload (a reminder's case reference, deadline, due date, rule and
source); this module renders it as an Adaptive Card. Nothing here may add a child's details:
payloads never hold them, and the cards are built only from the payload's fields.

This is also the one place where text becomes Adaptive Card Markdown: a ``TextBlock`` renders a
subset of Markdown, so every value that goes into one goes through :func:`plain`, exactly once
(an outsider's ``[Open case](https://evil.example)`` stays literal text, not a disguised link).
handlers/teams/cards.py builds the assistant's cards from these same helpers.

The recipient is a conversation id (the partnership's ``teams_channel``); the service URL is
the one Teams gave for it when the app was installed (store/teams.py), else the configured
``teams_service_url``. Throttling (429) and outages (5xx, network) are transient, with the
server's ``Retry-After`` honoured by the outbox sender's backoff; anything else (an unknown
conversation, the bot removed from the team) is permanent.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

import httpx
from microsoft_teams.api import ApiClient, Attachment, MessageActivityInput
from microsoft_teams.api.auth.cloud_environment import (
    PUBLIC,
    CloudEnvironment,
    with_overrides,
)
from microsoft_teams.common.http import Client, ClientOptions

from handlers.transports.interface import DeliveryError, OutboundMessage

if TYPE_CHECKING:
    from bot.oauth import OAuthConfig
    from bot.settings import Settings

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
TEXT_LIMIT = 2000
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~])")

def plain(text: str, limit: int = TEXT_LIMIT) -> str:
    """Text shown literally in a TextBlock: Markdown's punctuation backslash-escaped."""
    return _MARKDOWN.sub(r"\\\1", text[:limit])


def fmt(day: date) -> str:
    return day.strftime("%a %d %b %Y")


def text(value: str, *, weight: str | None = None, subtle: bool = False, size: str | None = None) -> dict[str, Any]:
    """A wrapping TextBlock of already-escaped text."""
    block: dict[str, Any] = {"type": "TextBlock", "text": value, "wrap": True}
    if weight:
        block["weight"] = weight
    if subtle:
        block["isSubtle"] = True
    if size:
        block["size"] = size
    return block


def execute(title: str, verb: str, data: Mapping[str, Any] | None = None, *, primary: bool = False) -> dict[str, Any]:
    action: dict[str, Any] = {"type": "Action.Execute", "title": title[:80], "verb": verb, "data": dict(data or {})}
    if primary:
        action["style"] = "positive"
    return action


def card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body}
    if actions:
        result["actions"] = actions
    return result


def attachment(content: dict[str, Any]) -> dict[str, Any]:
    return {"contentType": CONTENT_TYPE, "content": content}



# The reminder buttons' verbs (handlers/teams/app.py acts on them).
RECORD_DONE, SNOOZE, CASE_VIEW = "record_done", "snooze", "case_view"


def reminder_card(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A reminder or escalation with the actions a practitioner takes from it. Built only from
    the payload's neutral fields (reference, deadline, due date, rule, source)."""
    reference = str(payload["reference"])
    title = "Escalation" if payload.get("occasion") == "overdue" else "Reminder"
    data = {"reference": reference, "deadline": str(payload["deadline"])}
    return card(
        [
            text(f"**{title}: {plain(reference, 100)}**"),
            text(f"**{plain(str(payload['label']), 500)}** is {plain(str(payload['phrase']), 200)} "
                 f"(due {plain(str(payload['due_text']), 100)})."),
            text(f"Rule: {plain(str(payload['rule']))}", subtle=True),
            text(f"Source: {plain(str(payload['source']))}", subtle=True),
        ],
        [
            execute("Record as done", RECORD_DONE, data, primary=True),
            execute("Snooze to next working day", SNOOZE, data),
            execute("Open case", CASE_VIEW, data),
        ],
    )



def digest_card(payload: Mapping[str, Any], body_text: str) -> dict[str, Any]:
    body = [text(plain(str(payload.get("title", "Weekly digest"))), weight="Bolder", size="Medium")]
    for section in payload.get("sections", []):
        if isinstance(section, dict):
            body.append(text(f"**{plain(str(section.get('heading', '')), 200)}**"))
            body += [text(f"- {plain(str(line), 300)}") for line in section.get("lines", [])]
        else:
            body.append(text(plain(str(section))))
    if len(body) == 1:
        body.append(text(plain(body_text)))
    return card(body)


def notice_card(subject: str, body_text: str) -> dict[str, Any]:
    """A notice or alert: the subject in bold over the body, both escaped."""
    blocks = [text(f"**{plain(subject, 200)}**")] if subject else []
    return card([*blocks, text(plain(body_text))])


def render_card(message: OutboundMessage) -> dict[str, Any]:
    kind = message.payload.get("kind")
    if kind == "reminder":
        return reminder_card(message.payload)
    if kind == "digest":
        return digest_card(message.payload, message.body)
    return notice_card(message.subject, message.body)


def card_activity(content: dict[str, Any], summary: str = "") -> MessageActivityInput:
    """A message activity carrying one Adaptive Card (``summary``: the notification text)."""
    activity = MessageActivityInput(text=summary or None)
    return activity.add_attachments(Attachment(content_type=CONTENT_TYPE, content=content))


def cloud_of(settings: Settings) -> CloudEnvironment:
    """The SDK's cloud environment: the public cloud with any endpoints settings override."""
    return with_overrides(
        PUBLIC,
        login_endpoint=settings.teams_login_endpoint,
        openid_metadata_url=settings.teams_openid_metadata_url,
        token_issuer=settings.teams_token_issuer,
    )


def app_config(settings: Settings, cloud: CloudEnvironment, *, scope: str, tenant_id: str | None = None) -> OAuthConfig:
    """The Teams app registration's client-credentials config (secret or certificate) for
    ``scope``, its errors naming the SAFEGUARD_TEAMS_* settings."""
    from bot.oauth import OAuthConfig

    secret = settings.teams_app_password.get_secret_value() if settings.teams_app_password else None
    names = {"client_id": "teams_app_id (SAFEGUARD_TEAMS_APP_ID)",
             "client_secret": "teams_app_password (SAFEGUARD_TEAMS_APP_PASSWORD)",
             "tenant_id": "teams_tenant_id (SAFEGUARD_TEAMS_TENANT_ID)",
             "certificate_file": "teams_certificate_file (SAFEGUARD_TEAMS_CERTIFICATE_FILE)",
             "certificate_thumbprint": "teams_certificate_thumbprint (SAFEGUARD_TEAMS_CERTIFICATE_THUMBPRINT)",
             "authority_host": "teams_login_endpoint (SAFEGUARD_TEAMS_LOGIN_ENDPOINT)"}
    return OAuthConfig(
        tenant_id=tenant_id or settings.teams_tenant_id or cloud.login_tenant, client_id=settings.teams_app_id,
        client_secret=secret, certificate_file=settings.teams_certificate_file,
        certificate_thumbprint=settings.teams_certificate_thumbprint,
        authority_host=cloud.login_endpoint.rstrip("/"), scope=scope, names=names,
    )


def bot_tokens(settings: Settings, cloud: CloudEnvironment) -> Callable[..., Awaitable[str]]:
    """The bot's own tokens for the Bot Connector API: the client-credentials grant of its app
    registration, with a client secret or a certificate, through bot/oauth.py (msal, cached,
    one-line errors naming the setting). Single-tenant bots use their tenant; multi-tenant
    ones Bot Framework's."""
    from bot.oauth import provider_for

    config = app_config(settings, cloud, scope=cloud.bot_scope)
    config.check("SAFEGUARD_TEAMS_MODE")
    provider = provider_for(config)

    async def token(*_: Any) -> str:
        return await asyncio.to_thread(provider.token)

    return token


class TeamsTransport:
    """Posts an Adaptive Card to a Teams conversation (a channel, or a personal chat)."""

    kind = "teams"

    def __init__(self, token: Callable[..., Awaitable[str]], service_url_for: Callable[[str], str | None],
                 default_service_url: str, cloud: CloudEnvironment = PUBLIC) -> None:
        self.token = token
        self.service_url_for = service_url_for
        self.default_service_url = default_service_url
        self.cloud = cloud

    async def send(self, message: OutboundMessage) -> None:
        service_url = self.service_url_for(message.recipient) or self.default_service_url
        api = ApiClient(service_url, Client(ClientOptions(token=self.token, timeout=30)), cloud=self.cloud)
        activity = card_activity(render_card(message), message.subject or message.body[:200])
        try:
            await api.conversations.activities(message.recipient).create(activity)
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            if status == 429:
                raise DeliveryError("Teams rate limit", transient=True,
                                    retry_after=_retry_after(exc.response)) from None
            if status >= 500:
                raise DeliveryError(f"Teams unavailable ({status})", transient=True) from None
            raise DeliveryError(f"Teams refused the message: HTTP {status}", transient=False) from None
        except httpx.TransportError as exc:
            raise DeliveryError(f"Teams unreachable: {type(exc).__name__}", transient=True) from None
        except Exception as exc:  # the token: OAuthRefused is permanent, OAuthUnavailable is not
            from bot.oauth import OAuthRefused, OAuthUnavailable

            if isinstance(exc, OAuthUnavailable):
                raise DeliveryError(str(exc), transient=True) from None
            if isinstance(exc, OAuthRefused):
                raise DeliveryError(str(exc), transient=False) from None
            raise


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def teams_transport(settings: Settings, engine: Any = None) -> TeamsTransport:
    """The transport from settings, with the stored conversation references when a database
    is at hand (the service URL Teams gave at install)."""
    lookup: Callable[[str], str | None] = lambda _conversation: None
    if engine is not None:
        from store import teams as teams_repo
        from store.db import session_scope

        def lookup(conversation: str) -> str | None:
            with session_scope(engine) as session:
                return teams_repo.service_url(session, conversation)

    cloud = cloud_of(settings)
    return TeamsTransport(bot_tokens(settings, cloud), lookup, settings.teams_service_url, cloud)
