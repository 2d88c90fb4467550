"""Conversation state for the criteria assistant, kept in the database.

Adapters (Slack, terminal) call this; it stores the flow and the answers given so far under a
key naming who is talking where (``slack:T1:D1:U1``, ``terminal:alice:notification``), so a
restart mid-conversation resumes at the same question. It also de-duplicates Slack retries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from store import conversations as repo
from store.db import session_scope


@dataclass(frozen=True)
class ConversationState:
    flow: str
    answers: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


class ConversationService:
    """Load, save and forget conversations; claim Slack events once. One transaction per call."""

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
