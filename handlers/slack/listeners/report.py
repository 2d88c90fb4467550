"""``/safeguarding report [FROM] [TO]``: the yearly report, to the asker privately.

Only case officers may ask (the late steps name case references). The headline figures come
back ephemerally where the command was typed, and the HTML report is uploaded (files_upload_v2:
files.getUploadURLExternal, the upload, files.completeUploadExternal) into the asker's DM with
the bot, never a channel. Registered before the criteria conversation's ``/safeguarding`` so its
matcher takes ``report`` first; any other text starts the conversation as before.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.dates import DateError, parse_date
from bot.core.report import ReportPeriodError, period_from
from handlers.report import render
from handlers.report.summary import headline
from handlers.slack.assistant import SlackAssistant
from handlers.slack.officers import officers_only

SCOPED_REPORT = ("You are a case officer of some partnerships here but not all, so the report cannot "
                 "be made for you from Slack; ask the server operator (`safeguard-bot report`).")
USAGE = "Use `/safeguarding report [FROM] [TO]`, dates like 2025-04-01 (default: the last complete 1 April to 31 March year)."


async def asks_for_report(body: dict[str, Any]) -> bool:
    words = str(body.get("text", "")).split()
    return bool(words) and words[0].lower() == "report"


def parse_period_words(text: str, today: date) -> Any:
    """The period ``report [from] FROM [[to] TO]`` asks for; DateError/ReportPeriodError if not."""
    words = [w for w in text.split()[1:] if w.lower() not in ("from", "to")]
    if len(words) > 2:
        raise DateError("give at most two dates")
    dates = [parse_date(w) for w in words]
    return period_from(dates[0] if dates else None, dates[1] if len(dates) > 1 else None, today)


def register(app: AsyncApp, assistant: SlackAssistant) -> None:
    @app.command("/safeguarding", matchers=[asks_for_report])
    @officers_only(assistant.officers)
    async def report(ack: Any, body: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        await ack()
        user = body["user_id"]
        try:
            period = parse_period_words(str(body.get("text", "")), assistant.today())
        except (DateError, ReportPeriodError) as exc:
            await respond(text=f"Could not make the report: {exc}. {USAGE}", response_type="ephemeral")
            return

        # Partnership scoping: the whole installation's report to an officer of every
        # partnership, one partnership's to an officer of just that one.
        mine = await assistant.my_partnerships(client, user)
        every = {p.key for p in assistant.settings.partnerships}
        if mine != every and len(mine) != 1:
            await respond(text=SCOPED_REPORT, response_type="ephemeral")
            return
        only = None if mine == every else next(iter(mine))

        def build() -> tuple[str, str]:
            figures = assistant.cases.yearly_report(period, partnership=only)
            return headline(figures), render(figures, "html")

        summary, page = await asyncio.to_thread(build)
        await respond(text=f"{summary}\nThe full report (HTML) is in your messages with me.",
                      response_type="ephemeral")
        try:
            opened = await client.conversations_open(users=user)
            await client.files_upload_v2(
                channel=opened["channel"]["id"],
                content=page.encode("utf-8"),
                filename=f"safeguarding-report-{period.start.isoformat()}-to-{period.end.isoformat()}.html",
                title=f"Yearly report {period.start.isoformat()} to {period.end.isoformat()}",
                initial_comment=summary,
            )
        except SlackApiError as exc:
            await respond(text=f"The report file could not be sent: {exc.response.get('error', 'Slack refused it')}.",
                          response_type="ephemeral")
