"""The conversation engine: one state machine for the criteria and review flows.

State in, next prompt or result out. Every adapter (the terminal, Slack, and any later one such
as Teams) renders a :class:`Turn` and stores the :class:`ConversationState` it carries; none of
them decides what comes next, so resume, restart, back and the finished state behave the same
everywhere. Pure: no storage, no I/O; ``bot/conversation.py`` keeps the state between turns.

The rules, written once:
- **Start** resumes the saved conversation when there is one and its answers still fit the
  question tree (a partnership may have reworded it since: then it starts afresh). A finished
  conversation is never resumed: a new one starts. Asking for a particular flow starts that
  flow unless the saved conversation is already on it.
- **Answer** records one answer (validated against the question's options) and moves on;
  answering a question out of order (an old message's button) is accepted if the tree allows it.
- **Back** forgets the most recent answer; with nothing answered it shows the first question.
- **Restart** forgets everything in the flow and asks the first question again.
- **Help** shows the current question with its guidance and source; the state does not change.
- **Finished**: when no question remains, the result is given. A notification conversation is
  then forgotten (``state`` is None: nothing to keep). A review conversation is kept, marked
  finished, because its answers are the rationale a case officer records on the case.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from bot.core.criteria import NOTIFICATION, REVIEW, CriteriaAnswerError, CriteriaTree, Evaluation, Flow

RESUMED = "Resuming where you left off."
STARTED_AGAIN = "Starting again."


@dataclass(frozen=True)
class ConversationState:
    """What is kept between turns: the flow, the answers and the order they were given in."""

    flow: str
    answers: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def history(self) -> list[str]:
        """Answered question keys, oldest first (what ``back`` undoes)."""
        return [k for k in self.context.get("history", []) if k in self.answers]

    @property
    def finished(self) -> bool:
        return bool(self.context.get("finished"))


@dataclass(frozen=True)
class Turn:
    """What an adapter shows next, and the state to store (None: forget the conversation)."""

    flow: Flow
    state: ConversationState | None
    question: str | None = None
    evaluation: Evaluation | None = None
    note: str | None = None
    show_help: bool = False

    @property
    def finished(self) -> bool:
        return self.question is None

    @property
    def answers(self) -> dict[str, str]:
        return dict(self.state.answers) if self.state is not None else {}


class ConversationEngine:
    """Computes each turn from the saved state and what the person did."""

    def __init__(self, tree: CriteriaTree) -> None:
        self.tree = tree

    def flow(self, key: str) -> Flow:
        return self.tree.flow(key)

    # --- what the person can do ----------------------------------------------------------------

    def start(
        self, saved: ConversationState | None, *, flow: str | None = None, restart: bool = False
    ) -> Turn:
        """The first question, or the saved conversation's current one."""
        resumable = self._resumable(saved)
        if restart or resumable is None or (flow is not None and resumable.flow != flow):
            return self._next(ConversationState(flow or (saved.flow if resumable else NOTIFICATION)))
        return self._next(resumable, note=RESUMED if resumable.answers else None)

    def answer(self, saved: ConversationState | None, flow_key: str, question: str, value: str) -> Turn:
        """Record one answer. Raises ``CriteriaAnswerError`` for a question or value the flow
        does not have (a forged or stale button)."""
        flow = self.flow(flow_key)
        base = saved if saved is not None and saved.flow == flow_key and not saved.finished else None
        answers = dict(base.answers) if base is not None else {}
        history = [k for k in (base.history if base is not None else []) if k != question]
        answers[question] = value
        flow.check_answers(answers)
        return self._next(ConversationState(flow_key, answers, {"history": [*history, question]}))

    def back(self, saved: ConversationState | None, flow_key: str | None = None) -> Turn:
        """Undo the most recent answer."""
        state = self._resumable(saved) or ConversationState(flow_key or NOTIFICATION)
        history = state.history
        answers = dict(state.answers)
        if history:
            answers.pop(history.pop(), None)
        elif answers:  # answers saved without their order (an older release): drop them all
            answers = {}
        return self._next(ConversationState(state.flow, answers, {"history": history}))

    def restart(self, flow_key: str) -> Turn:
        return self._next(ConversationState(flow_key), note=STARTED_AGAIN)

    def help(self, saved: ConversationState | None, flow_key: str, question: str) -> Turn:
        """The question again, with its guidance; nothing changes."""
        flow = self.flow(flow_key)
        if question not in flow.question_keys():
            raise CriteriaAnswerError(f"unknown question {question!r}")
        state = saved if saved is not None and saved.flow == flow_key else ConversationState(flow_key)
        return Turn(flow=flow, state=state, question=question, show_help=True)

    # --- the rules -----------------------------------------------------------------------------

    def _resumable(self, saved: ConversationState | None) -> ConversationState | None:
        if saved is None or saved.finished:
            return None
        try:
            flow = self.flow(saved.flow)
            flow.check_answers(saved.answers)
        except (CriteriaAnswerError, ValueError, KeyError):
            return None  # the question tree changed since: start again
        return saved

    def _next(self, state: ConversationState, note: str | None = None) -> Turn:
        flow = self.flow(state.flow)
        key = flow.next_question(state.answers, include_optional=True)
        if key is not None:
            return Turn(flow=flow, state=state, question=key, note=note)
        evaluation = flow.evaluate(state.answers)
        kept = replace(state, context={**state.context, "finished": True}) if state.flow == REVIEW else None
        return Turn(flow=flow, state=kept, evaluation=evaluation, note=note)

