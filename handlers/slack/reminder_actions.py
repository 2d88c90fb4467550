"""Acting on a reminder from Slack: "Record as done", "Snooze to next working day", "Open case".

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

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cases import CaseNotFound, CaseView
from bot.core.lifecycle import MILESTONE_RULES, DeadlineStatus, LifecycleError
from handlers.slack import blocks as bk
from handlers.slack import case_blocks as cb
from handlers.slack import payloads as pl
from scheduler.timescales import Milestone

if TYPE_CHECKING:
    from handlers.slack.app import SlackAssistant

log = logging.getLogger(__name__)

STALE_BUTTON = "That button is out of date. Open the case from the bot's Home tab instead."


class StepClosed(LifecycleError):
    """The step is no longer open (met, missed or not applicable): nothing left to record."""

    def __init__(self, message: str, reference: str, step_label: str, completed_on: date | None) -> None:
        super().__init__(message)
        self.reference, self.step_label, self.completed_on = reference, step_label, completed_on


@dataclass(frozen=True)
class RecordPlan:
    """What "Record as done" will do for one deadline: record ``milestone`` on the case."""

    reference: str
    deadline_key: str
    step_label: str
    due: date
    milestone: Milestone

    @property
    def milestone_label(self) -> str:
        return MILESTONE_RULES[self.milestone].label


class ReminderActions:
    """The domain side of the buttons, kept out of the Bolt listeners so it reads plainly and
    runs in a worker thread (every method here touches the database)."""

    def __init__(self, assistant: SlackAssistant) -> None:
        self.assistant = assistant
        self.cases = assistant.cases

    def plan_record(self, ref: cb.ReminderRef) -> RecordPlan:
        """Which milestone meets this deadline, checked against the case as it is now.

        The ``met_by`` milestone comes from the case's own partnership's timescales, which a
        partnership may have edited. LifecycleError if the step is not (or no longer) open, so
        a second click on an old reminder says so instead of offering to record it twice.
        """
        case = self.cases.get(ref.reference)
        state = next((s for s in case.deadlines if s.deadline.key == ref.deadline), None)
        if state is None:
            raise LifecycleError(f"{case.reference} has no step {ref.deadline!r}")
        if state.status is not DeadlineStatus.OPEN:
            done = f" on {cb.fmt_day(state.completed_on)}" if state.completed_on else ""
            what = "no longer applies" if state.status is DeadlineStatus.NOT_APPLICABLE else f"was done{done}"
            raise StepClosed(
                f"{case.reference}: {state.deadline.label} {what}; nothing to record.",
                case.reference, state.deadline.label, state.completed_on,
            )
        return RecordPlan(
            reference=case.reference,
            deadline_key=ref.deadline,
            step_label=state.deadline.label,
            due=state.deadline.due,
            milestone=self.cases.milestone_meeting(case.partnership, ref.deadline),
        )

    def record(self, plan: RecordPlan, on: date, user: str) -> CaseView:
        return self.cases.record_milestone(
            plan.reference, plan.milestone, on=on, actor=f"slack:{user}", note="Recorded from a Slack reminder"
        )

    def snooze(self, ref: cb.ReminderRef, user: str) -> tuple[str, date, date]:
        """(step label, the day reminders resume, the unchanged due date)."""
        day = self.cases.snooze(ref.reference, ref.deadline, now=self.assistant.now(), actor=f"slack:{user}")
        case = self.cases.get(ref.reference)
        state = next(s for s in case.deadlines if s.deadline.key == ref.deadline)
        return state.deadline.label, day, state.deadline.due

    def case_with_details(self, reference: str) -> tuple[CaseView, dict[str, Any]]:
        return self.cases.get(reference), self.cases.details(reference)


def _user_of(body: dict[str, Any]) -> str:
    user = body.get("user")
    return str(user.get("id", "")) if isinstance(user, dict) else str(user or "")


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


def register_reminder_actions(app: AsyncApp, assistant: SlackAssistant, not_an_officer: str) -> None:
    """Register the three reminder buttons and the confirmation modal on ``app``."""
    actions = ReminderActions(assistant)

    async def tell(body: dict[str, Any], client: AsyncWebClient, respond: Any, text: str) -> None:
        """Answer only the person who clicked: ephemerally where the click came from, or by DM
        from App Home (which has no response_url)."""
        if body.get("response_url"):
            await respond(text=text, response_type="ephemeral", replace_original=False)
        else:
            await client.chat_postMessage(channel=_user_of(body), text=text)

    async def guarded(
        body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Any
    ) -> cb.ReminderRef | None:
        """The officer check and the button value, shared by the three buttons."""
        if not await assistant.officers.allows(client, _user_of(body) or None):
            await tell(body, client, respond, not_an_officer)
            return None
        try:
            return cb.parse_reminder_value(action.get("value"))
        except ValueError:
            await tell(body, client, respond, STALE_BUTTON)
            return None

    async def domain(
        call: Callable[[], Any], body: dict[str, Any], client: AsyncWebClient, respond: Any
    ) -> tuple[bool, Any]:
        """Run a service call in a thread; a refusal is told to the user, not raised."""
        try:
            return True, await asyncio.to_thread(call)
        except CaseNotFound:
            await tell(body, client, respond, "There is no such case (it may have been removed).")
        except LifecycleError as exc:
            await tell(body, client, respond, str(exc))
        return False, None

    @app.action(bk.RECORD_DONE)
    async def on_record_done(
        ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
        client: AsyncWebClient, respond: Any,
    ) -> None:
        await ack()
        ref = await guarded(body, action, client, respond)
        if ref is None:
            return
        message = original_message(body)
        try:
            plan = await asyncio.to_thread(actions.plan_record, ref)
        except StepClosed as closed:
            await tell(body, client, respond, str(closed))
            if message is not None and closed.completed_on is not None and body.get("response_url"):
                # Another copy of this reminder (channel vs. owner's DM), or the CLI, got there
                # first: take the buttons off this copy too. Through the response_url, which
                # Slack binds to the message clicked: a channel and ts in a request are not ours.
                await respond(
                    replace_original=True,
                    text=cb.recorded_message_text(closed.reference, closed.step_label, None, closed.completed_on),
                    blocks=bk.as_dicts(cb.recorded_message_blocks(
                        closed.reference, closed.step_label, None, closed.completed_on)),
                )
            return
        except CaseNotFound:
            await tell(body, client, respond, "There is no such case (it may have been removed).")
            return
        except LifecycleError as exc:
            await tell(body, client, respond, str(exc))
            return
        container, where = body.get("container"), body.get("view")
        home = (isinstance(container, dict) and container.get("type") == "view"
                and isinstance(where, dict) and where.get("type") == "home")
        meta = pl.RecordDoneMeta(
            reference=plan.reference, deadline=plan.deadline_key,
            channel=message[0] if message else None, ts=message[1] if message else None, home=home,
        )
        view = cb.record_done_view(
            reference=plan.reference,
            step_label=plan.step_label,
            milestone_label=plan.milestone_label,
            milestone_key=plan.milestone.value,
            due=plan.due,
            today=assistant.today(),
            private_metadata=assistant.seal.seal(bk.RECORD_DONE_VIEW, _user_of(body), meta),
        )
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(bk.RECORD_DONE_VIEW)
    @pl.answers_slack(cb.DONE_ON)
    async def on_record_done_submitted(
        ack: Callable[..., Awaitable[None]], body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        user = _user_of(body)

        async def refuse(message: str) -> None:
            await ack(response_action="errors", errors={cb.DONE_ON: message[:150]})

        if not await assistant.officers.allows(client, user or None):
            await refuse(not_an_officer)
            return
        try:
            meta = assistant.seal.open(bk.RECORD_DONE_VIEW, user, view.get("private_metadata"), pl.RecordDoneMeta)
            on = pl.FormValues(view).date(cb.DONE_ON)
        except pl.PayloadError as exc:
            await refuse(exc.message)
            return
        if on is None:
            await refuse("Pick the date it was done.")
            return
        ref = cb.ReminderRef(meta.reference, meta.deadline)
        try:
            plan = await asyncio.to_thread(actions.plan_record, ref)
            case = await asyncio.to_thread(actions.record, plan, on, user)
        except (CaseNotFound, LifecycleError) as exc:
            await refuse(str(exc))
            return
        await ack()
        log.info("recorded %s on %s from a Slack reminder", plan.milestone.value, case.reference)

        state = next((s for s in case.deadlines if s.deadline.key == plan.deadline_key), None)
        outcome = f" ({state.status.value.replace('_', ' ')})" if state is not None else ""
        if meta.channel and meta.ts:  # sealed when the button was clicked: where Slack said it was
            await update_reminder(client, (meta.channel, meta.ts), plan.reference, plan.step_label, user, on)
        await client.chat_postMessage(
            channel=user,
            text=(
                f"Recorded for {plan.reference}: {plan.milestone_label} on {cb.fmt_day(on)}. "
                f"{plan.step_label}{outcome}; its reminders have stopped."
                # The case service's warnings (a date in the future, a partnership gone).
                + "".join(f"\nWarning: {w}" for w in case.warnings)
            ),
        )
        if meta.home:
            await assistant.publish_home(client, user)

    @app.action(bk.SNOOZE)
    async def on_snooze(
        ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
        client: AsyncWebClient, respond: Any,
    ) -> None:
        await ack()
        ref = await guarded(body, action, client, respond)
        if ref is None:
            return
        user = _user_of(body)
        ok, result = await domain(lambda: actions.snooze(ref, user), body, client, respond)
        if not ok:
            return
        label, day, due = result
        await tell(
            body, client, respond,
            f"Reminders for {ref.reference} {label} snoozed until {cb.fmt_short(day)}. "
            f"The deadline has not moved: due {cb.fmt_day(due)}.",
        )

    @app.action(bk.CASE_VIEW)
    async def on_case_view(
        ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
        client: AsyncWebClient, respond: Any,
    ) -> None:
        await ack()
        ref = await guarded(body, action, client, respond)
        if ref is None:
            return
        ok, found = await domain(lambda: actions.case_with_details(ref.reference), body, client, respond)
        if not ok:
            return
        case, details = found
        labels = {m.value: rule.label for m, rule in MILESTONE_RULES.items()}
        view = cb.case_summary_view(case, details, assistant.today(), labels)
        await client.views_open(trigger_id=body["trigger_id"], view=view)
