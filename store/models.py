"""Every table, in one module: partnerships, cases, milestones, deadlines, the append-only audit
log, reminders, the outbox, workers, conversations, Slack events, case subjects and the mail
intake ledger.

One module so the Alembic environment (store/migrations/env.py) registers every table by
importing it, with no hand-kept list to forget a new table in. The repositories (store/cases.py,
store/intake.py...) import their models from here and hold the queries.

The schema itself is owned by the Alembic migrations in store/migrations; these models describe
it to the ORM and must match it (tests/test_migrations.py checks they do).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from store.crypto import EncryptedBytes, EncryptedDate, EncryptedJSON, EncryptedText


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
    # Free text about the incident: encrypted at rest (store/crypto.py).
    summary: str | None = Field(default=None, sa_column=Column(EncryptedText(2000, required=False), nullable=True))
    request_type: str | None = Field(default=None, max_length=40)
    owner: str | None = Field(default=None, max_length=320)
    opened_by: str = Field(max_length=120)
    # The form submission that opened the case (a Slack "Open a case" modal's sealed id): unique,
    # so the same submission again (a replay, a double click) finds this case, never a second.
    submission_id: str | None = Field(default=None, max_length=64, unique=True, index=True)
    opened_at: datetime = _timestamp(nullable=False)
    updated_at: datetime = _timestamp(nullable=False)
    # The case's criteria answers (the keys of `safeguard-bot criteria`), the decision the core
    # gave for them and the other bodies it said to notify: the steps that run follow from
    # them. NULL for a case opened without answers.
    criteria_answers: dict[str, str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    decision: str | None = Field(default=None, max_length=16)
    also_notify: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The notifying local authority (one of the partnership's local_authorities).
    local_authority: str | None = Field(default=None, max_length=120)
    # Why and when the status last changed (closed, withdrawn, reopened); the audit log has all.
    status_reason: str | None = Field(default=None, max_length=500)
    status_changed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    # A legal hold (e.g. an inquiry's preservation order): retention never erases a held case.
    legal_hold: str | None = Field(default=None, max_length=500)
    # When retention erased the child's details and free text (dates and milestones are kept).
    erased_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class MilestoneRow(SQLModel, table=True):
    __tablename__ = "milestone"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    kind: str = Field(max_length=40)
    occurred_on: date
    recorded_by: str = Field(max_length=120)
    note: str | None = Field(default=None, sa_column=Column(EncryptedText(2000, required=False), nullable=True))
    recorded_at: datetime = _timestamp(nullable=False)
    # Recorded in error: kept (history, audit) but counts for nothing. Never deleted.
    voided_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    void_reason: str | None = Field(default=None, max_length=500)
    # The date first recorded, when a wrong date was amended (None if never amended).
    amended_from: date | None = None


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
    # Encrypted whenever a data key is configured: an agency's rapid-review request carries the
    # child's name and date of birth when the partnership shares them, and a partner's sign-off
    # request attaches the draft report (issue 16). Nothing queries inside them.
    body: str = Field(sa_column=Column(EncryptedText(required=False), nullable=False))
    payload: dict[str, Any] = Field(default_factory=dict,
                                    sa_column=Column(EncryptedJSON(required=False), nullable=False))
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


class ConversationRow(SQLModel, table=True):
    """A criteria conversation (Slack or terminal) between turns: the flow and the answers so
    far, keyed by who is talking where, so a restart resumes at the same question. Answers are
    option values only (``harm=died``), never free text, so nothing here identifies a child."""

    __tablename__ = "conversation"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    flow: str = Field(max_length=40)
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _timestamp(nullable=False)
    updated_at: datetime = _timestamp(nullable=False, index=True)


class SlackEventRow(SQLModel, table=True):
    """The ``event_id`` of an Events API delivery handled: Slack retries a delivery it thinks
    failed, and the insert that wins is the one handled."""

    __tablename__ = "slack_event"

    event_id: str = Field(primary_key=True, max_length=64)
    received_at: datetime = _timestamp(nullable=False, index=True)


class CaseSubject(SQLModel, table=True):
    """A child a case is about (one row per child: siblings in one incident are one case):
    optional identifying details, kept apart from the case row so the case list, notices,
    reminders and the audit log can never select them by accident."""

    __tablename__ = "case_subject"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    # Every identifying column is encrypted at rest (store/crypto.py): the database holds tokens.
    name: str | None = Field(default=None, sa_column=Column(EncryptedText(200), nullable=True))
    date_of_birth: date | None = Field(default=None, sa_column=Column(EncryptedDate, nullable=True))
    nhs_number: str | None = Field(default=None, sa_column=Column(EncryptedText(10), nullable=True))
    # Everything else a referral said about the child and family (address, parents, GP...).
    details: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(EncryptedJSON, nullable=False, server_default="{}")
    )
    recorded_by: str = Field(max_length=120)
    recorded_at: datetime = _timestamp(nullable=False)


class IntakeMessage(SQLModel, table=True):
    """One message the mailbox watchers have handled: the intake ledger (store/intake.py says
    what each column is for). Identifiers, dates and redacted reasons only."""

    __tablename__ = "intake_message"
    __table_args__ = (
        UniqueConstraint("message_id", "message_sha256", name="uq_intake_message_identity"),
        Index("ix_intake_message_sender", "sender_hash", "processed_at"),
        Index("ix_intake_message_thread", "thread_hash", "processed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=300, index=True)
    message_sha256: str | None = Field(default=None, max_length=64)
    content_hash: str | None = Field(default=None, max_length=64, index=True)
    case_id: int | None = Field(default=None, foreign_key="case_file.id", index=True)
    status: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=500)
    sender_domain: str | None = Field(default=None, max_length=255)
    mailbox: str = Field(max_length=80)
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    processed_at: datetime = _timestamp(nullable=False)
    sender_hash: str | None = Field(default=None, max_length=64)
    thread_hash: str | None = Field(default=None, max_length=64)
    answered: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    notice: str | None = Field(default=None, max_length=16)


class MailSyncState(SQLModel, table=True):
    """Where a Microsoft Graph mailbox watcher is in its folder's change stream: the delta link
    Graph gave at the end of the last complete round (store/mail_sync.py). An opaque URL."""

    __tablename__ = "mail_sync_state"

    mailbox: str = Field(primary_key=True, max_length=80)
    folder: str = Field(max_length=255)
    delta_link: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = _timestamp(nullable=False)


class RapidReview(SQLModel, table=True):
    """A case's rapid review as a run process (issue 14; bot/rapid_review.py): when it started,
    its steps as planned at the start (key, label, day, due, source: a partnership's later edit
    of its timeline does not move a running review), the meeting, the draft and the sending to
    the Panel. ``token`` marks every e-mail about it (subject ``[RR-...]``, Message-IDs) so a
    reply finds it. No child details."""

    __tablename__ = "rapid_review"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_file.id", unique=True, index=True)
    token: str = Field(max_length=24, unique=True)
    started_on: date
    started_by: str = Field(max_length=120)
    steps: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Step key -> ISO day it was done, for the steps only the bot can know (chase, escalate).
    done: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    meeting_on: date | None = None
    draft_on: date | None = None
    sent_on: date | None = None
    sent_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = _timestamp(nullable=False)


class RapidReviewAgency(SQLModel, table=True):
    """One agency asked for its summary of involvement in one rapid review: when asked, when
    due, when returned (and how), chased, escalated; the request's Message-ID for threading."""

    __tablename__ = "rapid_review_agency"
    __table_args__ = (UniqueConstraint("rapid_review_id", "agency", name="uq_rapid_review_agency"),)

    id: int | None = Field(default=None, primary_key=True)
    rapid_review_id: int = Field(foreign_key="rapid_review.id", index=True)
    agency: str = Field(max_length=40)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    requested_on: date
    due: date
    request_message_id: str = Field(max_length=300, index=True)
    returned_on: date | None = None
    returned_via: str | None = Field(default=None, max_length=40)
    returned_by: str | None = Field(default=None, max_length=120)
    chased_on: date | None = None
    escalated_on: date | None = None


