"""Slack transport: chat.postMessage with Block Kit built from slack_sdk models.

Messages carry a neutral payload (a reminder's case reference, deadline, due date, rule and
source); this module renders it. Nothing here may add a child's details: payloads never hold
them, and the text is built only from the payload's fields.

This is also the one place where text becomes Slack mrkdwn. Message builders (intake notices,
reminders, the digest, delivery alerts) write plain text and never escape; a notice can quote
what an outsider typed or forged (a From domain, a recipient address), and in mrkdwn ``<!channel>``
would notify everyone and ``<https://evil.example|Open case>`` would be a disguised link. So every
text that goes into ``chat.postMessage``'s ``text`` or into a mrkdwn object is escaped here,
exactly once, per Slack's "Escaping text" (``&``, ``<``, ``>`` only). Formatting this module adds
itself (bold titles, emoji, bullets) is written around values that are already escaped.
"""

from __future__ import annotations

import asyncio
import re
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

from handlers.slack import ids
from handlers.transports.interface import DeliveryError, OutboundMessage

TRANSIENT_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}

OCCASION_ICON = {"before": ":hourglass_flowing_sand:", "due": ":alarm_clock:", "overdue": ":rotating_light:"}
# Messages without a richer layout: a bold title (the subject) over the escaped body.
NOTICE_ICON = {"intake_notice": ":inbox_tray:", "intake_quarantine": ":mag:", "alert": ":warning:"}
TEXT_LIMIT = 3000  # chat.postMessage text as sent (Slack truncates far later; keep it readable)
SECTION_LIMIT = 3000  # a section's mrkdwn text (Slack refuses the whole message above it)
HEADER_LIMIT = 150
_CUT_ENTITY = re.compile(r"&[a-z]{0,3}$")  # a trailing "&am", "&l": an entity cut in half


def escape_mrkdwn(text: str) -> str:
    """Plain text as mrkdwn that shows it literally: Slack's three control characters only.

    ``*``, ``_``, ``~`` and backticks are left alone: Slack documents only these three, and an
    outsider's asterisks can at worst make their own words bold, never notify or link.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(mrkdwn: str, limit: int) -> str:
    """``mrkdwn`` cut to ``limit`` characters without leaving half an entity at the end."""
    if len(mrkdwn) <= limit:
        return mrkdwn
    return _CUT_ENTITY.sub("", mrkdwn[:limit])


def md(text: str, limit: int = SECTION_LIMIT) -> str:
    """Plain text escaped for mrkdwn, fitted to ``limit``."""
    return fit(escape_mrkdwn(text), limit)


def _mrkdwn(mrkdwn: str, limit: int = SECTION_LIMIT) -> MarkdownTextObject:
    """A mrkdwn object from text that is already mrkdwn (escaped values, our own formatting)."""
    return MarkdownTextObject(text=fit(mrkdwn, limit))


def reminder_blocks(payload: dict[str, Any]) -> list[Block]:
    """A reminder or escalation with the actions a practitioner takes from it."""
    reference = str(payload["reference"])
    occasion = payload["occasion"]
    icon = OCCASION_ICON.get(occasion, ":bell:")
    title = "Escalation" if occasion == "overdue" else "Reminder"
    value = ids.reminder_value(reference, payload["deadline"])
    return [
        SectionBlock(
            text=_mrkdwn(
                f"{icon} *{title}: {md(reference, 100)}*\n*{md(str(payload['label']), 500)}* is "
                f"{md(str(payload['phrase']), 200)} (due {md(str(payload['due_text']), 100)})."
            )
        ),
        ContextBlock(
            elements=[
                _mrkdwn(f"Rule: {md(str(payload['rule']))}"),
                _mrkdwn(f"Source: {md(str(payload['source']))}"),
            ]
        ),
        ActionsBlock(
            block_id=f"reminder:{reference}:{payload['deadline']}"[:255],
            elements=[
                ButtonElement(
                    text="Record as done", action_id=ids.RECORD_DONE, value=value, style="primary"
                ),
                ButtonElement(text="Snooze to next working day", action_id=ids.SNOOZE, value=value),
                ButtonElement(text="Open case", action_id=ids.CASE_VIEW, value=value),
            ],
        ),
    ]


def _digest_section(section: Any) -> str:
    """One digest section as mrkdwn: ``{"heading", "lines"}`` from scheduler/digest.py, or the
    plain string of a digest queued by an earlier release."""
    if isinstance(section, dict):
        lines = [f"*{md(str(section.get('heading', '')), 200)}*"]
        lines += [f"• {md(str(line), 300)}" for line in section.get("lines", [])]
        return "\n".join(lines)
    return md(str(section))


def digest_blocks(payload: dict[str, Any], body: str) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text=str(payload.get("title", "Weekly digest"))[:HEADER_LIMIT])]
    for section in payload.get("sections", []):
        blocks.append(SectionBlock(text=_mrkdwn(_digest_section(section))))
        blocks.append(DividerBlock())
    if len(blocks) == 1:
        blocks.append(SectionBlock(text=_mrkdwn(md(body))))
    return blocks


def notice_blocks(icon: str, subject: str, body: str) -> list[Block]:
    """A notice or alert: the subject in bold over the body, both escaped."""
    heading = f"{icon} *{md(subject, 200)}*\n" if subject else ""
    return [SectionBlock(text=_mrkdwn(heading + md(body)))]


def render_blocks(message: OutboundMessage) -> list[dict[str, Any]] | None:
    kind = message.payload.get("kind")
    if kind == "reminder":
        blocks = reminder_blocks(message.payload)
    elif kind == "digest":
        blocks = digest_blocks(message.payload, message.body)
    elif kind in NOTICE_ICON:
        blocks = notice_blocks(NOTICE_ICON[kind], message.subject, message.body)
    elif kind == "rapid_review_signoff_request" and message.payload.get("reference"):
        # A safeguarding partner's DM (issue 14): the request, and the button that signs off.
        blocks = [*notice_blocks(":memo:", message.subject, message.body), ActionsBlock(
            block_id="rapid_review_signoff",
            elements=[ButtonElement(text="Sign off", action_id=ids.RAPID_REVIEW_SIGNOFF, style="primary",
                                    value=ids.case_value(str(message.payload["reference"])))])]
    else:
        return None
    return [block.to_dict() for block in blocks]


def render_text(message: OutboundMessage) -> str:
    """The message's ``text``: the plain-text body, escaped (Slack parses it as mrkdwn too, and
    it is what notifications and screen readers show)."""
    return md(message.body, TEXT_LIMIT)


class SlackTransport:
    """Posts to a channel (C…) or a user (U…/W…, which Slack delivers as a DM from the app)."""

    kind = "slack"

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def send(self, message: OutboundMessage) -> None:
        try:
            await self.client.chat_postMessage(
                channel=message.recipient,
                text=render_text(message),
                blocks=render_blocks(message),
                link_names=False,  # "@channel" typed as plain text stays plain text
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
