"""The transactional outbox: messages are rows first, deliveries second.

``enqueue`` runs inside the caller's transaction, so a message exists if and only if the change
that caused it committed. Senders ``claim`` rows with a lease (status ``sending`` plus
``claimed_until``); a sender that dies mid-delivery leaves the row to be claimed again when the
lease runs out. That is the one window in which a message can be delivered twice: delivered,
then the process killed before ``mark_sent`` committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from store.models import OutboxMessage, utcnow

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
DEAD = "dead"


def enqueue(
    session: Session,
    *,
    transport: str,
    recipient: str,
    body: str,
    dedupe_key: str,
    subject: str = "",
    payload: dict[str, Any] | None = None,
    case_id: int | None = None,
    not_before: datetime | None = None,
) -> bool:
    """Add a message unless one with ``dedupe_key`` exists; True if added."""
    values = {
        "transport": transport,
        "recipient": recipient,
        "subject": subject,
        "body": body,
        "payload": payload or {},
        "dedupe_key": dedupe_key,
        "case_id": case_id,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": not_before or utcnow(),
        "created_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.__table__.c.id)  # type: ignore[attr-defined]
    )
    return session.execute(statement).first() is not None


def rewrite_pending(session: Session, dedupe_key: str, *, subject: str, body: str) -> bool:
    """Change the text of a message not yet sent (a summary that grows until it is due)."""
    row = session.exec(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key, OutboxMessage.status == PENDING)
    ).first()
    if row is None:
        return False
    row.subject = subject
    row.body = body
    session.add(row)
    session.flush()
    return True


def claim(session: Session, now: datetime, *, lease: timedelta, limit: int = 50) -> list[OutboxMessage]:
    """Take up to ``limit`` deliverable messages for this sender, under a lease.

    Deliverable: pending and due, or ``sending`` with an expired lease (its sender died).
    The caller commits the claim before delivering, so the lease is visible to other senders.
    """
    statement = (
        select(OutboxMessage)
        .where(
            or_(
                (col(OutboxMessage.status) == PENDING) & (col(OutboxMessage.next_attempt_at) <= now),
                (col(OutboxMessage.status) == SENDING) & (col(OutboxMessage.claimed_until) < now),
            )
        )
        .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(session.exec(statement).all())
    for row in rows:
        row.status = SENDING
        row.claimed_until = now + lease
        row.attempts += 1
        session.add(row)
    session.flush()
    return rows


def mark_sent(session: Session, message_id: int, at: datetime) -> None:
    row = session.get(OutboxMessage, message_id)
    if row is None:
        return
    row.status = SENT
    row.sent_at = at
    row.claimed_until = None
    row.last_error = None
    session.add(row)


def attempts(session: Session, message_id: int) -> int | None:
    """How many times the message has been claimed for delivery; None if it is gone."""
    row = session.get(OutboxMessage, message_id)
    return row.attempts if row else None


def mark_failed(
    session: Session, message_id: int, error: str, *, retry_at: datetime | None
) -> OutboxMessage | None:
    """Schedule a retry at ``retry_at``, or mark the message dead when ``retry_at`` is None."""
    row = session.get(OutboxMessage, message_id)
    if row is None:
        return None
    row.last_error = error[:500]
    row.claimed_until = None
    if retry_at is None:
        row.status = DEAD
    else:
        row.status = PENDING
        row.next_attempt_at = retry_at
    session.add(row)
    return row


def counts_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    return {status: int(count) for status, count in rows}


def recent(session: Session, status: str, limit: int = 10) -> Sequence[OutboxMessage]:
    return session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.status == status)
        .order_by(col(OutboxMessage.id).desc())
        .limit(limit)
    ).all()


def next_due(session: Session) -> datetime | None:
    return session.exec(
        select(func.min(OutboxMessage.next_attempt_at)).where(OutboxMessage.status == PENDING)
    ).one()
