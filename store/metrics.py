"""What ``/metrics`` and ``/healthz`` report, counted from the database (so the figures hold
across restarts and agree between several workers on one PostgreSQL database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from store.models import IntakeMessage, OutboxMessage, ReminderRow, utcnow


@dataclass(frozen=True)
class Figures:
    referrals: dict[str, int]  # intake ledger rows by status (opened, updated, quarantined...)
    reminders_sent: int
    outbox_depth: int  # pending or being sent
    outbox_oldest_seconds: float  # age of the oldest undelivered message (0: none)
    deliveries_failed: int  # messages given up on (dead)
    delivery_retries: int  # messages waiting after at least one failed attempt


def figures(session: Session, now: datetime | None = None) -> Figures:
    now = now or utcnow()
    referrals = {str(status): int(count) for status, count in session.exec(
        select(IntakeMessage.status, func.count()).group_by(IntakeMessage.status)).all()}
    sent = session.exec(select(func.count()).select_from(ReminderRow).where(ReminderRow.status == "sent")).one()
    undelivered = col(OutboxMessage.status).in_(("pending", "sending"))
    depth = session.exec(select(func.count()).select_from(OutboxMessage).where(undelivered)).one()
    oldest = session.exec(select(func.min(OutboxMessage.created_at)).where(undelivered)).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    dead = session.exec(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "dead")).one()
    retries = session.exec(select(func.count()).select_from(OutboxMessage).where(
        undelivered, col(OutboxMessage.attempts) > 0)).one()
    return Figures(referrals, int(sent), int(depth),
                   max(0.0, (now - oldest).total_seconds()) if oldest else 0.0, int(dead), int(retries))
