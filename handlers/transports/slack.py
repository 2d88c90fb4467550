"""Slack transport: chat.postMessage with Block Kit built from slack_sdk models.

Messages carry a neutral payload (a reminder's case reference, deadline, due date, rule and
source); this module renders it. Nothing here may add a child's details: payloads never hold
them, and the text is built only from the payload's fields.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import DeliveryError, OutboundMessage

TRANSIENT_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}

OCCASION_ICON = {"before": ":hourglass_flowing_sand:", "due": ":alarm_clock:", "overdue": ":rotating_light:"}


def reminder_blocks(payload: dict[str, Any]) -> list[Block]:
    """A reminder or escalation with the actions a practitioner takes from it."""
    reference = payload["reference"]
    occasion = payload["occasion"]
    icon = OCCASION_ICON.get(occasion, ":bell:")
    title = "Escalation" if occasion == "overdue" else "Reminder"
    value = json.dumps({"reference": reference, "deadline": payload["deadline"]})
    return [
        SectionBlock(
            text=MarkdownTextObject(
                text=(
                    f"{icon} *{title}: {reference}*\n*{payload['label']}* is "
                    f"{payload['phrase']} (due {payload['due_text']})."
                )
            )
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(text=f"Rule: {payload['rule']}"),
                MarkdownTextObject(text=f"Source: {payload['source']}"),
            ]
        ),
        ActionsBlock(
            block_id=f"reminder:{reference}:{payload['deadline']}"[:255],
            elements=[
                ButtonElement(
                    text="Record as done", action_id="reminder_record_done", value=value, style="primary"
                ),
                ButtonElement(text="Snooze to next working day", action_id="reminder_snooze", value=value),
                ButtonElement(text="Open case", action_id="case_view", value=value),
            ],
        ),
    ]


def digest_blocks(payload: dict[str, Any], body: str) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text=payload.get("title", "Weekly digest")[:150])]
    for section in payload.get("sections", []):
        blocks.append(SectionBlock(text=MarkdownTextObject(text=section[:2900])))
        blocks.append(DividerBlock())
    if len(blocks) == 1:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=body[:2900])))
    return blocks


def render_blocks(message: OutboundMessage) -> list[dict[str, Any]] | None:
    kind = message.payload.get("kind")
    if kind == "reminder":
        blocks = reminder_blocks(message.payload)
    elif kind == "digest":
        blocks = digest_blocks(message.payload, message.body)
    else:
        return None
    return [block.to_dict() for block in blocks]


class SlackTransport:
    """Posts to a channel (C…) or a user (U…/W…, which Slack delivers as a DM from the app)."""

    kind = "slack"

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def send(self, message: OutboundMessage) -> None:
        try:
            await self.client.chat_postMessage(
                channel=message.recipient,
                text=message.body[:3000],
                blocks=render_blocks(message),
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            response = exc.response
            status = getattr(response, "status_code", None)
            error = response.get("error", "") if hasattr(response, "get") else ""
            if status == 429 or error == "ratelimited":
                retry_after = _retry_after(response)
                raise DeliveryError("Slack rate limit", transient=True, retry_after=retry_after) from None
            if (status is not None and status >= 500) or error in TRANSIENT_ERRORS:
                raise DeliveryError(f"Slack unavailable ({status} {error})", transient=True) from None
            raise DeliveryError(f"Slack refused the message: {error or status}", transient=False) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise DeliveryError(f"Slack unreachable: {type(exc).__name__}", transient=True) from None


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", {}) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return float(value if isinstance(value, str) else value[0])
            except (TypeError, ValueError, IndexError):
                return None
    return None
