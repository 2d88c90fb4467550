"""The criteria conversation's listeners: where it starts (``/safeguarding``, a mention, a DM,
App Home's buttons) and its buttons (an answer, help, back, start again).

The conversation engine (bot/conversation.py) decides every step; these only ack, hand the
button value to the assistant and show what comes back. In a channel the flow is private:
ephemeral replies that only the asker sees. A value the bot did not make gets the private
"cannot" reply, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.criteria import CriteriaAnswerError
from handlers.slack import ids
from handlers.slack import payloads as pl
from handlers.slack.assistant import SlackAssistant
from handlers.slack.context import cannot, team_of, user_of

Step = Callable[[str, str, object], Awaitable[tuple[list[dict[str, Any]], str]]]


def register(app: AsyncApp, assistant: SlackAssistant) -> None:
    """Register the entry points and the conversation's buttons on ``app``."""

    @app.command("/safeguarding")
    async def slash(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        blocks, text = await assistant.start(team_of(body), body["user_id"], body.get("text", ""))
        await respond(blocks=blocks, text=text, response_type="ephemeral")

    @app.event("app_mention")
    async def mention(event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        text = re.sub(r"<@[A-Z0-9]+>", "", event.get("text", ""))
        blocks, summary = await assistant.start(team_of(body), event["user"], text)
        # In a channel the flow is private: only the person who asked sees it.
        await client.chat_postEphemeral(
            channel=event["channel"], user=event["user"], blocks=blocks, text=summary
        )

    @app.event("message")
    async def direct_message(event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype"):
            return
        blocks, summary = await assistant.start(team_of(body), event["user"], event.get("text", ""))
        await client.chat_postMessage(channel=event["channel"], blocks=blocks, text=summary)

    def replace_with_next_turn(action_id: object, step: Step) -> None:
        """One conversation button: the engine's next turn replaces the message clicked; a
        value that is not this bot's (forged, or from an old release) gets a private refusal."""

        @app.action(action_id)
        async def on_click(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any,
                           client: AsyncWebClient) -> None:
            await ack()
            try:
                blocks, text = await step(team_of(body), user_of(body) or "", action.get("value"))
            except (pl.PayloadError, CriteriaAnswerError):
                await cannot(respond, client, body)
                return
            await respond(blocks=blocks, text=text, replace_original=True)

    replace_with_next_turn(ids.ANSWER_PATTERN, assistant.answer)
    replace_with_next_turn(ids.HELP, assistant.help)
    replace_with_next_turn(ids.BACK, assistant.back)
    replace_with_next_turn(ids.RESTART, assistant.restart)

    @app.action(ids.START_PATTERN)
    async def on_home_start(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any,
                            client: AsyncWebClient) -> None:
        await ack()
        user = user_of(body) or ""
        try:
            blocks, text = await assistant.restart(team_of(body), user, action.get("value"))
        except (pl.PayloadError, CriteriaAnswerError):
            await cannot(respond, client, body)
            return
        await client.chat_postMessage(channel=user, blocks=blocks, text=text)  # the bot's DM
