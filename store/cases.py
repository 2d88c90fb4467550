"""Case repository: the only code that reads and writes cases, milestones, deadlines and audit.

It stores what the domain decided; it decides nothing itself. Callers pass a Session and own
the transaction, so a case, its deadlines and its audit entry commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, or_, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from store.models import AuditEntry, Case, DeadlineRow, MilestoneRow, Partnership, utcnow


@dataclass(frozen=True)
class DeadlineData:
    """A deadline as the domain derived it, ready to persist."""

    key: str
    label: str
    due: date
    status: str
    counts_from: str
    anchor_on: date
    rule: str
    source: str
    completed_on: date | None


def ensure_partnership(session: Session, key: str, name: str, reference_prefix: str) -> Partnership:
    """The partnership row for ``key``, created or refreshed from settings."""
    row = session.exec(select(Partnership).where(Partnership.key == key)).first()
    if row is None:
        row = Partnership(key=key, name=name, reference_prefix=reference_prefix)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:  # another worker created it first
            row = session.exec(select(Partnership).where(Partnership.key == key)).one()
    elif (row.name, row.reference_prefix) != (name, reference_prefix):
        row.name, row.reference_prefix = name, reference_prefix
        session.add(row)
    return row


# Advisory-lock namespace for reference allocation (the two-key form, so it cannot meet the
# single-key schema-migration lock in store/db.py).
_REFERENCE_LOCK_NAMESPACE = 0x5AFE


def _lock_reference_series(session: Session, partnership: Partnership, series: str) -> None:
    """Serialise allocation within one reference series (``SG-2026-``) on PostgreSQL.

    Two partnerships may share a prefix (a deployed database from before prefixes had to be
    unique, or a prefix that was changed), so locking the partnership row alone does not keep
    their allocations apart: the series is locked too, for the rest of the transaction.
    The partnership row stays locked as well, because its own (year, sequence) numbers must not
    collide either. SQLite needs neither: its writers are serialised (BEGIN IMMEDIATE).
    """
    session.exec(select(Partnership.id).where(Partnership.id == partnership.id).with_for_update())
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:series))"),
            {"namespace": _REFERENCE_LOCK_NAMESPACE, "series": series},
        )


def _next_sequence(session: Session, partnership: Partnership, series: str, year: int) -> int:
    """One more than every number already used in the series *and* by the partnership that
    year, so neither the reference nor the partnership's (year, sequence) can repeat."""
    highest = session.exec(
        select(func.max(Case.sequence)).where(
            or_(
                col(Case.reference).startswith(series, autoescape=True),
                (Case.partnership_id == partnership.id) & (Case.year == year),
            )
        )
    ).one()
    return (highest or 0) + 1


def add_case(
    session: Session,
    partnership: Partnership,
    *,
    la_aware_on: date,
    opened_by: str,
    summary: str | None = None,
    incident_on: date | None = None,
    request_type: str | None = None,
    owner: str | None = None,
    attempts: int = 5,
) -> Case:
    """Insert a case with the next free reference in its prefix's series for the year.

    References read like SG-2026-0007. The number is allocated over every case whose reference
    has that prefix and year, whichever partnership it belongs to, so a reference is unique by
    construction even when the stored partnerships do not have distinct prefixes (settings
    refuse duplicates now, but a database may predate that, or a prefix may have changed).
    Allocation is serialised by locks (see _lock_reference_series); the unique constraints and
    the savepoint retry, which moves past the number that collided, remain a second line of
    defence.
    """
    assert partnership.id is not None
    year = la_aware_on.year
    series = f"{partnership.reference_prefix}-{year}-"
    _lock_reference_series(session, partnership, series)
    sequence = 0
    for _ in range(attempts):
        sequence = max(sequence + 1, _next_sequence(session, partnership, series, year))
        case = Case(
            reference=f"{series}{sequence:04d}",
            partnership_id=partnership.id,
            year=year,
            sequence=sequence,
            la_aware_on=la_aware_on,
            incident_on=incident_on,
            summary=summary,
            request_type=request_type,
            owner=owner,
            opened_by=opened_by,
        )
        try:
            with session.begin_nested():
                session.add(case)
                session.flush()
        except IntegrityError:
            continue
        return case
    raise RuntimeError("could not allocate a case reference; try again")


