"""Who sent a Slack request, and how to answer only them.

Slack puts the user and team in different places for a slash command (``user_id``), an event
(``event.user``) and an interaction (``user.id``); these read each. Every private reply goes
through ``tell`` so a button on App Home (no response_url) is answered by DM, and a button in
a message ephemerally, never in the channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

CANNOT = (
    "That button cannot be used: it is out of date or was not made by this bot. "
    "Start again with `/safeguarding`."
)


def warning_lines(warnings: Sequence[str]) -> str:
    """The case service's warnings (a future date, a partnership gone), one line each, to add to
    a confirmation the officer reads: the same rendering wherever a case operation is confirmed."""
    return "".join(f"\nWarning: {w}" for w in warnings)


def user_of(body: dict[str, Any]) -> str | None:
    """The Slack user ID of whoever sent ``body`` (an interaction, a command), or None."""
    user = body.get("user")
    if isinstance(user, dict):
        return user.get("id")
    return body.get("user_id") or user


def team_of(body: dict[str, Any]) -> str:
    """The workspace's team ID: part of the conversation key, so one person's conversations in
    two workspaces stay apart."""
    team = body.get("team")
    if isinstance(team, dict):
        return str(team.get("id", "T"))
    return str(body.get("team_id") or team or "T")


async def tell(body: dict[str, Any], client: AsyncWebClient, respond: Any, text: str) -> None:
    """Answer only the person who clicked: ephemerally where the click came from, or by DM
    from App Home (which has no response_url)."""
    if body.get("response_url"):
        await respond(text=text, response_type="ephemeral", replace_original=False)
    elif user_of(body):
        await client.chat_postMessage(channel=user_of(body) or "", text=text)


async def cannot(respond: Any, client: AsyncWebClient, body: dict[str, Any]) -> None:
    """Tell only the clicker that the button cannot be used (by DM where there is no
    response_url, as on App Home)."""
    await tell(body, client, respond, CANNOT)
