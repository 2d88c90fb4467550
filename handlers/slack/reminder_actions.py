"""Acting on a reminder from Slack: "Record as done", "Snooze to next working day", "Open case".

This module is the domain side (what the buttons do, run in a worker thread); the Bolt listeners
that call it are in handlers/slack/listeners/reminders.py.

The buttons are rendered by the Slack transport (handlers/transports/slack.py) on every reminder
and escalation, and by App Home for each open case's next deadline; their value is JSON with the
case reference and the deadline key, never anything about the child.

Every listener acks at once (Slack allows 3 seconds) and only case officers may act. Recording
goes through a confirmation modal because a milestone cannot be unrecorded from Slack and the
date matters: the deadline is met or missed by it. The modal's submission records before it
acks, so a refusal from the lifecycle (out of order, before awareness...) can be shown on the
date field rather than lost in a DM.

Which message to change once a step is recorded is never taken from the submission: the modal's
private_metadata is sealed (payloads.MetadataSeal) when the button is clicked, from the message
Slack says the click came from (a forged click gets no modal: views.open needs the trigger_id of
a real one). A click on a step that is already done changes its own message through the click's
response_url, which Slack binds to that message, not through a channel and ts it names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cases import CaseService, CaseView, RecordPlan
from bot.settings import Settings
from handlers.slack import blocks as bk
from handlers.slack import case_blocks as cb
from handlers.slack import payloads as pl

log = logging.getLogger(__name__)


class ReminderActions:
    """The domain side of the buttons, kept out of the Bolt listeners so it reads plainly and
    runs in a worker thread (every method here touches the database)."""

    def __init__(self, cases: CaseService, settings: Settings, now: Callable[[], datetime]) -> None:
        self.cases = cases
        self.settings = settings
        self.now = now  # the moment a snooze counts from

    def plan_record(self, ref: cb.ReminderRef) -> RecordPlan:
        """What "Record as done" will record: the case service's plan (StepClosed when the
        step is no longer open)."""
        return self.cases.plan_step(ref.reference, ref.deadline)

    def record(self, plan: RecordPlan, on: date, user: str) -> CaseView:
        return self.cases.record_milestone(
            plan.reference, plan.milestone, on=on, actor=f"slack:{user}", note="Recorded from a Slack reminder"
        )

    def snooze(self, ref: cb.ReminderRef, user: str) -> tuple[str, date, date]:
        """(step label, the day reminders resume, the unchanged due date)."""
        day = self.cases.snooze(ref.reference, ref.deadline, now=self.now(), actor=f"slack:{user}")
        case = self.cases.get(ref.reference)
        state = next(s for s in case.deadlines if s.deadline.key == ref.deadline)
        return state.deadline.label, day, state.deadline.due

    def case_with_details(self, reference: str, user: str) -> tuple[CaseView, dict[str, Any]]:
        """The case and its children's details for the Slack case view (the look is audited)."""
        return self.cases.get(reference), self.cases.child_details(
            reference, actor=f"slack:{user}", via="slack case view")


def original_message(body: dict[str, Any]) -> tuple[str, str] | None:
    """(channel, ts) of the message the button was on, when chat.update can change it.

    Ephemeral messages and App Home have no message to update; neither has anything that does
    not look like a Slack channel ID and message timestamp.
    """
    container = body.get("container")
    if not isinstance(container, dict) or container.get("type") != "message" or container.get("is_ephemeral"):
        return None
    return pl.message_location(container.get("channel_id"), container.get("message_ts"))


async def update_reminder(
    client: AsyncWebClient, message: tuple[str, str], reference: str, step_label: str,
    user: str | None, on: date,
) -> None:
    """Replace a reminder message with its "done" form (no buttons). Best effort: the record
    already stands, so a deleted or too-old message only leaves the old text in place."""
    channel, ts = message
    try:
        await client.chat_update(
            channel=channel,
            ts=ts,
            text=cb.recorded_message_text(reference, step_label, user, on),
            blocks=bk.as_dicts(cb.recorded_message_blocks(reference, step_label, user, on)),
        )
    except SlackApiError as exc:
        log.warning("could not update a reminder message: %s", exc.response.get("error"))
