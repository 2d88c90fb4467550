"""The Teams app, on the Teams SDK for Python (``microsoft-teams-apps``): its handlers and how
it is served.

The SDK serves the messaging endpoint (``POST /api/messages``) and validates every request's
token before any handler runs: a missing, forged or expired token is answered 401 by the SDK's
own ``InboundActivityTokenValidator``. The cloud it trusts (the OpenID metadata the signing keys
come from, the token issuer, the Entra login endpoint) is the SDK's ``CloudEnvironment``: the
public cloud unless settings name others (a sovereign cloud).

The handlers only parse and render: a personal chat message or a channel mention starts the
criteria assistant (in a channel the questions go to the asker in a personal chat, never into
the channel); every card button is an ``Action.Execute`` whose invoke is answered with the next
card, which Teams shows in place of the old one. Case officers (``teams_case_officers``, Entra
object ids or ``group:`` entries checked with Microsoft Graph: handlers/teams/officers.py) open cases from a result, see the case and act on reminders; everyone else gets the
same refusal as in Slack. Installing the app in a team records the channel's conversation
reference, so proactive messages (handlers/transports/teams.py) reach it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import uvicorn
from microsoft_teams.api import (
    Account,
    CreateConversationParams,
)
from microsoft_teams.apps import App
from microsoft_teams.apps.http import FastAPIAdapter
from pydantic import ValidationError
from sqlalchemy import Engine

from bot.cases import CaseNotFound, StepClosed, lists_officer
from bot.core.criteria import CriteriaAnswerError
from bot.core.lifecycle import LifecycleError
from bot.core.owners import InvalidOwner
from bot.settings import Settings, SettingsError
from handlers.slack import payloads as pl
from handlers.teams import cards
from handlers.teams.assistant import (
    NOT_AN_OFFICER,
    OPEN_CASE_SEAL,
    TeamsAssistant,
    conversation_key,
)
from handlers.teams.officers import UNAVAILABLE, OfficerCheckUnavailable
from handlers.transports.teams import bot_tokens, card_activity, cloud_of

log = logging.getLogger(__name__)

MESSAGING_ENDPOINT = "/api/messages"
_MENTION = re.compile(r"<at>.*?</at>", re.DOTALL)
CONVERSATION_STEPS = {cards.ANSWER, cards.HELP, cards.BACK, cards.RESTART}
REMINDER_VERBS = {cards.RECORD_DONE, cards.SNOOZE, cards.CASE_VIEW}
# The verbs that name a case: partnership scoping (bot/cases.py ``check_scope``) is asked first.
CASE_VERBS = REMINDER_VERBS | {cards.RECORD_DECISION, cards.ASSIGN}


def card_response(content: dict[str, Any]) -> dict[str, Any]:
    """The ``adaptiveCard/action`` answer that makes Teams show ``content`` in place of the card."""
    return {"statusCode": 200, "type": cards.CONTENT_TYPE, "value": content}


def _user(activity: Any) -> str:
    sender = activity.from_
    return str(getattr(sender, "aad_object_id", None) or sender.id)


def _tenant(activity: Any) -> str | None:
    conversation = activity.conversation
    return getattr(conversation, "tenant_id", None) or (activity.channel_data.tenant.id
                                                        if activity.channel_data and activity.channel_data.tenant
                                                        else None)


def build_app(assistant: TeamsAssistant, *, port: int | None = None) -> App:
    """The Teams app with every handler registered, serving ``assistant``."""
    settings = assistant.settings
    if not settings.teams_app_id:
        raise SettingsError("bad setting teams_app_id (SAFEGUARD_TEAMS_APP_ID): needed with SAFEGUARD_TEAMS_MODE")
    cloud = cloud_of(settings)
    tokens = bot_tokens(settings, cloud)
    host, listen = settings.teams_http_host, port or settings.teams_http_port

    def server(fastapi: Any) -> uvicorn.Server:
        return uvicorn.Server(uvicorn.Config(app=fastapi, host=host, port=listen, log_level="warning",
                                             access_log=False, lifespan="on"))

    app = App(
        client_id=settings.teams_app_id,
        token=tokens,
        tenant_id=settings.teams_tenant_id,
        cloud=cloud,
        service_url=settings.teams_service_url,
        http_server_adapter=FastAPIAdapter(server_factory=server),
        messaging_endpoint=MESSAGING_ENDPOINT,
    )

    async def privately(ctx: Any, content: dict[str, Any], summary: str) -> None:
        """Send ``content`` to the sender in their personal chat with the bot."""
        activity = ctx.activity
        if activity.conversation.conversation_type == "personal":
            await ctx.send(card_activity(content, summary))
            return
        created = await ctx.api.conversations.create(
            CreateConversationParams(
                is_group=False, members=[Account(id=activity.from_.id)], tenant_id=_tenant(activity),
                bot=Account(id=activity.recipient.id),
            )
        )
        await app.send(created.id, card_activity(content, summary), service_url=activity.service_url)

    @app.on_message
    async def on_message(ctx: Any) -> None:
        activity = ctx.activity
        key = conversation_key(_tenant(activity), _user(activity))
        text = _MENTION.sub(" ", activity.text or "").strip()
        content = await assistant.start(key, text)
        await privately(ctx, content, "Safeguarding criteria")
        if activity.conversation.conversation_type != "personal":
            await ctx.reply("I have sent you the questions in a private chat.")

    @app.on_install_add
    async def on_install(ctx: Any) -> None:
        activity = ctx.activity
        conversation = activity.conversation
        data = activity.channel_data
        team = getattr(data, "team", None) if data else None
        channel_id = team.id if team is not None and conversation.conversation_type == "channel" else conversation.id
        await asyncio.to_thread(
            assistant.remember_conversation, channel_id, service_url=activity.service_url,
            tenant_id=_tenant(activity), team_id=team.id if team is not None else None,
            kind=conversation.conversation_type or "personal",
        )
        if conversation.conversation_type == "channel":
            # Its id is what the partnership's teams_channel setting names.
            log.info("Teams: installed in a team; its channel conversation id is %s", channel_id)

    @app.on_card_action
    async def on_card_action(ctx: Any) -> dict[str, Any]:
        activity = ctx.activity
        action = activity.value.action
        verb, data = action.verb or "", dict(action.data or {})
        user = _user(activity)
        key = conversation_key(_tenant(activity), user)
        try:
            if verb in CONVERSATION_STEPS:
                return card_response(await assistant.step(key, verb, data))
            # A case officer: named by a partnership (then for its cases), or installation-wide.
            named = lists_officer(settings, user)
            try:
                installation = await asyncio.to_thread(assistant.is_officer, user)
            except OfficerCheckUnavailable:  # never allowed on an error (logged without the user)
                if not named:
                    return card_response(cards.message_card(UNAVAILABLE))
                installation = False
            if not (named or installation):
                return card_response(cards.message_card(NOT_AN_OFFICER))
            if activity.conversation.conversation_type != "personal" and verb not in REMINDER_VERBS:
                return card_response(cards.message_card("Cases are handled in your personal chat with the bot."))
            reference = str(data.get("reference") or "").strip()
            if verb in CASE_VERBS and (reference or verb != cards.RECORD_DECISION):
                # CaseOutOfScope (a CaseNotFound): the same words for "no such case" and "not yours"
                await asyncio.to_thread(assistant.cases.check_scope, reference, user,
                                        installation_officer=installation)
            allowed = {p.key for p in settings.partnerships
                       if assistant.cases.in_scope(p.key, user, installation_officer=installation)}
            if verb == cards.RECORD_FORM:
                return card_response(await asyncio.to_thread(assistant.record_form, key, user))
            if verb == cards.RECORD_DECISION:
                return card_response(await asyncio.to_thread(assistant.record_decision, key, user, data))
            if verb == cards.OPEN_CASE_FORM:
                return card_response(assistant.open_case_form(user, data, allowed))
            if verb == cards.OPEN_CASE:
                return card_response(await open_case(user, data, allowed))
            if verb in REMINDER_VERBS:
                return card_response(await reminder(ctx, user, verb, data))
            if verb == cards.ASSIGN:
                reference = pl.parse_case_value(json.dumps({"reference": data.get("reference")}))
                case = await asyncio.to_thread(assistant.cases.assign, reference,
                                               owner=str(data.get("owner") or ""), actor=f"teams:{user}")
                view = cards.case_card(case, assistant.today())
                view["body"].insert(0, cards.text(cards.plain(f"Assigned to {case.owner}.")))
                return card_response(view)
        except (pl.PayloadError, CriteriaAnswerError, ValidationError):
            return card_response(cards.message_card("That button is out of date: start again."))
        except (LifecycleError, CaseNotFound, InvalidOwner) as exc:
            return card_response(cards.message_card(str(exc)))
        except Exception as exc:  # noqa: BLE001 (answered, and logged without the message)
            # Logged by type only: a database error's text can quote the form (a child's name),
            # and the SDK would log str(exc) at ERROR if it reached it.
            log.error("Teams card action %s failed: %s", verb, type(exc).__name__)
            return card_response(cards.message_card("Something went wrong: check the case before trying again."))
        return card_response(cards.message_card("That button is out of date: start again."))

    async def open_case(user: str, data: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
        meta = assistant.seal.open(OPEN_CASE_SEAL, user, data.get("sealed"), pl.OpenCaseMeta)
        errors, cleaned = assistant.validate_case_form(data)
        if not errors and cleaned.get("partnership") not in allowed:
            errors = {"partnership": "you can open cases for your own partnerships only"}
        if errors:
            choices = [(p.key, p.name) for p in settings.partnerships if p.key in allowed]
            return cards.open_case_form(choices, assistant.today(), str(data.get("sealed")), errors)
        case, opened = await asyncio.to_thread(assistant.open_case, user, meta, cleaned)
        if opened:
            nxt = case.next_deadline
            due = f"{nxt.deadline.label} due {cards.fmt(nxt.deadline.due)}" if nxt else "none open"
            text = f"New case {case.reference} (decision: {meta.decision}; next deadline: {due})"
            # The partnership's team hears it through the outbox: its Teams channel, Slack
            # channel and team_email, whichever it has. Never the child's details.
            await asyncio.to_thread(assistant.cases.notify_team, case.reference,
                                    subject=f"[{case.reference}] New case", text=text, event="opened",
                                    besides=())
        view = cards.case_card(case, assistant.today())
        heading = "Opened." if opened else "That form was already submitted: it opened this case."
        view["body"].insert(0, cards.text(cards.plain(heading)))
        return view

    def reminder_payload(ref: pl.ReminderRef) -> dict[str, Any]:
        """The reminder card's neutral fields again (the card stays as it was in the channel)."""
        plan = assistant.cases.plan_step(ref.reference, ref.deadline)
        case = assistant.cases.get(ref.reference)
        state = next(s for s in case.deadlines if s.deadline.key == ref.deadline)
        return {"reference": ref.reference, "deadline": ref.deadline, "label": plan.step_label,
                "phrase": "due", "due_text": cards.fmt(plan.due), "rule": state.deadline.rule,
                "source": state.deadline.source, "occasion": "due"}

    async def reminder(ctx: Any, user: str, verb: str, data: dict[str, Any]) -> dict[str, Any]:
        ref = pl.parse_reminder_value(pl.ReminderRef(str(data.get("reference")), str(data.get("deadline"))).as_value())
        if verb == cards.CASE_VIEW:
            if ctx.activity.conversation.conversation_type != "personal":
                case = await asyncio.to_thread(assistant.cases.get, ref.reference)
                await privately(ctx, cards.case_card(case, assistant.today()), case.reference)
                return cards.reminder_card(await asyncio.to_thread(reminder_payload, ref))
            case = await asyncio.to_thread(assistant.cases.get, ref.reference)
            return cards.case_card(case, assistant.today())
        if verb == cards.SNOOZE:
            day = await asyncio.to_thread(assistant.cases.snooze, ref.reference, ref.deadline,
                                          now=assistant.now(), actor=f"teams:{user}")
            plan = await asyncio.to_thread(assistant.cases.plan_step, ref.reference, ref.deadline)
            label, due = plan.step_label, plan.due
            return cards.message_card(f"{ref.reference}: {label} snoozed; reminders resume on "
                                      f"{cards.fmt(day)}. Still due {cards.fmt(due)}.")
        try:
            plan = await asyncio.to_thread(assistant.cases.plan_step, ref.reference, ref.deadline)
        except StepClosed as exc:
            return cards.message_card(str(exc))
        on = assistant.today()
        await asyncio.to_thread(assistant.cases.record_milestone, plan.reference, plan.milestone, on=on,
                                actor=f"teams:{user}", note="Recorded from a Teams reminder")
        name = getattr(ctx.activity.from_, "name", None) or "a case officer"
        return cards.recorded_card(plan.reference, plan.step_label, name, on)

    return app


async def serve(settings: Settings, engine: Engine, stop: asyncio.Event | None = None) -> None:
    """Run the messaging endpoint until ``stop`` is set (or forever)."""
    app = build_app(TeamsAssistant(settings, engine, settings.criteria()))
    stop = stop or asyncio.Event()
    await app.initialize()
    task = asyncio.create_task(app.start(settings.teams_http_port))
    log.info("Teams: listening on %s:%s%s", settings.teams_http_host, settings.teams_http_port, MESSAGING_ENDPOINT)
    try:
        await stop.wait()
    finally:
        await app.stop()
        task.cancel()
