"""Putting a case right from Slack: the case modal's "Amend a date", "Assign" and "Close the
case" buttons and their modals (case officers only, ``officers_only``).

Each button pushes a modal onto the case modal with the reference sealed in its metadata
(payloads.MetadataSeal); each submission makes one call to the case service, the same one the
command line makes (amend_milestone, assign, close), so the rules, the audit entry and the
re-planned reminders are the service's. A refusal is shown on the modal's field; a success
closes the modal and is confirmed to the officer privately. Nothing is posted to a channel.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.cases import CaseNotFound, CaseOutOfScope, InvalidOwner
from bot.core.lifecycle import MILESTONE_RULES, LifecycleError
from handlers.slack import case_blocks as cb
from handlers.slack import ids
from handlers.slack import payloads as pl
from handlers.slack.assistant import SlackAssistant
from handlers.slack.context import tell, user_of, warning_lines
from handlers.slack.officers import officers_only

STALE = "That button is from an older message; open the case again."
_LABELS = {m.value: rule.label for m, rule in MILESTONE_RULES.items()}


def register(app: AsyncApp, assistant: SlackAssistant) -> None:
    """Register the three case buttons and their modals on ``app``."""
    cases = assistant.cases

    async def push(body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Any,
                   kind: str, build: Any) -> None:
        """The modal for one case button, pushed onto the case modal (or opened, from elsewhere)."""
        user = user_of(body) or ""
        try:
            reference = pl.parse_case_value(action.get("value"))
            await assistant.check_scope(client, user, reference)
            case = await asyncio.to_thread(cases.get, reference)
        except pl.PayloadError:
            await tell(body, client, respond, STALE)
            return
        except CaseOutOfScope as exc:
            await tell(body, client, respond, str(exc))
            return
        except CaseNotFound:
            await tell(body, client, respond, "There is no such case.")
            return
        sealed = assistant.seal.seal(kind, user, pl.CaseMeta(reference=case.reference))
        view = build(case, sealed)
        if (body.get("container") or {}).get("type") == "view":
            await client.views_push(trigger_id=body["trigger_id"], view=view)
        else:
            await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(ids.CASE_AMEND)
    @officers_only(assistant.officers)
    async def on_amend(ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient,
                       respond: Any) -> None:
        await ack()
        await push(body, action, client, respond, ids.CASE_AMEND_VIEW,
                   lambda case, sealed: cb.amend_view(case, _LABELS, assistant.today(), sealed))

    @app.action(ids.CASE_ASSIGN)
    @officers_only(assistant.officers)
    async def on_assign(ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient,
                        respond: Any) -> None:
        await ack()
        await push(body, action, client, respond, ids.CASE_ASSIGN_VIEW, cb.assign_view)

    @app.action(ids.CASE_CLOSE)
    @officers_only(assistant.officers)
    async def on_close(ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient,
                       respond: Any) -> None:
        await ack()
        await push(body, action, client, respond, ids.CASE_CLOSE_VIEW, cb.close_view)

    async def submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient,
                        kind: str, field: str, call: Any, done: str) -> None:
        """The frame the three submissions share: open the seal, read the form, call the
        service, show a refusal on ``field`` or close the modal and confirm privately."""
        user = user_of(body) or ""
        try:
            meta = assistant.seal.open(kind, user, view.get("private_metadata"), pl.CaseMeta, field=field)
            form = pl.FormValues(view)
            await assistant.check_scope(client, user, meta.reference)
            case = await asyncio.to_thread(call, meta.reference, form, f"slack:{user}")
        except pl.PayloadError as exc:
            await ack(response_action="errors", errors={exc.field or field: exc.message[:150]})
            return
        except (CaseNotFound, LifecycleError, InvalidOwner) as exc:
            message = str(exc.args[0]) if exc.args else str(exc)
            await ack(response_action="errors", errors={field: message[:150]})
            return
        await ack(response_action="clear")
        await client.chat_postMessage(channel=user, text=f"{done(case)}{warning_lines(case.warnings)}")

    def required(form: pl.FormValues, block: str, what: str) -> Any:
        value = form.date(block) if block == cb.AMEND_ON else (
            form.option(block) if block == cb.AMEND_MILESTONE else form.text(block))
        if not value:
            raise pl.PayloadError(f"{what} is needed.", block)
        return value

    @app.view(ids.CASE_AMEND_VIEW)
    @pl.answers_slack(cb.REASON)
    @officers_only(assistant.officers, field=cb.REASON)
    async def on_amend_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        def call(reference: str, form: pl.FormValues, actor: str) -> Any:
            milestone = required(form, cb.AMEND_MILESTONE, "The milestone")
            on = required(form, cb.AMEND_ON, "The right date")
            return cases.amend_milestone(reference, milestone, on=on,
                                         reason=required(form, cb.REASON, "A reason"), actor=actor)

        await submitted(ack, body, view, client, ids.CASE_AMEND_VIEW, cb.AMEND_ON, call,
                        lambda case: f"Amended a date on {case.reference}; its deadlines and reminders follow.")

    @app.view(ids.CASE_ASSIGN_VIEW)
    @pl.answers_slack(cb.OWNER)
    @officers_only(assistant.officers, field=cb.OWNER)
    async def on_assign_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        def call(reference: str, form: pl.FormValues, actor: str) -> Any:
            return cases.assign(reference, owner=required(form, cb.OWNER, "The owner"), actor=actor)

        await submitted(ack, body, view, client, ids.CASE_ASSIGN_VIEW, cb.OWNER, call,
                        lambda case: f"{case.reference} is now owned by {case.owner}.")

    @app.view(ids.CASE_CLOSE_VIEW)
    @pl.answers_slack(cb.REASON)
    @officers_only(assistant.officers, field=cb.REASON)
    async def on_close_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        def call(reference: str, form: pl.FormValues, actor: str) -> Any:
            return cases.close(reference, reason=required(form, cb.REASON, "A reason"), actor=actor)

        await submitted(ack, body, view, client, ids.CASE_CLOSE_VIEW, cb.REASON, call,
                        lambda case: f"Closed {case.reference}.")