class RapidReviewFile(SQLModel, table=True):
    """A file an agency returned (its summary, a chronology): kept in the database with the
    return, so every worker and a backup have it. The file name may identify the child: it is
    shown to case officers only, never in a channel, a log or the audit log."""

    __tablename__ = "rapid_review_file"

    id: int | None = Field(default=None, primary_key=True)
    rapid_review_agency_id: int = Field(foreign_key="rapid_review_agency.id", index=True)
    filename: str = Field(sa_column=Column(EncryptedText(), nullable=False))
    content_type: str = Field(max_length=120)
    sha256: str = Field(max_length=64)
    size: int
    data: bytes = Field(sa_column=Column(EncryptedBytes, nullable=False))
    received_at: datetime = _timestamp(nullable=False)


class RapidReviewSignoff(SQLModel, table=True):
    """A safeguarding partner's sign-off of a rapid review (one per partner role)."""

    __tablename__ = "rapid_review_signoff"
    __table_args__ = (UniqueConstraint("rapid_review_id", "partner", name="uq_rapid_review_signoff"),)

    id: int | None = Field(default=None, primary_key=True)
    rapid_review_id: int = Field(foreign_key="rapid_review.id", index=True)
    partner: str = Field(max_length=40)
    signed_by: str = Field(max_length=200)
    signed_on: date
    via: str = Field(max_length=40)
    recorded_at: datetime = _timestamp(nullable=False)
class TeamsConversation(SQLModel, table=True):
    """Where the bot can write to a Teams conversation it was installed in (store/teams.py): the
    conversation reference Teams sends with the install, kept so reminders and notices reach
    the partnership's channel (``teams_channel``) at the service URL Teams gave for it."""

    __tablename__ = "teams_conversation"

    conversation_id: str = Field(primary_key=True, max_length=255)
    service_url: str = Field(max_length=500)
    tenant_id: str | None = Field(default=None, max_length=64)
    team_id: str | None = Field(default=None, max_length=255)
    kind: str = Field(max_length=16)
    updated_at: datetime = _timestamp(nullable=False)
