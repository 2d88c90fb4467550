"""The reminder buttons' listeners: "Record as done" (and its confirmation modal), "Snooze to
next working day" and "Open case", on reminder messages and on App Home.

Each button acks at once and works afterwards; only case officers may use them (the
``officers_only`` decorator). The modal's submission records before it acks, so a refusal from
the lifecycle (out of order, before awareness...) is shown on the date field rather than lost
in a DM. What the buttons do to a case is handlers/slack/reminder_actions.py (ReminderActions,
reached as ``assistant.reminders``); the module docstring there says why the modal is sealed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.cases import CaseNotFound, CaseOutOfScope, StepClosed
from bot.core.lifecycle import MILESTONE_RULES, LifecycleError
from handlers.slack import blocks as bk
from handlers.slack import case_blocks as cb
from handlers.slack import ids
from handlers.slack import payloads as pl
from handlers.slack.assistant import SlackAssistant
from handlers.slack.context import tell, user_of, warning_lines
from handlers.slack.officers import officers_only
from handlers.slack.reminder_actions import original_message, update_reminder

log = logging.getLogger(__name__)

STALE_BUTTON = "That button is out of date. Open the case from the bot's Home tab instead."


def _user_of(body: dict[str, Any]) -> str:
    """The clicker's user ID, "" if none (the reminder listeners use it as a DM channel too)."""
    return user_of(body) or ""


def register(app: AsyncApp, assistant: SlackAssistant) -> None:
    """Register the three reminder buttons and the confirmation modal on ``app``."""
    actions = assistant.reminders
    officers_only_button = officers_only(assistant.officers)

    async def button_ref(
        body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Any
    ) -> cb.ReminderRef | None:
        """The button value, shared by the three buttons (the officer check is their decorator),
        once the case is one of the clicker's partnerships' (else the clicker is told so)."""
        try:
            ref = cb.parse_reminder_value(action.get("value"))
        except ValueError:
            await tell(body, client, respond, STALE_BUTTON)
            return None
        try:
            await assistant.check_scope(client, user_of(body), ref.reference)
        except CaseOutOfScope as exc:
            await tell(body, client, respond, str(exc))
            return None
        return ref

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

    @app.action(ids.RECORD_DONE)
    @officers_only_button
    async def on_record_done(
        ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
        client: AsyncWebClient, respond: Any,
    ) -> None:
        await ack()
        ref = await button_ref(body, action, client, respond)
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
            private_metadata=assistant.seal.seal(ids.RECORD_DONE_VIEW, _user_of(body), meta),
        )
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(ids.RECORD_DONE_VIEW)
    @pl.answers_slack(cb.DONE_ON)
    @officers_only(assistant.officers, field=cb.DONE_ON)
    async def on_record_done_submitted(
        ack: Callable[..., Awaitable[None]], body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        user = _user_of(body)

        async def refuse(message: str) -> None:
            await ack(response_action="errors", errors={cb.DONE_ON: message[:150]})

        try:
            meta = assistant.seal.open(ids.RECORD_DONE_VIEW, user, view.get("private_metadata"), pl.RecordDoneMeta)
            on = pl.FormValues(view).date(cb.DONE_ON)
        except pl.PayloadError as exc:
            await refuse(exc.message)
            return
        if on is None:
            await refuse("Pick the date it was done.")
            return
        ref = cb.ReminderRef(meta.reference, meta.deadline)
        try:
            await assistant.check_scope(client, user, ref.reference)
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
                + warning_lines(case.warnings)
            ),
        )
        if meta.home:
            await assistant.publish_home(client, user)

    @app.action(ids.SNOOZE)
    @officers_only_button
    async def on_snooze(
        ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
        client: AsyncWebClient, respond: Any,
    ) -> None:
        await ack()
        ref = await button_ref(body, action, client, respond)
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

    @app.action(ids.CASE_VIEW)
    @officers_only_button
    async def on_case_view(
        ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
        client: AsyncWebClient, respond: Any,
    ) -> None:
        await ack()
        ref = await button_ref(body, action, client, respond)
        if ref is None:
            return
        ok, found = await domain(lambda: actions.case_with_details(ref.reference, body["user"]["id"]), body, client, respond)
        if not ok:
            return
        case, details = found
        labels = {m.value: rule.label for m, rule in MILESTONE_RULES.items()}
        view = cb.case_summary_view(case, details, assistant.today(), labels)
        await client.views_open(trigger_id=body["trigger_id"], view=view)
