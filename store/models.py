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
    owner: str | None = Field(default=None, max_length=320)
    opened_by: str = Field(max_length=120)
    # The form submission that opened the case (a Slack "Open a case" modal's sealed id): unique,
    # so the same submission again (a replay, a double click) finds this case, never a second.
    submission_id: str | None = Field(default=None, max_length=64, unique=True, index=True)
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


class ReminderRow(SQLModel, table=True):
    """One planned occasion to remind about one deadline; sent once, at most."""

    __tablename__ = "reminder"
    __table_args__ = (
        UniqueConstraint("deadline_id", "occasion", "send_on", name="uq_reminder_slot"),
        Index("ix_reminder_status_send_at", "status", "send_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    deadline_id: int = Field(foreign_key="deadline.id", index=True)
    deadline_key: str = Field(max_length=40)
    occasion: str = Field(max_length=16)
    send_on: date
    send_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status: str = Field(default="pending", max_length=16)
    sent_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = _timestamp(nullable=False)


class OutboxMessage(SQLModel, table=True):
    """A message to deliver (Slack, e-mail, console, folder), written in the same transaction
    as the change that caused it, so a crash or an outage delays it and never drops it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    transport: str = Field(max_length=16)
    recipient: str = Field(max_length=320)
    subject: str = Field(default="", max_length=300)
    body: str
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    dedupe_key: str = Field(max_length=200, unique=True)
    case_id: int | None = Field(default=None, foreign_key="case_file.id", index=True)
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _timestamp(nullable=False)
    claimed_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _timestamp(nullable=False)
    sent_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class WorkerHeartbeat(SQLModel, table=True):
    """A running ``safeguard-bot run`` process, so ``status`` can say what is running."""

    __tablename__ = "worker"

    id: str = Field(primary_key=True, max_length=80)
    host: str = Field(max_length=120)
    pid: int
    components: str = Field(max_length=200)
    started_at: datetime = _timestamp(nullable=False)
    last_seen: datetime = _timestamp(nullable=False)
    stopped_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
