"""Case listeners: "Open a case" (the button and its modal) and "Record on a case" (a rapid
review decision: the button and its modal). Only case officers may use them (``officers_only``).

A modal's private_metadata is sealed when its button is clicked and opened again on submit
(payloads.MetadataSeal); every modal listener answers Slack whatever fails
(``payloads.answers_slack``). The channel notice is built from the reference, decision and
next deadline alone.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.cases import CaseNotFound
from bot.core.criteria import CriteriaAnswerError
from bot.core.lifecycle import LifecycleError
from handlers.console.render import rationale
from handlers.slack import blocks as bk
from handlers.slack import ids
from handlers.slack import payloads as pl
from handlers.slack.assistant import SlackAssistant, conversation_key
from handlers.slack.context import cannot, team_of, tell, user_of, warning_lines
from handlers.slack.officers import officers_only

NO_PARTNERSHIP = "You are not a case officer of any partnership here, so you cannot open a case."


def register(app: AsyncApp, assistant: SlackAssistant) -> None:
    """Register the case buttons and modals on ``app``."""

    @app.action(ids.OPEN_CASE)
    @officers_only(assistant.officers)
    async def on_open_case(ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        await ack()
        user = user_of(body)
        try:
            decision, answers = pl.parse_open_case_value(action.get("value"))
            if decision not in assistant.decisions():
                raise pl.PayloadError("not a decision")
        except pl.PayloadError:
            await cannot(respond, client, body)
            return
        # A new submission id for each modal: submitting this one again opens no second case.
        meta = pl.OpenCaseMeta(decision=decision, submission=pl.new_submission_id(), answers=answers)
        choices = assistant.partnership_choices(await assistant.my_partnerships(client, user))
        if not choices:
            await tell(body, client, respond, NO_PARTNERSHIP)
            return
        view = bk.open_case_view(
            choices, assistant.today(),
            assistant.seal.seal(ids.OPEN_CASE_VIEW, user or "", meta),
        )
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(ids.OPEN_CASE_VIEW)
    @pl.answers_slack("summary")
    @officers_only(assistant.officers, field="summary")
    async def on_case_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        user = user_of(body) or ""
        try:
            meta = assistant.seal.open(ids.OPEN_CASE_VIEW, user, view.get("private_metadata"),
                                       pl.OpenCaseMeta, field="summary")
        except pl.PayloadError as exc:
            await ack(response_action="errors", errors={exc.field or "summary": exc.message[:150]})
            return
        errors, cleaned = assistant.validate_case_form(pl.FormValues(view))
        if not errors and cleaned.get("partnership") not in await assistant.my_partnerships(client, user):
            errors = {"partnership": "You can open cases for your own partnerships only."}
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        decision = bk.known_decision(meta.decision)
        try:
            case, opened = await asyncio.to_thread(assistant.open_case, user, meta, cleaned)
        except (LifecycleError, CaseNotFound, ValueError) as exc:
            await client.chat_postMessage(channel=user, text=f"The case was not opened: {exc}")
            return
        if not opened:
            # The same form again (a replay, a double click): the case it opened, no new notice.
            await client.chat_postMessage(
                channel=user, text=f"That form was already submitted: it opened {case.reference}."
            )
            return
        nxt = case.next_deadline
        step = nxt.deadline.label if nxt else None
        due = nxt.deadline.due if nxt else None
        notice = bk.as_dicts(bk.case_notice_blocks(case.reference, decision, step, due))
        text = bk.case_notice_text(case.reference, decision, step, due)
        channel = assistant.settings.partnership(case.partnership).slack_channel
        if channel:
            await client.chat_postMessage(channel=channel, blocks=notice, text=text)
        # The partnership's shared mailbox (team_email) hears it too, through the outbox.
        await asyncio.to_thread(assistant.cases.notify_team, case.reference, subject=f"[{case.reference}] New case",
                                text=text, event="opened")
        warned = warning_lines(case.warnings)  # the case service's
        await client.chat_postMessage(channel=user, blocks=notice, text=f"Opened. {text}{warned}")

    @app.action(ids.RECORD_DECISION)
    @officers_only(assistant.officers)
    async def on_record(ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        await ack()
        user = user_of(body)
        state = await asyncio.to_thread(
            assistant.talk.finished_review, conversation_key(team_of(body), user or "")
        )
        if state is None:
            await respond(text="That rapid review conversation has ended; start again with `/safeguarding review`.",
                          replace_original=False)
            return
        evaluation = assistant.tree.flow("review").evaluate(state.answers)
        sealed = assistant.seal.seal(ids.RECORD_VIEW, user or "", pl.RecordDecisionMeta(answers=dict(state.answers)))
        view = bk.record_decision_view(evaluation.title, assistant.today(), sealed)
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(ids.RECORD_VIEW)
    @pl.answers_slack("reference")
    @officers_only(assistant.officers, field="reference")
    async def on_record_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        user = user_of(body) or ""
        errors: dict[str, str] = {}
        form = pl.FormValues(view)
        reference: str | None = None
        on: date | None = None
        try:
            reference = form.text("reference")
        except pl.PayloadError as exc:
            errors["reference"] = exc.message
        try:
            on = form.date("on")
        except pl.PayloadError as exc:
            errors["on"] = exc.message
        try:
            meta = assistant.seal.open(ids.RECORD_VIEW, user, view.get("private_metadata"),
                                       pl.RecordDecisionMeta, field="reference")
            evaluation = assistant.tree.flow("review").evaluate(meta.answers)
        except pl.PayloadError as exc:
            errors["reference"] = exc.message
        except CriteriaAnswerError:
            errors["reference"] = "The rapid review questions have changed: start again with `/safeguarding review`."
        if reference is None:
            errors.setdefault("reference", "Enter the case reference.")
        if on is None:
            errors.setdefault("on", "Pick the date of the decision.")
        if errors or reference is None or on is None:
            await ack(response_action="errors", errors={k: v[:150] for k, v in errors.items()})
            return
        try:
            await assistant.check_scope(client, user, reference)
            # Every milestone of the decision: a national recommendation and the local decision.
            case = await asyncio.to_thread(
                assistant.cases.record_decision, reference, evaluation.milestones, on=on,
                actor=f"slack:{user}", note=rationale(evaluation),
            )
        except (CaseNotFound, LifecycleError) as exc:
            await ack(response_action="errors", errors={"reference": str(exc)[:150]})
            return
        await ack()
        await asyncio.to_thread(assistant.talk.forget, conversation_key(team_of(body), user))
        await client.chat_postMessage(
            channel=user,
            text=f"Recorded {' and '.join(evaluation.milestones)} on {on.isoformat()} for {case.reference}."
            + warning_lines(case.warnings),
        )
