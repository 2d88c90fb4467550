"""Running the Slack app: Socket Mode (outbound WebSocket, works behind a council firewall) or
HTTP (Slack calls a public URL; requests are verified with the signing secret)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy import Engine

from bot.settings import Settings
from handlers.slack.app import build_app
from handlers.slack.assistant import SlackAssistant

log = logging.getLogger(__name__)


async def serve(settings: Settings, engine: Engine, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (or forever). Tokens are read from settings, never logged."""
    app = build_app(SlackAssistant(settings, engine, settings.criteria()))
    stop = stop or asyncio.Event()
    if settings.slack_mode == "socket":
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        if settings.slack_app_token is None:
            raise ValueError("Socket Mode needs SAFEGUARD_SLACK_APP_TOKEN (xapp-...)")
        handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
        await handler.connect_async()
        log.info("Slack: connected in Socket Mode")
        try:
            await stop.wait()
        finally:
            await handler.close_async()
        return
    runner = web.AppRunner(app.web_app(path="/slack/events"))
    await runner.setup()
    site = web.TCPSite(runner, settings.slack_http_host, settings.slack_http_port)
    await site.start()
    log.info("Slack: listening on %s:%s/slack/events", settings.slack_http_host, settings.slack_http_port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
