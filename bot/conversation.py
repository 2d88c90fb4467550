"""Conversations kept between turns: the engine's state, stored in the database.

Adapters (Slack, the terminal, later Teams) call :class:`Conversations` with who is talking
where (``slack:T1:U1``, ``terminal:alice``) and what they did; it loads the saved state, asks the
pure engine (``bot/core/conversation.py``) for the next turn, stores the turn's state (or forgets
the conversation when the turn says so) and returns the turn for the adapter to render. A
restart mid-conversation therefore resumes at the same question in every adapter.

It also de-duplicates Slack's retried events (Slack re-sends an event it thinks failed).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from bot.core.conversation import ConversationEngine, ConversationState, Turn
from bot.core.criteria import CriteriaTree
from store import conversations as repo
from store.db import session_scope

__all__ = ["ConversationService", "ConversationState", "Conversations", "Turn"]


class ConversationService:
    """Load, save and forget conversation state; claim Slack events once. One transaction per call."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load(self, key: str) -> ConversationState | None:
        with session_scope(self.engine) as session:
            row = repo.get_conversation(session, key)
            if row is None:
                return None
            return ConversationState(row.flow, dict(row.answers), dict(row.context))

    def save(self, key: str, state: ConversationState) -> None:
        with session_scope(self.engine) as session:
            repo.save_conversation(
                session, key, flow=state.flow, answers=state.answers, context=state.context
            )

    def clear(self, key: str) -> None:
        with session_scope(self.engine) as session:
            repo.delete_conversation(session, key)

    def claim_event(self, event_id: str) -> bool:
        """True if this Slack event has not been handled before (and now is being)."""
        with session_scope(self.engine) as session:
            claimed = repo.claim_slack_event(session, event_id)
            if claimed:
                # Slack retries for about an hour; keep a day of event IDs.
                repo.prune_slack_events(session, datetime.now(tz=UTC) - timedelta(days=1))
            return claimed


class Conversations:
    """The engine with its state kept: every method is one turn (load, compute, store)."""

    def __init__(self, engine: Engine, tree: CriteriaTree) -> None:
        self.store = ConversationService(engine)
        self.engine = ConversationEngine(tree)

    def _keep(self, key: str, turn: Turn) -> Turn:
        if turn.state is None:
            self.store.clear(key)
        else:
            self.store.save(key, turn.state)
        return turn

    def start(self, key: str, *, flow: str | None = None, restart: bool = False) -> Turn:
        return self._keep(key, self.engine.start(self.store.load(key), flow=flow, restart=restart))

    def answer(self, key: str, flow: str, question: str, value: str) -> Turn:
        return self._keep(key, self.engine.answer(self.store.load(key), flow, question, value))

    def back(self, key: str, flow: str | None = None) -> Turn:
        return self._keep(key, self.engine.back(self.store.load(key), flow))

    def restart(self, key: str, flow: str) -> Turn:
        return self._keep(key, self.engine.restart(flow))

    def help(self, key: str, flow: str, question: str) -> Turn:
        return self.engine.help(self.store.load(key), flow, question)

    def finished_review(self, key: str) -> ConversationState | None:
        """The finished review waiting to be recorded on a case, if there is one."""
        state = self.store.load(key)
        return state if state is not None and state.flow == "review" and state.finished else None

    def forget(self, key: str) -> None:
        """The conversation's work is done (a review recorded on a case)."""
        self.store.clear(key)
