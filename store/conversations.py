"""Conversation state and Slack event de-duplication: the repository (tables in store/models.py).

A criteria conversation (Slack or terminal) is a flow name plus the answers given so far, keyed
by who is talking where, so a restart mid-conversation resumes at the same question. Answers are
option values only (``harm=died``), never free text, so nothing here identifies a child.

``slack_event`` remembers the ``event_id`` of every Events API delivery handled: Slack retries a
delivery it thinks failed (``X-Slack-Retry-Num``), and the insert that wins is the one handled.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from store.models import ConversationRow, SlackEventRow, utcnow


def get_conversation(session: Session, key: str) -> ConversationRow | None:
    return session.exec(select(ConversationRow).where(ConversationRow.key == key)).first()


def save_conversation(
    session: Session, key: str, *, flow: str, answers: dict[str, str], context: dict[str, Any]
) -> ConversationRow:
    """Insert or replace the conversation stored under ``key``."""
    row = get_conversation(session, key)
    if row is None:
        row = ConversationRow(key=key, flow=flow, answers=dict(answers), context=dict(context))
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
            return row
        except IntegrityError:  # a concurrent first answer: update the row it created
            row = get_conversation(session, key)
            assert row is not None
    row.flow = flow
    row.answers = dict(answers)
    row.context = dict(context)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def delete_conversation(session: Session, key: str) -> None:
    session.execute(delete(ConversationRow).where(col(ConversationRow.key) == key))


def claim_slack_event(session: Session, event_id: str) -> bool:
    """True the first time ``event_id`` is seen; False for a retry already handled."""
    try:
        with session.begin_nested():
            session.add(SlackEventRow(event_id=event_id))
            session.flush()
    except IntegrityError:
        return False
    return True


def prune_slack_events(session: Session, before: datetime) -> int:
    """Forget events older than ``before`` (Slack stops retrying after about an hour)."""
    result = session.execute(delete(SlackEventRow).where(col(SlackEventRow.received_at) < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
