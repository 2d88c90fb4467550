"""Mail intake ledger (the ``intake_message`` table in store/models.py): one row per message the mailbox watchers have handled.

It is what makes intake idempotent. A message's identity is its Message-ID *and* a hash of
the message itself (``message_sha256``, see ``handlers.mail.intake.message_sha256``): a message
fetched twice (a watcher killed after its case committed but before the message was moved) is
recognised and only moved, while a different message that reuses a Message-ID (a careless
client, or spam) is processed on its own, never dropped as a duplicate. Rows written before
that column existed have no hash and match on the Message-ID alone, as they did then.
``content_hash`` (a hash of what the form says) finds a re-sent form so it updates its case
instead of opening a second one. ``sender_hash``/``thread_hash`` (hashes of the sender's address
and of the thread's first Message-ID), ``answered`` and ``notice`` are what the mail-loop limits
count: replies per sender and per thread in the last hour, and the bounded notices. Rows hold identifiers, dates and reasons only, never
a child's details: ``reason`` is redacted before it is stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from store.models import Case, IntakeMessage, Partnership, utcnow

OPENED = "opened"  # a new case was opened from this message
UPDATED = "updated"  # a re-sent form: the existing case's details were refreshed
QUARANTINED = "quarantined"  # unreadable, or from a sender not on the allow-list: for a human
IGNORED = "ignored"  # automatic reply, bounce or bulk mail: never answered
RELEASED = "released"  # a human released it from quarantine: the next fetch processes it again
RAPID_REVIEW = "rapid_review"  # a reply to a rapid review request: an agency's return or a sign-off

# ``notice``: how a human heard of the message.
NOTICE_SENT = "sent"  # a notice of its own
NOTICE_BOUNDED = "bounded"  # a notice of its own, opening an hour in which the sender's other
#                             looping mail is summarised instead
NOTICE_SUMMARISED = "summarised"  # counted in the summary notice at the end of that hour


def by_identity(session: Session, message_id: str, message_sha256: str) -> IntakeMessage | None:
    """This very message, if it was handled before (a legacy row without a hash matches on the
    Message-ID alone: that was the identity when it was written)."""
    return session.exec(
        select(IntakeMessage)
        .where(
            IntakeMessage.message_id == message_id,
            or_(col(IntakeMessage.message_sha256) == message_sha256, col(IntakeMessage.message_sha256).is_(None)),
            IntakeMessage.status != RELEASED,  # released from quarantine: to be processed again
        )
        .order_by(col(IntakeMessage.id))
        .limit(1)
    ).first()


def other_with_message_id(session: Session, message_id: str, message_sha256: str) -> IntakeMessage | None:
    """The first *different* message that came with the same Message-ID, if any."""
    return session.exec(
        select(IntakeMessage)
        .where(IntakeMessage.message_id == message_id, col(IntakeMessage.message_sha256) != message_sha256)
        .order_by(col(IntakeMessage.id))
        .limit(1)
    ).first()


def case_for_content(session: Session, content_hash: str, partnership_key: str) -> int | None:
    """The partnership's case that an earlier message with the same form content opened, if
    any. Per partnership: the same form sent to two partnerships is a case in each."""
    return session.exec(
        select(IntakeMessage.case_id)
        .join(Case, col(Case.id) == col(IntakeMessage.case_id))
        .join(Partnership, col(Partnership.id) == col(Case.partnership_id))
        .where(
            IntakeMessage.content_hash == content_hash,
            Partnership.key == partnership_key,
        )
        .order_by(col(IntakeMessage.id))
        .limit(1)
    ).first()


def record(
    session: Session,
    *,
    message_id: str,
    message_sha256: str,
    status: str,
    mailbox: str,
    received_at: datetime,
    content_hash: str | None = None,
    case_id: int | None = None,
    reason: str | None = None,
    sender_domain: str | None = None,
    sender_hash: str | None = None,
    thread_hash: str | None = None,
    answered: bool = False,
    notice: str | None = None,
) -> IntakeMessage:
    # A message released from quarantine keeps its one ledger row (the identity is unique):
    # its new outcome is written over the release; the audit log has every step.
    released = session.exec(
        select(IntakeMessage).where(
            IntakeMessage.message_id == message_id,
            IntakeMessage.message_sha256 == message_sha256,
            IntakeMessage.status == RELEASED,
        )
    ).first()
    if released is not None:
        released.status, released.case_id = status, case_id
        released.content_hash = content_hash
        released.reason = reason[:500] if reason else None
        released.processed_at = utcnow()
        released.answered, released.notice = answered, notice
        released.sender_hash, released.thread_hash = sender_hash, thread_hash
        session.add(released)
        session.flush()
        return released
    row = IntakeMessage(
        message_id=message_id,
        message_sha256=message_sha256,
        content_hash=content_hash,
        case_id=case_id,
        status=status,
        reason=reason[:500] if reason else None,
        sender_domain=sender_domain[:255] if sender_domain else None,
        mailbox=mailbox[:80],
        received_at=received_at,
        sender_hash=sender_hash,
        thread_hash=thread_hash,
        answered=answered,
        notice=notice,
    )
    session.add(row)
    session.flush()
    return row


def replies_since(session: Session, since: datetime, *, sender_hash: str | None = None,
                  thread_hash: str | None = None) -> int:
    """How many messages from this sender (or in this thread) were answered since ``since``."""
    statement = select(func.count()).select_from(IntakeMessage).where(
        col(IntakeMessage.answered).is_(True), col(IntakeMessage.processed_at) >= since
    )
    if sender_hash is not None:
        statement = statement.where(IntakeMessage.sender_hash == sender_hash)
    if thread_hash is not None:
        statement = statement.where(IntakeMessage.thread_hash == thread_hash)
    return int(session.exec(statement).one())


def latest_bounded_notice(session: Session, sender_hash: str, since: datetime) -> IntakeMessage | None:
    """The sender's message whose notice opened the current hour of summarised notices."""
    return session.exec(
        select(IntakeMessage)
        .where(IntakeMessage.sender_hash == sender_hash, IntakeMessage.notice == NOTICE_BOUNDED,
               col(IntakeMessage.processed_at) >= since)
        .order_by(col(IntakeMessage.id).desc())
        .limit(1)
    ).first()


def summarised_after(session: Session, sender_hash: str, after_id: int) -> list[IntakeMessage]:
    """The sender's messages held for the summary since the bounded notice ``after_id``."""
    return list(session.exec(
        select(IntakeMessage)
        .where(IntakeMessage.sender_hash == sender_hash, IntakeMessage.notice == NOTICE_SUMMARISED,
               col(IntakeMessage.id) > after_id)
        .order_by(col(IntakeMessage.id))
    ).all())


def messages(session: Session, *, status: str | None = None) -> list[IntakeMessage]:
    """The ledger, newest first (``status`` filters it)."""
    statement = select(IntakeMessage).order_by(col(IntakeMessage.id).desc())
    if status is not None:
        statement = statement.where(IntakeMessage.status == status)
    return list(session.exec(statement).all())


def get(session: Session, row_id: int, *, for_update: bool = False) -> IntakeMessage | None:
    return session.get(IntakeMessage, row_id, with_for_update=for_update)


def set_status(session: Session, row: IntakeMessage, status: str, *, case_id: int | None = None) -> None:
    """A human's decision on a message (released, a case opened by hand); never deleted."""
    row.status = status
    if case_id is not None:
        row.case_id = case_id
    session.add(row)
    session.flush()
