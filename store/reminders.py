"""Reminder rows: keep the plan in step with the deadlines, and claim what is due.

Claiming locks the *deadline* rows (FOR UPDATE SKIP LOCKED on PostgreSQL), so each deadline's
due reminders are handled by exactly one worker, which sends only the latest of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import update
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

    Planned slots without a row are inserted (a row that exists is left alone, so a sent or
    superseded occasion is never re-planned; a cancelled one is revived when its deadline is in
    ``changed`` and plans it again: a step that runs again). For the deadlines in ``changed`` (met,
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
                row = have[slot]
                # A step that stopped running and runs again (its criteria decision changed
                # back): the reminders cancelled with it are due again. Sent ones stay history.
                if row.status == CANCELLED and key in changed_keys:
                    row.status = PENDING
                    session.add(row)
                    inserted += 1
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

    Two cheap steps rather than one clever one: the (status, send_at) index gives the due
    reminders' deadline ids (a window four times the batch, so concurrent workers find work
    beyond what the others hold), then those deadlines are locked in id order, skipping any
    another worker holds (FOR UPDATE SKIP LOCKED on PostgreSQL). The locks last until this
    transaction ends; the caller re-reads the reminders after locking.
    """
    # Ordered by send_at so the (status, send_at) index answers it: an idle minute reads
    # nothing, a busy morning reads only what is due.
    due = session.exec(
        select(ReminderRow.deadline_id)
        .where(ReminderRow.status == PENDING, ReminderRow.send_at <= now)
        .order_by(col(ReminderRow.send_at))
        .limit(limit * 16)
    ).all()
    candidates = sorted(set(due))[: limit * 4]
    if not candidates:
        return []
    statement = (
        select(DeadlineRow.id)
        .where(col(DeadlineRow.id).in_(candidates))
        .order_by(col(DeadlineRow.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [row for row in session.exec(statement).all() if row is not None]


def preload(session: Session, deadline_ids: Sequence[int]) -> dict[int, tuple[Any, Any, Any]]:
    """A batch's deadlines with their cases and partnerships, in three queries.

    Returns {deadline id: (deadline, case, partnership)}. The caller must keep this mapping
    alive while it works: the session's identity map holds objects only weakly.
    """
    from store.models import Case, Partnership

    deadlines = session.exec(select(DeadlineRow).where(col(DeadlineRow.id).in_(deadline_ids))).all()
    cases = {
        c.id: c
        for c in session.exec(select(Case).where(col(Case.id).in_({d.case_id for d in deadlines}))).all()
    }
    partnerships = {
        p.id: p
        for p in session.exec(
            select(Partnership).where(col(Partnership.id).in_({c.partnership_id for c in cases.values()}))
        ).all()
    }
    return {
        d.id: (d, cases[d.case_id], partnerships[cases[d.case_id].partnership_id])
        for d in deadlines
        if d.id is not None
    }


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


def next_pending_send_at(session: Session, after: datetime | None = None) -> datetime | None:
    """When the next pending reminder is due (after ``after``, if given): the clock wakes then."""
    statement = select(ReminderRow.send_at).where(ReminderRow.status == PENDING)
    if after is not None:
        statement = statement.where(col(ReminderRow.send_at) > after)
    return session.exec(statement.order_by(col(ReminderRow.send_at)).limit(1)).first()


def pending_due(session: Session, now: datetime) -> tuple[int, datetime | None]:
    """How many pending reminders were due by ``now`` and not sent, and the oldest one's time
    (reminders wait while no service runs)."""
    from sqlalchemy import func

    count, oldest = session.execute(
        select(func.count(), func.min(ReminderRow.send_at)).where(
            ReminderRow.status == PENDING, col(ReminderRow.send_at) <= now
        )
    ).one()
    return int(count), oldest
