"""Tables: partnerships, cases, milestones, deadlines and the append-only audit log.

The schema itself is owned by the Alembic migrations in store/migrations; these models describe
it to the ORM and must match it (tests/test_migrations.py checks they do).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(tz=UTC)


def _timestamp(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), **kwargs))


class Partnership(SQLModel, table=True):
    __tablename__ = "partnership"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=200)
    reference_prefix: str = Field(max_length=8)
    created_at: datetime = _timestamp(nullable=False)


class Case(SQLModel, table=True):
    __tablename__ = "case_file"
    __table_args__ = (
        UniqueConstraint("partnership_id", "year", "sequence", name="uq_case_sequence"),
        Index("ix_case_status_partnership", "status", "partnership_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=32, unique=True)
    partnership_id: int = Field(foreign_key="partnership.id", index=True)
    year: int
    sequence: int
    status: str = Field(default="open", max_length=16)
    la_aware_on: date
    incident_on: date | None = None
    summary: str | None = Field(default=None, max_length=2000)
    request_type: str | None = Field(default=None, max_length=40)
    opened_by: str = Field(max_length=120)
    opened_at: datetime = _timestamp(nullable=False)
    updated_at: datetime = _timestamp(nullable=False)


class MilestoneRow(SQLModel, table=True):
    __tablename__ = "milestone"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    kind: str = Field(max_length=40)
    occurred_on: date
    recorded_by: str = Field(max_length=120)
    note: str | None = Field(default=None, max_length=2000)
    recorded_at: datetime = _timestamp(nullable=False)


class DeadlineRow(SQLModel, table=True):
    __tablename__ = "deadline"
    __table_args__ = (
        UniqueConstraint("case_id", "key", name="uq_deadline_case_key"),
        Index("ix_deadline_status_due", "status", "due"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    key: str = Field(max_length=40)
    label: str = Field(max_length=200)
    due: date
    status: str = Field(max_length=16)
    counts_from: str = Field(max_length=40)
    anchor_on: date
    rule: str = Field(max_length=200)
    source: str = Field(max_length=500)
    completed_on: date | None = None
    updated_at: datetime = _timestamp(nullable=False)


class AuditEntry(SQLModel, table=True):
    """Who did what, when. Rows are never updated or deleted (database triggers refuse it).

    ``detail`` holds identifiers and dates only: never a child's name, date of birth, address
    or NHS number, so the audit log can be shown to anyone who may see the case list.
    """

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _timestamp(nullable=False, index=True)
    actor: str = Field(max_length=120)
    action: str = Field(max_length=60)
    case_id: int | None = Field(default=None, foreign_key="case_file.id", index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class OutboxMessage(SQLModel, table=True):
    """One message to send (e-mail, Slack, console, folder): written in the same transaction as
    the change that caused it, delivered later with retries, so an outage delays and never drops."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)  # email | slack | console | folder
    recipient: str = Field(max_length=320)
    subject: str | None = Field(default=None, max_length=998)
    body: str = ""
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    dedupe_key: str = Field(max_length=200, unique=True)
    status: str = Field(default="pending", max_length=16)  # pending | sending | sent | dead
    attempts: int = 0
    next_attempt_at: datetime = _timestamp(nullable=False)
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = _timestamp(nullable=False)
    sent_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
