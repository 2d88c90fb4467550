"""The Slack adapter: the criteria assistant, case opening and App Home on slack-bolt (async).

Every listener acks at once and does its work afterwards (Slack gives 3 seconds). Database work
runs in a thread so the event loop keeps serving. The conversation runs privately: ephemeral
messages in channels, the bot's DM otherwise; the only thing ever posted to a channel is the
case notice, built from the reference, decision and next deadline alone.

Every button value and modal private_metadata is read through handlers/slack/payloads.py: a
malformed one gets a private "cannot do that" reply (buttons) or a field error (modals), and
every modal listener answers Slack even if something unexpected fails (never an HTTP 500).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine

from bot.case_subjects import SubjectError, check_nhs_number
from bot.cases import CaseNotFound, CaseService
from bot.conversation import Conversations, Turn
from bot.core.criteria import CriteriaAnswerError, CriteriaTree
from bot.core.lifecycle import LifecycleError, check_awareness
from bot.settings import Settings
from handlers.console.render import rationale
from handlers.slack import blocks as bk
from handlers.slack import payloads as pl
from handlers.slack.reminder_actions import register_reminder_actions
from scheduler.calendar import today_in_london
from scheduler.deadlines import compute_deadlines
from scheduler.timescales import Event

log = logging.getLogger(__name__)

NOT_AN_OFFICER = (
    "Only case officers can open or view cases. Anyone can check an incident against the "
    "criteria; ask your partnership's business team to open the case."
)
CANNOT = (
    "That button cannot be used: it is out of date or was not made by this bot. "
    "Start again with `/safeguarding`."
)
def _seal_root(settings: Settings) -> str | None:
    """The secret private_metadata is sealed with: the signing secret, else the bot token."""
    secret = settings.slack_signing_secret or settings.slack_bot_token
    return secret.get_secret_value() if secret is not None else None


class CaseOfficers:
    """Who may open and view cases: Slack user IDs, or user-group IDs (S...) resolved via
    usergroups.users.list and cached for a few minutes."""

    def __init__(self, ids: list[str], ttl_seconds: float = 300) -> None:
        self.users = {i for i in ids if not i.startswith("S")}
        self.groups = [i for i in ids if i.startswith("S")]
        self.ttl = ttl_seconds
        self._cache: dict[str, tuple[float, set[str]]] = {}

    async def allows(self, client: AsyncWebClient, user_id: str | None) -> bool:
        if not user_id:
            return False
        if user_id in self.users:
            return True
        for group in self.groups:
            cached = self._cache.get(group)
            if cached is None or time.monotonic() - cached[0] > self.ttl:
                try:
                    response = await client.usergroups_users_list(usergroup=group)
                    members = set(response.get("users", []))
                except Exception:  # an API failure never grants access
                    log.warning("could not read members of user group %s", group)
                    members = set()
                cached = (time.monotonic(), members)
                self._cache[group] = cached
            if user_id in cached[1]:
                return True
        return False


def _user_of(body: dict[str, Any]) -> str | None:
    user = body.get("user")
    if isinstance(user, dict):
        return user.get("id")
    return body.get("user_id") or user


def _team_of(body: dict[str, Any]) -> str:
    team = body.get("team")
    if isinstance(team, dict):
        return str(team.get("id", "T"))
    return str(body.get("team_id") or team or "T")


def conversation_key(team: str, user: str) -> str:
    """One conversation per person: it resumes from any entry point (command, DM, mention)."""
    return f"slack:{team}:{user}"


class SlackAssistant:
    """The listeners' logic, kept apart from Bolt registration so it reads top to bottom."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        tree: CriteriaTree,
        today: Callable[[], date] = today_in_london,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.tree = tree
        self.today = today
        # The moment a snooze counts from (the next working day after it); injectable for tests.
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(tz=UTC))
        self.cases = CaseService(engine, settings, today=today)
        self.talk = Conversations(engine, tree)
        self.conversations = self.talk.store
        self.officers = CaseOfficers(list(settings.slack_case_officers))
        self.seal = pl.MetadataSeal(_seal_root(settings))

    # Conversation steps: the engine decides, this renders ----------------------------------

    async def start(self, team: str, user: str, text: str) -> tuple[list[dict[str, Any]], str]:
        """Blocks for the first (or resumed) question; ``text`` may ask for review or restart."""
        words = set(text.lower().split())
        turn = await asyncio.to_thread(
            self.talk.start, conversation_key(team, user),
            flow="review" if "review" in words else None,
            restart=bool({"restart", "again", "new"} & words),
        )
        return self._render(turn)

    async def answer(self, team: str, user: str, raw: object) -> tuple[list[dict[str, Any]], str]:
        """The next step after an answer button. PayloadError or CriteriaAnswerError for a value
        that is not an answer to this flow's questions (nothing is saved then)."""
        flow_key, question, value = pl.parse_answer_value(raw)
        turn = await asyncio.to_thread(self.talk.answer, conversation_key(team, user), flow_key, question, value)
        return self._render(turn)

    async def back(self, team: str, user: str, raw: object) -> tuple[list[dict[str, Any]], str]:
        flow_key = pl.parse_token(raw, "a flow")
        turn = await asyncio.to_thread(self.talk.back, conversation_key(team, user), flow_key)
        return self._render(turn)

    async def help(self, team: str, user: str, raw: object) -> tuple[list[dict[str, Any]], str]:
        flow_key, question = pl.parse_help_value(raw)
        turn = await asyncio.to_thread(self.talk.help, conversation_key(team, user), flow_key, question)
        return self._render(turn)

    async def restart(self, team: str, user: str, raw: object) -> tuple[list[dict[str, Any]], str]:
        flow_key = pl.parse_token(raw, "a flow")
        turn = await asyncio.to_thread(self.talk.restart, conversation_key(team, user), flow_key)
        return self._render(turn)

    def _render(self, turn: Turn) -> tuple[list[dict[str, Any]], str]:
        """Block Kit for one turn: its question, or its result with the deadlines that run."""
        if turn.question is not None:
            blocks = bk.question_blocks(turn.flow, turn.question, turn.answers,
                                        show_help=turn.show_help, note=turn.note)
            return bk.as_dicts(blocks), turn.flow.question(turn.question).text
        evaluation = turn.evaluation
        assert evaluation is not None
        deadlines: list[Any] = []
        today = self.today()
        if evaluation.decision == "notify":
            partnership = self.settings.partnership()
            deadlines = compute_deadlines(
                {Event.LA_AWARE: today},
                self.settings.timescales_for(partnership),
                self.settings.calendar_for(partnership),
            )
        blocks = bk.result_blocks(turn.flow, evaluation, deadlines, today if deadlines else None)
        return bk.as_dicts(blocks), f"{evaluation.title}: {evaluation.summary}"

    # Cases ---------------------------------------------------------------------------------

    def partnership_choices(self) -> list[tuple[str, str]]:
        return [(p.key, p.name) for p in self.settings.partnerships]

    def decisions(self) -> set[str]:
        """The notification flow's decisions: all an "Open a case" button may carry."""
        return {outcome.key for outcome in self.tree.flow("notification").spec.outcome}

    def validate_case_form(self, form: pl.FormValues) -> tuple[dict[str, str], dict[str, Any]]:
        """(errors by block_id, cleaned values). Error messages never repeat what was typed."""
        errors: dict[str, str] = {}
        cleaned: dict[str, Any] = {}

        def read(block: str, how: Callable[[str], Any]) -> Any:
            try:
                return how(block)
            except pl.PayloadError as exc:
                errors[block] = exc.message
                return None

        aware = read("aware", form.date)
        if "aware" not in errors:
            try:
                if aware is None:
                    raise LifecycleError("pick the date the LA became aware")
                check_awareness(aware)  # a future date is accepted: the case service warns
                cleaned["aware"] = aware
            except LifecycleError as exc:
                errors["aware"] = str(exc)[:150]
        partnership = read("partnership", form.option)
        if "partnership" not in errors:
            try:  # the case service's rule: an unknown key is refused, naming the known ones
                partnership = self.cases.partnership_to_open(partnership).key
            except LifecycleError as exc:
                errors["partnership"] = str(exc)[:150]
        cleaned["partnership"] = partnership
        summary = read("summary", form.text) or ""
        if not summary and "summary" not in errors:
            errors["summary"] = "a short summary is needed"
        cleaned["summary"] = summary
        cleaned["child_name"] = read("child_name", form.text)
        cleaned["child_dob"] = read("child_dob", form.date)
        if cleaned["child_dob"] and cleaned["child_dob"] > self.today():
            errors["child_dob"] = "a date of birth cannot be in the future"
        nhs = read("nhs_number", form.text)
        cleaned["nhs_number"] = None
        if nhs:
            try:
                cleaned["nhs_number"] = check_nhs_number(nhs)
            except SubjectError as exc:
                errors["nhs_number"] = str(exc)
        return errors, cleaned

    def open_case(self, user: str, meta: pl.OpenCaseMeta, cleaned: dict[str, Any]) -> tuple[Any, bool]:
        """Open the case and store the optional child details with it, in one transaction;
        (the case, True), or (the case it opened, False) when this submission was seen before.
        The opener owns the case: reminders reach them by DM."""
        child = {
            "name": cleaned["child_name"],
            "date_of_birth": cleaned["child_dob"].isoformat() if cleaned["child_dob"] else None,
            "nhs_number": cleaned["nhs_number"],
        }
        has_child = any(child.values())
        decision = bk.known_decision(meta.decision)
        return self.cases.open_case_once(
            meta.submission,
            la_aware=cleaned["aware"],
            actor=f"slack:{user}",
            summary=cleaned["summary"],
            request_type=f"criteria:{decision}",
            partnership_key=cleaned["partnership"],
            owner=user,
            details={"child": child, "source": "slack"} if has_child else None,
        )

    def my_open_cases(self, user: str) -> list[Any]:
        return [v for v in self.cases.list() if v.owner == user or v.opened_by == f"slack:{user}"]

    async def publish_home(self, client: AsyncWebClient, user: str) -> None:
        """(Re)draw App Home for ``user``: on opening it, and after acting from it, so a step
        recorded from Home disappears from Home."""
        cases = None
        if await self.officers.allows(client, user):
            cases = await asyncio.to_thread(self.my_open_cases, user)
        await client.views_publish(user_id=user, view=bk.home_view(cases, self.today()))


