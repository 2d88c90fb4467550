"""App Home: drawn when a user opens it (their open cases, for a case officer)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.assistant import SlackAssistant


def register(app: AsyncApp, assistant: SlackAssistant) -> None:
    """Register the ``app_home_opened`` listener on ``app``."""

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        await assistant.publish_home(client, event["user"])
