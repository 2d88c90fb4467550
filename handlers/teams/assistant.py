"""The Teams assistant: what the Teams app's handlers call, kept apart from SDK registration.

It renders the conversation engine's turns as Adaptive Cards (bot/conversation.py decides
every step), checks the case form with the same rules as Slack (the form validation, the
submission seal and the case service are shared: handlers/slack/payloads.py and bot/cases.py)
and calls the case service. Database work runs in a thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine

from bot.case_subjects import SubjectError, check_nhs_number
from bot.cases import CaseService, CaseView
from bot.conversation import Conversations, Turn
from bot.core.criteria import CriteriaTree
from bot.core.lifecycle import LifecycleError, check_awareness, result_deadlines
from bot.settings import Settings
from handlers.slack import payloads as pl
from handlers.teams import cards
from handlers.teams.officers import TeamsOfficers
from scheduler.calendar import today_in_london
from store import teams as teams_repo
from store.db import session_scope

OPEN_CASE_SEAL = "teams_open_case"
RECORD_SEAL = "teams_record_decision"
NOT_AN_OFFICER = (
    "Only case officers can open or view cases. Anyone can check an incident against the "
    "criteria; ask your partnership's business team to open the case."
)


def conversation_key(tenant: str | None, user: str) -> str:
    """One conversation per person: it resumes from the personal chat or a channel mention."""
    return f"teams:{tenant or '-'}:{user}"


class TeamsAssistant:
    """The handlers' logic: the engine's turns as cards, the case form, the case service."""

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
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(tz=UTC))
        self.cases = CaseService(engine, settings, today=today)
        self.talk = Conversations(engine, tree)
        self.officers = TeamsOfficers(settings)
        secret = settings.teams_app_password.get_secret_value() if settings.teams_app_password else None
        self.seal = pl.MetadataSeal(secret)

    def is_officer(self, user: str | None) -> bool:
        """Listed by id or in a listed group (handlers/teams/officers.py, the one check).
        Blocking (it may ask Graph); raises OfficerCheckUnavailable when Graph cannot say."""
        return self.officers.is_officer(user)

    # Conversation steps: the engine decides, this renders ----------------------------------

    async def start(self, key: str, text: str) -> dict[str, Any]:
        words = set(text.lower().split())
        turn = await asyncio.to_thread(
            self.talk.start, key, flow="review" if "review" in words else None,
            restart=bool({"restart", "again", "new"} & words),
        )
        return self.render(turn)

    async def step(self, key: str, verb: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """The card after an answer, help, back or start-again button. PayloadError or
        CriteriaAnswerError for data that is not an answer to this flow (nothing is saved)."""
        flow = pl.parse_token(data.get("flow"), "a flow")
        if verb == cards.ANSWER:
            question = pl.parse_token(data.get("question"), "a question")
            value = pl.parse_token(data.get("value"), "an answer")
            turn = await asyncio.to_thread(self.talk.answer, key, flow, question, value)
        elif verb == cards.HELP:
            question = pl.parse_token(data.get("question"), "a question")
            turn = await asyncio.to_thread(self.talk.help, key, flow, question)
        elif verb == cards.BACK:
            turn = await asyncio.to_thread(self.talk.back, key, flow)
        else:
            turn = await asyncio.to_thread(self.talk.restart, key, flow)
        return self.render(turn)

    def render(self, turn: Turn) -> dict[str, Any]:
        """The card for one turn: its question, or its result with the deadlines that run."""
        if turn.question is not None:
            return cards.question_card(turn.flow, turn.question, turn.answers,
                                       show_help=turn.show_help, note=turn.note)
        evaluation = turn.evaluation
        assert evaluation is not None
        today = self.today()
        partnership = self.settings.partnership()
        deadlines = result_deadlines(evaluation.decision, evaluation.also_notify, today,
                                     self.settings.timescales_for(partnership),
                                     self.settings.calendar_for(partnership))
        open_case = None
        if turn.flow.key == "notification":
            open_case = {"decision": evaluation.decision, "answers": dict(evaluation.answers)}
        return cards.result_card(turn.flow, evaluation, deadlines, today if deadlines else None, open_case,
                                 record=bool(evaluation.milestone))

    # Cases ---------------------------------------------------------------------------------

    def open_case_form(self, user: str, data: Mapping[str, Any], allowed: set[str] | None = None) -> dict[str, Any]:
        """The case form for an "Open a case" button: its decision and answers sealed for this
        user with a fresh submission id (a resubmitted form finds its case)."""
        decision = pl.parse_token(data.get("decision"), "a decision")
        if decision not in {o.key for o in self.tree.flow("notification").spec.outcome}:
            raise pl.PayloadError("not a decision")
        answers = data.get("answers") or {}
        meta = pl.OpenCaseMeta.model_validate(
            {"decision": decision, "submission": pl.new_submission_id(), "answers": answers}
        )
        sealed = self.seal.seal(OPEN_CASE_SEAL, user, meta)
        # Partnership scoping: only the partnerships whose cases this officer may act on.
        choices = [(p.key, p.name) for p in self.settings.partnerships if allowed is None or p.key in allowed]
        if not choices:
            return cards.message_card("You are not a case officer of any partnership here, so you cannot open a case.")
        return cards.open_case_form(choices, self.today(), sealed)

    def record_form(self, key: str, user: str) -> dict[str, Any]:
        """The form for recording the finished rapid review on a case, its answers sealed."""
        state = self.talk.finished_review(key)
        if state is None:
            return cards.message_card("That rapid review conversation has ended; start again with \"review\".")
        evaluation = self.tree.flow("review").evaluate(state.answers)
        sealed = self.seal.seal(RECORD_SEAL, user, pl.RecordDecisionMeta(answers=dict(state.answers)))
        return cards.record_decision_form(evaluation.title, self.today(), sealed)

    def record_decision(self, key: str, user: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Record the decision's milestones on the case named, as Slack and the CLI do."""
        from handlers.console.render import rationale

        meta = self.seal.open(RECORD_SEAL, user, data.get("sealed"), pl.RecordDecisionMeta)
        evaluation = self.tree.flow("review").evaluate(meta.answers)
        reference = str(data.get("reference") or "").strip()
        try:
            on = date.fromisoformat(str(data.get("on") or ""))
        except ValueError:
            return cards.message_card("Pick the date of the decision.")
        if not reference:
            return cards.message_card("Enter the case reference.")
        case = self.cases.record_decision(reference, evaluation.milestones, on=on, actor=f"teams:{user}",
                                          note=rationale(evaluation))
        self.talk.forget(key)
        return cards.message_card(f"Recorded {' and '.join(evaluation.milestones)} on {on.isoformat()} "
                                  f"for {case.reference}.")

    def validate_case_form(self, data: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
        """(errors by field, cleaned values): the Slack form's rules. Errors never repeat what
        was typed."""
        errors: dict[str, str] = {}
        cleaned: dict[str, Any] = {}

        def day(name: str) -> date | None:
            raw = str(data.get(name) or "").strip()
            if not raw:
                return None
            try:
                return date.fromisoformat(raw)
            except ValueError:
                errors[name] = "not a date (YYYY-MM-DD)"
                return None

        aware = day("aware")
        if "aware" not in errors:
            try:
                if aware is None:
                    raise LifecycleError("pick the date the LA became aware")
                check_awareness(aware)
                cleaned["aware"] = aware
            except LifecycleError as exc:
                errors["aware"] = str(exc)[:150]
        try:
            cleaned["partnership"] = self.cases.partnership_to_open(str(data.get("partnership") or "") or None).key
        except LifecycleError as exc:
            errors["partnership"] = str(exc)[:150]
        summary = str(data.get("summary") or "").strip()[:500]
        if not summary:
            errors["summary"] = "a short summary is needed"
        cleaned["summary"] = summary
        cleaned["child_name"] = str(data.get("child_name") or "").strip()[:200] or None
        cleaned["child_dob"] = day("child_dob")
        if cleaned["child_dob"] and cleaned["child_dob"] > self.today():
            errors["child_dob"] = "a date of birth cannot be in the future"
        nhs = str(data.get("nhs_number") or "").strip()
        cleaned["nhs_number"] = None
        if nhs:
            try:
                cleaned["nhs_number"] = check_nhs_number(nhs)
            except SubjectError as exc:
                errors["nhs_number"] = str(exc)
        return errors, cleaned

    def open_case(self, user: str, meta: pl.OpenCaseMeta, cleaned: dict[str, Any]) -> tuple[CaseView, bool]:
        """Open the case with its optional child details in one transaction (the case service's
        open_case_once: a resubmitted form returns the case it opened, False)."""
        child = {
            "name": cleaned["child_name"],
            "date_of_birth": cleaned["child_dob"].isoformat() if cleaned["child_dob"] else None,
            "nhs_number": cleaned["nhs_number"],
        }
        return self.cases.open_case_once(
            meta.submission,
            la_aware=cleaned["aware"],
            actor=f"teams:{user}",
            summary=cleaned["summary"],
            request_type=f"criteria:{meta.decision}",
            partnership_key=cleaned["partnership"],
            owner=None,
            details={"child": child, "source": "teams"} if any(child.values()) else None,
            answers=meta.answers or None,
        )

    def remember_conversation(self, conversation_id: str, *, service_url: str, tenant_id: str | None,
                              team_id: str | None, kind: str) -> None:
        with session_scope(self.engine) as session:
            teams_repo.save_reference(session, conversation_id, service_url=service_url,
                                      tenant_id=tenant_id, team_id=team_id, kind=kind)