def get_case(session: Session, reference: str, *, for_update: bool = False) -> Case | None:
    """A case by reference (case-insensitive); ``for_update`` locks it on PostgreSQL."""
    statement = select(Case).where(func.upper(Case.reference) == reference.strip().upper())
    if for_update:
        statement = statement.with_for_update()
    return session.exec(statement).first()


def reference_of(session: Session, case_id: int) -> str | None:
    """The reference of the case with this id, if it (still) exists."""
    case = session.get(Case, case_id)
    return case.reference if case else None


def list_cases(
    session: Session, *, status: str | None = "open", partnership_id: int | None = None
) -> Sequence[Case]:
    statement = select(Case).order_by(col(Case.la_aware_on), col(Case.id))
    if status is not None:
        statement = statement.where(Case.status == status)
    if partnership_id is not None:
        statement = statement.where(Case.partnership_id == partnership_id)
    return session.exec(statement).all()


def get_partnership(session: Session, partnership_id: int) -> Partnership:
    return session.get_one(Partnership, partnership_id)


def milestones_for(session: Session, case_id: int) -> Sequence[MilestoneRow]:
    return session.exec(
        select(MilestoneRow).where(MilestoneRow.case_id == case_id).order_by(col(MilestoneRow.id))
    ).all()


def add_milestone(
    session: Session,
    case: Case,
    *,
    kind: str,
    occurred_on: date,
    recorded_by: str,
    note: str | None = None,
) -> MilestoneRow:
    assert case.id is not None
    row = MilestoneRow(
        case_id=case.id, kind=kind, occurred_on=occurred_on, recorded_by=recorded_by, note=note
    )
    session.add(row)
    case.updated_at = utcnow()
    session.add(case)
    session.flush()
    return row


def deadlines_for(session: Session, case_id: int) -> Sequence[DeadlineRow]:
    return session.exec(
        select(DeadlineRow).where(DeadlineRow.case_id == case_id).order_by(col(DeadlineRow.id))
    ).all()


def save_deadlines(session: Session, case_id: int, deadlines: Iterable[DeadlineData]) -> list[str]:
    """Upsert the case's deadlines; returns the keys whose due date or status changed."""
    existing = {row.key: row for row in deadlines_for(session, case_id)}
    changed: list[str] = []
    for data in deadlines:
        row = existing.get(data.key)
        values: dict[str, Any] = {
            "label": data.label,
            "due": data.due,
            "status": data.status,
            "counts_from": data.counts_from,
            "anchor_on": data.anchor_on,
            "rule": data.rule,
            "source": data.source,
            "completed_on": data.completed_on,
        }
        if row is None:
            session.add(DeadlineRow(case_id=case_id, key=data.key, **values))
            changed.append(data.key)
            continue
        if (row.due, row.status, row.completed_on) != (data.due, data.status, data.completed_on):
            changed.append(data.key)
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        session.add(row)
    session.flush()
    return changed


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    case_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append to the audit log. ``detail`` must hold identifiers and dates, never child PII."""
    session.add(AuditEntry(actor=actor, action=action, case_id=case_id, detail=detail or {}))
    session.flush()


def deadline_row(session: Session, case_id: int, key: str) -> DeadlineRow | None:
    return session.exec(
        select(DeadlineRow).where(DeadlineRow.case_id == case_id, DeadlineRow.key == key)
    ).first()


def partnerships(session: Session) -> Sequence[Partnership]:
    """Every partnership the database knows, in the order they were first seen."""
    return session.exec(select(Partnership).order_by(col(Partnership.id))).all()


def open_deadlines(session: Session, partnership_id: int) -> Sequence[tuple[Case, DeadlineRow]]:
    """Open deadlines of a partnership's open cases, soonest first (what a digest lists)."""
    return session.exec(
        select(Case, DeadlineRow)
        .join(DeadlineRow, col(DeadlineRow.case_id) == col(Case.id))
        .where(Case.partnership_id == partnership_id, Case.status == "open", DeadlineRow.status == "open")
        .order_by(col(DeadlineRow.due), col(Case.reference))
    ).all()


