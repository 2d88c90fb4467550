"""The Slack adapter's Bolt app (slack-bolt, async): the AsyncApp, its middleware, and every
listener module registered on it.

The shape follows slackapi's bolt-python app templates: this module only builds the app;
handlers/slack/listeners/ holds the listeners, one module per concern, each with
``register(app, assistant)``; handlers/slack/assistant.py is the logic they call. Every
listener acks at once and does its work afterwards (Slack gives 3 seconds). The conversation
runs privately: ephemeral messages in channels, the bot's DM otherwise; the only thing ever
posted to a channel is the case notice, built from the reference, decision and next deadline.

Every button value and modal private_metadata is read through handlers/slack/payloads.py: a
malformed one gets a private "cannot do that" reply (buttons) or a field error (modals), and
every modal listener answers Slack even if something unexpected fails (never an HTTP 500).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.assistant import SlackAssistant
from handlers.slack.listeners import MODULES

log = logging.getLogger(__name__)


def build_app(
    assistant: SlackAssistant,
    *,
    client: AsyncWebClient | None = None,
    process_before_response: bool = False,
) -> AsyncApp:
    """The Bolt app with every listener registered, serving ``assistant``.

    The caller builds the assistant (the runner from settings; a test with its own ``today``
    and ``now``) and keeps it: that is how it reaches the same conversations and case service
    the listeners use. ``client`` lets tests point the Web API at a loopback server; in
    production it is built from the bot token.
    """
    settings = assistant.settings
    if client is None:
        if settings.slack_bot_token is None:
            raise ValueError("SAFEGUARD_SLACK_BOT_TOKEN is not set")
        client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value())
    if not any(isinstance(h, AsyncRateLimitErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    http = settings.slack_mode == "http"
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    app = AsyncApp(
        client=client,
        signing_secret=secret,
        request_verification_enabled=http or bool(secret),
        process_before_response=process_before_response,
        name="safeguard-bot",
    )

    @app.middleware
    async def deduplicate_retries(req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Any]) -> Any:
        """Slack re-sends an event it thinks failed (X-Slack-Retry-Num); handle each event_id once."""
        body = req.body or {}
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id:
            first = await asyncio.to_thread(assistant.conversations.claim_event, str(event_id))
            if not first:
                retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
                log.info("ignoring retried event %s (retry %s)", event_id, retry)
                return BoltResponse(status=200, body="")
        return await next()

    for listeners in MODULES:
        listeners.register(app, assistant)
    return app
