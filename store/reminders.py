"""Reminder rows: keep the plan in step with the deadlines, and claim what is due.

Claiming locks the *deadline* rows (FOR UPDATE SKIP LOCKED on PostgreSQL), so each deadline's
due reminders are handled by exactly one worker, which sends only the latest of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import and_, exists, update
from sqlmodel import Session, col, select

from store.models import DeadlineRow, ReminderRow, utcnow

PENDING = "pending"
SENT = "sent"
SUPERSEDED = "superseded"
CANCELLED = "cancelled"


def sync_plan(
    session: Session,
    case_id: int,
    plan: dict[str, list[tuple[str, date, datetime]]],
    changed: Iterable[str],
) -> tuple[int, int]:
    """Bring the case's reminder rows in step with ``plan`` (deadline key -> planned slots).

    Planned slots without a row are inserted (a row that exists in any state is left alone, so
    a sent or superseded occasion is never re-planned). For the deadlines in ``changed`` (met,
    no longer applicable, or a moved due date) pending rows that are no longer planned are
    cancelled; the sweep's follow-up escalations and snoozes on unchanged deadlines survive.
    Sent rows are history and never touched. Returns (inserted, cancelled).
    """
    changed_keys = set(changed)
    deadlines = {
        row.key: row
        for row in session.exec(select(DeadlineRow).where(DeadlineRow.case_id == case_id)).all()
    }
    existing = session.exec(select(ReminderRow).where(ReminderRow.case_id == case_id)).all()
    have = {(r.deadline_key, r.occasion, r.send_on): r for r in existing}
    wanted: set[tuple[str, str, date]] = set()
    inserted = 0
    for key, slots in plan.items():
        deadline = deadlines[key]
        assert deadline.id is not None
        for occasion, send_on, send_at in slots:
            slot = (key, occasion, send_on)
            wanted.add(slot)
            if slot in have:
                continue
            session.add(
                ReminderRow(
                    case_id=case_id,
                    deadline_id=deadline.id,
                    deadline_key=key,
                    occasion=occasion,
                    send_on=send_on,
                    send_at=send_at,
                )
            )
            inserted += 1
    cancelled = 0
    for slot, row in have.items():
        if row.status == PENDING and row.deadline_key in changed_keys and slot not in wanted:
            row.status = CANCELLED
            session.add(row)
            cancelled += 1
    session.flush()
    return inserted, cancelled


def claim_due_deadlines(session: Session, now: datetime, limit: int) -> list[int]:
    """Lock up to ``limit`` deadlines that have a pending reminder due by ``now``.

    Other workers skip the locked ones; the locks last until this transaction ends.
    """
    due_reminder = exists().where(
        and_(
            ReminderRow.deadline_id == DeadlineRow.id,
            ReminderRow.status == PENDING,
            ReminderRow.send_at <= now,
        )
    )
    statement = (
        select(DeadlineRow.id)
        .where(due_reminder)
        .order_by(col(DeadlineRow.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [row for row in session.exec(statement).all() if row is not None]


def due_reminders(session: Session, deadline_ids: Sequence[int], now: datetime) -> Sequence[ReminderRow]:
    """Pending reminders due by ``now`` for the locked deadlines, oldest first (fresh read)."""
    if not deadline_ids:
        return []
    return session.exec(
        select(ReminderRow)
        .where(
            col(ReminderRow.deadline_id).in_(deadline_ids),
            ReminderRow.status == PENDING,
            ReminderRow.send_at <= now,
        )
        .order_by(col(ReminderRow.deadline_id), col(ReminderRow.send_at), col(ReminderRow.id))
    ).all()


def pending_up_to(session: Session, deadline_id: int, day: date) -> Sequence[ReminderRow]:
    """A deadline's pending reminders planned for ``day`` or earlier."""
    return session.exec(
        select(ReminderRow).where(
            ReminderRow.deadline_id == deadline_id,
            ReminderRow.status == PENDING,
            ReminderRow.send_on <= day,
        )
    ).all()


def mark(session: Session, rows: Iterable[ReminderRow], status: str, at: datetime | None = None) -> None:
    for row in rows:
        row.status = status
        if status == SENT:
            row.sent_at = at or utcnow()
        session.add(row)
    session.flush()


def add_reminder(
    session: Session, deadline: DeadlineRow, occasion: str, send_on: date, send_at: datetime
) -> None:
    """Plan one more occasion (the next overdue escalation, a snooze) unless it already exists."""
    assert deadline.id is not None
    found = session.exec(
        select(ReminderRow).where(
            ReminderRow.deadline_id == deadline.id,
            ReminderRow.occasion == occasion,
            ReminderRow.send_on == send_on,
        )
    ).first()
    if found is not None:
        if found.status in (CANCELLED, SUPERSEDED):
            found.status = PENDING
            found.send_at = send_at
            session.add(found)
        return
    session.add(
        ReminderRow(
            case_id=deadline.case_id,
            deadline_id=deadline.id,
            deadline_key=deadline.key,
            occasion=occasion,
            send_on=send_on,
            send_at=send_at,
        )
    )
    session.flush()


def cancel_pending_before(session: Session, deadline_id: int, before: datetime) -> int:
    """Cancel a deadline's pending reminders due before ``before`` (snooze)."""
    result = session.execute(
        update(ReminderRow)
        .where(
            col(ReminderRow.deadline_id) == deadline_id,
            col(ReminderRow.status) == PENDING,
            col(ReminderRow.send_at) < before,
        )
        .values(status=CANCELLED)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def counts_by_status(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    rows = session.execute(
        select(ReminderRow.status, func.count()).group_by(ReminderRow.status)
    ).all()
    return {status: int(count) for status, count in rows}