def case_by_submission(session: Session, submission_id: str) -> Case | None:
    """The case a form submission (e.g. a Slack "Open a case" modal) opened, if any."""
    return session.exec(select(Case).where(Case.submission_id == submission_id)).first()


def set_submission(session: Session, case: Case, submission_id: str) -> None:
    """Record the submission that opened ``case``; the unique index raises IntegrityError here
    for a second opening from the same submission (the caller's transaction then rolls back)."""
    case.submission_id = submission_id
    session.add(case)
    session.flush()


def lock_case(session: Session, case_id: int) -> Case | None:
    """A case by id, locked against concurrent edits (PostgreSQL; SQLite serialises writers)."""
    return session.get(Case, case_id, with_for_update=True)


def touch(session: Session, case: Case) -> None:
    """Mark ``case`` as changed now."""
    case.updated_at = utcnow()
    session.add(case)


def set_assessment(
    session: Session,
    case: Case,
    *,
    answers: dict[str, str] | None,
    decision: str | None,
    also_notify: list[str] | None,
    local_authority: str | None,
) -> None:
    """Store a case's criteria answers, the decision given for them and its notifying LA
    (``None`` leaves that column as it is)."""
    if answers is not None:
        case.criteria_answers = dict(answers)
        case.decision = decision
        case.also_notify = list(also_notify or [])
    if local_authority is not None:
        case.local_authority = local_authority
    case.updated_at = utcnow()
    session.add(case)
    session.flush()


def retire_deadlines(session: Session, case_id: int, keep: set[str]) -> list[str]:
    """Mark not applicable the case's stored deadlines that no longer apply at all (a voided
    decision takes its deadlines with it); never deleted. Returns the keys changed."""
    changed: list[str] = []
    for row in deadlines_for(session, case_id):
        if row.key not in keep and row.status != "not_applicable":
            row.status = "not_applicable"
            row.completed_on = None
            row.updated_at = utcnow()
            session.add(row)
            changed.append(row.key)
    session.flush()
    return changed


def amend_milestone(session: Session, row: MilestoneRow, on: date) -> None:
    """Re-date a milestone; the date first recorded is kept in ``amended_from``."""
    if row.amended_from is None:
        row.amended_from = row.occurred_on
    row.occurred_on = on
    session.add(row)
    session.flush()


def void_milestone(session: Session, row: MilestoneRow, reason: str) -> None:
    """Mark a milestone recorded in error; the row stays."""
    row.voided_at = utcnow()
    row.void_reason = reason[:500]
    session.add(row)
    session.flush()


def audit_for(session: Session, case_id: int) -> Sequence[AuditEntry]:
    """A case's audit trail, oldest first."""
    return session.exec(
        select(AuditEntry).where(AuditEntry.case_id == case_id).order_by(col(AuditEntry.id))
    ).all()


def audit_naming(session: Session, key: str, value: str) -> list[AuditEntry]:
    """Audit entries whose detail has ``key`` = ``value`` (e.g. every step of one quarantined
    message), oldest first; intake actions only. The JSON detail is matched here, not in SQL:
    JSON operators differ between SQLite and PostgreSQL."""
    rows = session.exec(
        select(AuditEntry)
        .where(col(AuditEntry.action).startswith("intake."))
        .order_by(col(AuditEntry.id))
    ).all()
    return [r for r in rows if (r.detail or {}).get(key) == value]
