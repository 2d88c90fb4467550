"""The child a case is about: optional identifying details, kept apart from the case row
(the ``case_subject`` table in store/models.py; this module is its repository).

Kept in their own table so the case list, notices, reminders and the audit log can never select
them by accident; only code that asks for a case's subject sees them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from store.models import CaseSubject


def save_subject(
    session: Session,
    case_id: int,
    *,
    name: str | None,
    date_of_birth: date | None,
    nhs_number: str | None,
    recorded_by: str,
    details: dict[str, Any] | None = None,
) -> CaseSubject:
    row = subject_for(session, case_id)
    if row is None:
        row = CaseSubject(case_id=case_id, recorded_by=recorded_by)
    row.name, row.date_of_birth, row.nhs_number = name, date_of_birth, nhs_number
    if details is not None:
        row.details = details
    session.add(row)
    session.flush()
    return row


def subject_for(session: Session, case_id: int) -> CaseSubject | None:
    """The case's first child (the one its referral was about)."""
    return session.exec(
        select(CaseSubject).where(CaseSubject.case_id == case_id).order_by(col(CaseSubject.id))
    ).first()


def subjects_for(session: Session, case_id: int) -> Sequence[CaseSubject]:
    """Every child the case is about, in the order they were recorded."""
    return session.exec(
        select(CaseSubject).where(CaseSubject.case_id == case_id).order_by(col(CaseSubject.id))
    ).all()


def add_subject(
    session: Session,
    case_id: int,
    *,
    name: str | None,
    date_of_birth: date | None,
    nhs_number: str | None,
    recorded_by: str,
) -> int:
    """Another child in the case (siblings in one incident); returns how many it now has."""
    session.add(CaseSubject(case_id=case_id, name=name, date_of_birth=date_of_birth,
                            nhs_number=nhs_number, recorded_by=recorded_by))
    session.flush()
    return len(subjects_for(session, case_id))
