"""The transactional outbox: enqueue with the change that caused a message, deliver later.

``enqueue`` is idempotent on ``dedupe_key`` (an acknowledgement for one Message-ID is queued once
however often the mail is processed). ``claim_due`` leases due rows to one sender: on PostgreSQL
with ``FOR UPDATE SKIP LOCKED`` so several workers never take the same row; on SQLite the
engine's ``BEGIN IMMEDIATE`` serialises claims. A row left in "sending" by a crash is claimed
again once its lease (``next_attempt_at``) runs out, so a crash delays a message, never drops
it. Failures back off exponentially; after ``MAX_ATTEMPTS`` (or a permanent refusal) a row is
"dead" for a human to look at. Errors are stored without message contents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from store.db import session_scope
from store.models import OutboxMessage, utcnow

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
CHANNELS = ("email", "slack", "console", "folder")
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)


@dataclass(frozen=True)
class OutboxItem:
    """A claimed row, detached from its session: what a transport needs to send it."""

    id: int
    channel: str
    recipient: str
    subject: str | None
    body: str
    payload: dict[str, Any]
    dedupe_key: str
    attempts: int


def _item(row: OutboxMessage) -> OutboxItem:
    assert row.id is not None
    return OutboxItem(row.id, row.channel, row.recipient, row.subject, row.body,
                      dict(row.payload or {}), row.dedupe_key, row.attempts)


def enqueue(
    session: Session,
    *,
    channel: str,
    recipient: str,
    body: str,
    dedupe_key: str,
    subject: str | None = None,
    payload: dict[str, Any] | None = None,
    not_before: datetime | None = None,
) -> int:
    """Queue a message inside the caller's transaction; returns its id (the existing one if
    ``dedupe_key`` was queued before)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown outbox channel {channel!r}")
    by_key = select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
    existing = session.execute(by_key).scalars().first()
    if existing is not None:
        return int(existing.id)  # type: ignore[arg-type]
    row = OutboxMessage(channel=channel, recipient=recipient, subject=subject, body=body,
                        payload=payload or {}, dedupe_key=dedupe_key,
                        next_attempt_at=not_before or utcnow())
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # a concurrent enqueue of the same key won
        return int(session.execute(by_key).scalars().one().id)  # type: ignore[arg-type]
    assert row.id is not None
    return row.id


def claim_due(engine: Engine, *, limit: int = 20, now: datetime | None = None) -> list[OutboxItem]:
    """Lease up to ``limit`` due rows (pending, or sending with an expired lease) to the caller."""
    now = now or utcnow()
    with session_scope(engine) as session:
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.status.in_([PENDING, SENDING]))  # type: ignore[attr-defined]
            .where(OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(session.execute(query).scalars().all())
        for row in rows:
            row.status = SENDING
            row.next_attempt_at = now + LEASE
            session.add(row)
        session.flush()
        return [_item(r) for r in rows]


def mark_sent(engine: Engine, item_id: int, *, now: datetime | None = None) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == item_id)  # type: ignore[arg-type]
            .values(status=SENT, sent_at=now or utcnow(), last_error=None)
        )


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, 4 min ... capped at an hour."""
    return min(BASE_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


def mark_failed(
    engine: Engine, item_id: int, error: str, *, permanent: bool = False, now: datetime | None = None
) -> str:
    """Record a failed attempt; returns the new status (pending to retry, or dead)."""
    now = now or utcnow()
    with session_scope(engine) as session:
        row = session.get(OutboxMessage, item_id)
        if row is None:
            raise KeyError(item_id)
        row.attempts += 1
        row.last_error = error[:1000]
        if permanent or row.attempts >= MAX_ATTEMPTS:
            row.status = DEAD
        else:
            row.status = PENDING
            row.next_attempt_at = now + backoff(row.attempts)
        session.add(row)
        return row.status


def counts(engine: Engine) -> dict[str, int]:
    """Rows per status, for ``safeguard-bot status``."""
    from sqlalchemy import func

    with session_scope(engine) as session:
        rows = session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    return {status: int(n) for status, n in rows}


def get(engine: Engine, item_id: int) -> OutboxMessage | None:
    with session_scope(engine) as session:
        return session.get(OutboxMessage, item_id)


def pending_or_due(engine: Engine, now: datetime | None = None) -> int:
    now = now or utcnow()
    with session_scope(engine) as session:
        from sqlalchemy import func

        return int(session.execute(
            select(func.count()).select_from(OutboxMessage)
            .where(or_(OutboxMessage.status == PENDING, OutboxMessage.status == SENDING))
            .where(OutboxMessage.next_attempt_at <= now)
        ).scalar_one())