def build_app(
    settings: Settings,
    engine: Engine,
    *,
    client: AsyncWebClient | None = None,
    today: Callable[[], date] = today_in_london,
    now: Callable[[], datetime] | None = None,
    process_before_response: bool = False,
) -> AsyncApp:
    """The Bolt app with every listener registered. ``client`` lets tests point the Web API at
    a loopback server; in production it is built from the bot token. ``today`` and ``now``
    let tests stand on a chosen day (the date picker's default, snoozes)."""
    if client is None:
        if settings.slack_bot_token is None:
            raise ValueError("SAFEGUARD_SLACK_BOT_TOKEN is not set")
        client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value())
    if not any(isinstance(h, AsyncRateLimitErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    http = settings.slack_mode == "http"
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    app = AsyncApp(
        client=client,
        signing_secret=secret,
        request_verification_enabled=http or bool(secret),
        process_before_response=process_before_response,
        name="safeguard-bot",
    )
    assistant = SlackAssistant(settings, engine, settings.criteria(), today=today, now=now)
    app._safeguard = assistant  # type: ignore[attr-defined]  # for tests and the service

    @app.middleware
    async def deduplicate_retries(req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Any]) -> Any:
        """Slack re-sends an event it thinks failed (X-Slack-Retry-Num); handle each event_id once."""
        body = req.body or {}
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id:
            first = await asyncio.to_thread(assistant.conversations.claim_event, str(event_id))
            if not first:
                retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
                log.info("ignoring retried event %s (retry %s)", event_id, retry)
                return BoltResponse(status=200, body="")
        return await next()

    # Entry points ------------------------------------------------------------------------------

    @app.command("/safeguarding")
    async def slash(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        blocks, text = await assistant.start(_team_of(body), body["user_id"], body.get("text", ""))
        await respond(blocks=blocks, text=text, response_type="ephemeral")

    @app.event("app_mention")
    async def mention(event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        text = re.sub(r"<@[A-Z0-9]+>", "", event.get("text", ""))
        blocks, summary = await assistant.start(_team_of(body), event["user"], text)
        # In a channel the flow is private: only the person who asked sees it.
        await client.chat_postEphemeral(
            channel=event["channel"], user=event["user"], blocks=blocks, text=summary
        )

    @app.event("message")
    async def direct_message(event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype"):
            return
        blocks, summary = await assistant.start(_team_of(body), event["user"], event.get("text", ""))
        await client.chat_postMessage(channel=event["channel"], blocks=blocks, text=summary)

    # The conversation ----------------------------------------------------------------------------

    async def cannot(respond: Any, client: AsyncWebClient, body: dict[str, Any]) -> None:
        """Tell only the clicker that the button cannot be used (by DM where there is no
        response_url, as on App Home)."""
        if body.get("response_url"):
            await respond(text=CANNOT, response_type="ephemeral", replace_original=False)
        elif _user_of(body):
            await client.chat_postMessage(channel=_user_of(body) or "", text=CANNOT)

    @app.action(re.compile(rf"^{bk.ANSWER}_\d+$"))
    async def on_answer(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any,
                        client: AsyncWebClient) -> None:
        await ack()
        try:
            blocks, text = await assistant.answer(_team_of(body), _user_of(body) or "", action.get("value"))
        except (pl.PayloadError, CriteriaAnswerError):
            await cannot(respond, client, body)
            return
        await respond(blocks=blocks, text=text, replace_original=True)

    @app.action(bk.HELP)
    async def on_help(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any,
                      client: AsyncWebClient) -> None:
        await ack()
        try:
            blocks, text = await assistant.help(_team_of(body), _user_of(body) or "", action.get("value"))
        except (pl.PayloadError, CriteriaAnswerError):
            await cannot(respond, client, body)
            return
        await respond(blocks=blocks, text=text, replace_original=True)

    @app.action(bk.BACK)
    async def on_back(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any,
                      client: AsyncWebClient) -> None:
        await ack()
        try:
            blocks, text = await assistant.back(_team_of(body), _user_of(body) or "", action.get("value"))
        except (pl.PayloadError, CriteriaAnswerError):
            await cannot(respond, client, body)
            return
        await respond(blocks=blocks, text=text, replace_original=True)

    @app.action(bk.RESTART)
    async def on_restart(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any,
                         client: AsyncWebClient) -> None:
        await ack()
        try:
            blocks, text = await assistant.restart(_team_of(body), _user_of(body) or "", action.get("value"))
        except (pl.PayloadError, CriteriaAnswerError):
            await cannot(respond, client, body)
            return
        await respond(blocks=blocks, text=text, replace_original=True)

    @app.action(re.compile(rf"^{bk.START}(_review)?$"))
    async def on_home_start(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any,
                            client: AsyncWebClient) -> None:
        await ack()
        user = _user_of(body) or ""
        try:
            blocks, text = await assistant.restart(_team_of(body), user, action.get("value"))
        except (pl.PayloadError, CriteriaAnswerError):
            await cannot(respond, client, body)
            return
        await client.chat_postMessage(channel=user, blocks=blocks, text=text)  # the bot's DM

    # Cases ---------------------------------------------------------------------------------------

    @app.action(bk.OPEN_CASE)
    async def on_open_case(ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        await ack()
        user = _user_of(body)
        if not await assistant.officers.allows(client, user):
            await respond(text=NOT_AN_OFFICER, response_type="ephemeral", replace_original=False)
            return
        try:
            decision = pl.parse_token(action.get("value"), "a decision")
            if decision not in assistant.decisions():
                raise pl.PayloadError("not a decision")
        except pl.PayloadError:
            await cannot(respond, client, body)
            return
        # A new submission id for each modal: submitting this one again opens no second case.
        meta = pl.OpenCaseMeta(decision=decision, submission=pl.new_submission_id())
        view = bk.open_case_view(
            assistant.partnership_choices(), assistant.today(),
            assistant.seal.seal(bk.OPEN_CASE_VIEW, user or "", meta),
        )
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(bk.OPEN_CASE_VIEW)
    @pl.answers_slack("summary")
    async def on_case_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        user = _user_of(body) or ""
        if not await assistant.officers.allows(client, user):
            await ack(response_action="errors", errors={"summary": NOT_AN_OFFICER[:150]})
            return
        try:
            meta = assistant.seal.open(bk.OPEN_CASE_VIEW, user, view.get("private_metadata"),
                                       pl.OpenCaseMeta, field="summary")
        except pl.PayloadError as exc:
            await ack(response_action="errors", errors={exc.field or "summary": exc.message[:150]})
            return
        errors, cleaned = assistant.validate_case_form(pl.FormValues(view))
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
        warned = "".join(f"\nWarning: {w}" for w in case.warnings)  # the case service's
        await client.chat_postMessage(channel=user, blocks=notice, text=f"Opened. {text}{warned}")

    @app.action(bk.RECORD_DECISION)
    async def on_record(ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        await ack()
        user = _user_of(body)
        if not await assistant.officers.allows(client, user):
            await respond(text=NOT_AN_OFFICER, response_type="ephemeral", replace_original=False)
            return
        state = await asyncio.to_thread(
            assistant.talk.finished_review, conversation_key(_team_of(body), user or "")
        )
        if state is None:
            await respond(text="That rapid review conversation has ended; start again with `/safeguarding review`.",
                          replace_original=False)
            return
        evaluation = assistant.tree.flow("review").evaluate(state.answers)
        sealed = assistant.seal.seal(bk.RECORD_VIEW, user or "", pl.RecordDecisionMeta(answers=dict(state.answers)))
        view = bk.record_decision_view(evaluation.title, assistant.today(), sealed)
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(bk.RECORD_VIEW)
    @pl.answers_slack("reference")
    async def on_record_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        user = _user_of(body) or ""
        if not await assistant.officers.allows(client, user):
            await ack(response_action="errors", errors={"reference": NOT_AN_OFFICER[:150]})
            return
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
            meta = assistant.seal.open(bk.RECORD_VIEW, user, view.get("private_metadata"),
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
            case = await asyncio.to_thread(
                assistant.cases.record_milestone, reference, evaluation.milestone, on=on,
                actor=f"slack:{user}", note=rationale(evaluation),
            )
        except (CaseNotFound, LifecycleError) as exc:
            await ack(response_action="errors", errors={"reference": str(exc)[:150]})
            return
        await ack()
        await asyncio.to_thread(assistant.talk.forget, conversation_key(_team_of(body), user))
        await client.chat_postMessage(
            channel=user,
            text=f"Recorded {evaluation.milestone} on {on.isoformat()} for {case.reference}."
            + "".join(f"\nWarning: {w}" for w in case.warnings),
        )

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        await assistant.publish_home(client, event["user"])

    # Reminders: "Record as done", "Snooze", "Open case" (also on App Home) ----------------------
    register_reminder_actions(app, assistant, NOT_AN_OFFICER)

    return app
