"""The Slack assistant: what every listener calls, kept apart from Bolt registration.

It renders the conversation engine's turns (bot/conversation.py decides every step; nothing
here chooses the next question), checks and cleans the case forms, and calls the case service.
Listeners (handlers/slack/listeners/) parse a request, call one method here, and answer Slack.
Database work runs in a thread (``asyncio.to_thread``) so the event loop keeps serving.

The caller builds it (the runner, or a test with its own ``today``/``now``) and hands it to
``build_app``; that is how a test reaches the same conversation store and tree the app uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine

from bot.case_subjects import SubjectError, check_nhs_number
from bot.cases import CaseService
from bot.conversation import Conversations, Turn
from bot.core.criteria import CriteriaTree
from bot.core.lifecycle import LifecycleError, check_awareness, result_deadlines
from bot.settings import Settings
from handlers.slack import blocks as bk
from handlers.slack import payloads as pl
from handlers.slack.officers import CaseOfficers
from handlers.slack.reminder_actions import ReminderActions
from scheduler.calendar import today_in_london


def _seal_root(settings: Settings) -> str | None:
    """The secret private_metadata is sealed with: the signing secret, else the bot token."""
    secret = settings.slack_signing_secret or settings.slack_bot_token
    return secret.get_secret_value() if secret is not None else None


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
        self.officers = CaseOfficers(
            list(settings.slack_case_officers),
            partnership_officers=[o for p in settings.partnerships for o in p.case_officers])
        # The reminder buttons' domain side; ``now`` is read through self so a test may move it.
        self.reminders = ReminderActions(self.cases, settings, lambda: self.now())
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
        today = self.today()
        partnership = self.settings.partnership()
        deadlines = result_deadlines(evaluation.decision, evaluation.also_notify, today,
                                     self.settings.timescales_for(partnership),
                                     self.settings.calendar_for(partnership))
        blocks = bk.result_blocks(turn.flow, evaluation, deadlines, today if deadlines else None)
        return bk.as_dicts(blocks), f"{evaluation.title}: {evaluation.summary}"

    # Cases ---------------------------------------------------------------------------------

    def partnership_choices(self, allowed: set[str] | None = None) -> list[tuple[str, str]]:
        return [(p.key, p.name) for p in self.settings.partnerships if allowed is None or p.key in allowed]

    # Partnership scoping: the rule is the case service's (bot/cases.py ``may_act``) --------

    async def check_scope(self, client: AsyncWebClient, user: str | None, reference: str) -> None:
        """CaseOutOfScope unless ``user`` may act on case ``reference``."""
        installation = await self.officers.installation(client, user)
        await asyncio.to_thread(self.cases.check_scope, reference, user, installation_officer=installation)

    async def my_partnerships(self, client: AsyncWebClient, user: str | None) -> set[str]:
        """The keys of the partnerships whose cases ``user`` may see and act on."""
        installation = await self.officers.installation(client, user)
        return {p.key for p in self.settings.partnerships
                if self.cases.in_scope(p.key, user, installation_officer=installation)}

    async def scoped_cases(self, client: AsyncWebClient, user: str | None, cases: list[Any]) -> list[Any]:
        """Only the cases ``user`` may act on (a case of a partnership no longer configured
        follows the installation-wide list)."""
        installation = await self.officers.installation(client, user)
        return [c for c in cases if self.cases.in_scope(c.partnership, user, installation_officer=installation)]

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
            answers=meta.answers or None,  # the criteria answers the result came from
        )

    def my_open_cases(self, user: str) -> list[Any]:
        return [v for v in self.cases.list() if v.owner == user or v.opened_by == f"slack:{user}"]

    async def publish_home(self, client: AsyncWebClient, user: str) -> None:
        """(Re)draw App Home for ``user``: on opening it, and after acting from it, so a step
        recorded from Home disappears from Home."""
        cases = None
        reviews = None
        if await self.officers.allows(client, user):
            cases = await self.scoped_cases(client, user, await asyncio.to_thread(self.my_open_cases, user))
            reviews = await asyncio.to_thread(self.rapid_review_progress, cases)
        await client.views_publish(user_id=user, view=bk.home_view(cases, self.today(), reviews))

    def rapid_review_progress(self, cases: list[Any]) -> dict[str, str | None]:
        """Each case's rapid review progress line (None: not started) for the cases whose
        rapid review step runs (issue 14)."""
        from bot.rapid_review import RapidReviewService

        service = RapidReviewService(self.cases)
        return {case.reference: service.progress_of(case.reference) for case in cases
                if any(s.deadline.key == "rapid_review" for s in case.deadlines)}
