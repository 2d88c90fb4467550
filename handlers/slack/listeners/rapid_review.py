"""The rapid review from Slack (issue 14): App Home's "Start rapid review" (case officers) and
"Sign off" (a safeguarding partner registered with their ``slack_user``).

Each button makes one call to the rapid review service, the same one the command line makes
(``rapid-review start`` with the referral's agencies proposed; ``rapid-review signoff``), so
the rules and the audit entry are the service's. The answer goes privately to who clicked;
App Home is redrawn. Nothing is posted to a channel.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.cases import OUT_OF_SCOPE, CaseNotFound, CaseOutOfScope
from bot.core.lifecycle import LifecycleError
from bot.core.rapid_review import RapidReviewError
from handlers.slack import ids
from handlers.slack import payloads as pl
from handlers.slack.assistant import SlackAssistant
from handlers.slack.context import tell, user_of
from handlers.slack.officers import officers_only

STALE = "That button is from an older message; open App Home again."


def register(app: AsyncApp, assistant: SlackAssistant) -> None:
    """Register the rapid review buttons on ``app``."""
    from bot.rapid_review import NotAPartner, RapidReviewService

    service = RapidReviewService(assistant.cases)

    async def run(body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Any,
                  call: Any, *, scoped: bool = True) -> None:
        user = user_of(body) or ""
        mine = True
        try:
            reference = pl.parse_case_value(action.get("value"))
            try:
                await assistant.check_scope(client, user, reference)
            except CaseOutOfScope:
                if scoped:
                    raise
                mine = False  # a sign-off: the partners the case's partnership registers may
            text = await asyncio.to_thread(call, reference, user)
        except pl.PayloadError:
            text = STALE
        except CaseNotFound:  # CaseOutOfScope too: the same words for "none" and "not yours"
            text = OUT_OF_SCOPE
        except NotAPartner as exc:  # outside the case's partnership: nothing of it is told
            text = str(exc) if mine else OUT_OF_SCOPE
        except (RapidReviewError, LifecycleError) as exc:
            text = str(exc.args[0]) if exc.args else str(exc)
        await tell(body, client, respond, text)
        await assistant.publish_home(client, user)

    def start(reference: str, user: str) -> str:
        view = service.start(reference, agencies=None, actor=f"slack:{user}")
        names = ", ".join(a.name for a in view.agencies)
        return (f"Rapid review {reference} started: {len(view.agencies)} agencies asked for their "
                f"summaries ({names}). {view.progress}.")

    def sign(reference: str, user: str) -> str:
        view = service.signoff_by_user(reference, user, actor=f"slack:{user}")
        return f"Your sign-off of rapid review {reference} is recorded. {view.progress}."

    @app.action(ids.RAPID_REVIEW_START)
    @officers_only(assistant.officers)
    async def on_start(ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient,
                       respond: Any) -> None:
        await ack()
        await run(body, action, client, respond, start)

    @app.action(ids.RAPID_REVIEW_SIGNOFF)
    async def on_signoff(ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient,
                         respond: Any) -> None:
        await ack()
        await run(body, action, client, respond, sign, scoped=False)
