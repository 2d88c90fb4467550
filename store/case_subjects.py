"""The child a case is about: optional identifying details, kept apart from the case row.

Kept in their own table so the case list, notices, reminders and the audit log can never select
them by accident; only code that asks for a case's subject sees them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel, select

from store.models import _timestamp


class CaseSubject(SQLModel, table=True):
    __tablename__ = "case_subject"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_file.id", unique=True)
    name: str | None = Field(default=None, max_length=200)
    date_of_birth: date | None = None
    nhs_number: str | None = Field(default=None, max_length=10)
    # Everything else a referral said about the child and family (address, parents, GP...).
    details: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    recorded_by: str = Field(max_length=120)
    recorded_at: datetime = _timestamp(nullable=False)


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
    row = session.exec(select(CaseSubject).where(CaseSubject.case_id == case_id)).first()
    if row is None:
        row = CaseSubject(case_id=case_id, recorded_by=recorded_by)
    row.name, row.date_of_birth, row.nhs_number = name, date_of_birth, nhs_number
    if details is not None:
        row.details = details
    session.add(row)
    session.flush()
    return row


def subject_for(session: Session, case_id: int) -> CaseSubject | None:
    return session.exec(select(CaseSubject).where(CaseSubject.case_id == case_id)).first()
