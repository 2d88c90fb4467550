"""Retention's queries: closed cases past their period, and erasing one case's identifying
data (the child rows, the summary, milestone notes, the files agencies returned to its rapid
review, the text of the messages sent about it) while its dates and milestones stay; and which archived referral originals
(store/originals.py) belong to a case, from the intake ledger."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlmodel import Session, col, delete, select

from store.models import (
    Case,
    CaseSubject,
    IntakeMessage,
    MilestoneRow,
    OutboxMessage,
    RapidReview,
    RapidReviewAgency,
    RapidReviewFile,
    utcnow,
)
from store.outbox import PENDING

ENDED = ("closed", "withdrawn")


def ended_cases(session: Session, partnership_id: int) -> Sequence[Case]:
    """The partnership's closed or withdrawn cases not yet erased, oldest first."""
    return session.exec(
        select(Case).where(Case.partnership_id == partnership_id, col(Case.status).in_(ENDED),
                           col(Case.erased_at).is_(None)).order_by(col(Case.status_changed_at))
    ).all()


def erase_case(session: Session, case: Case) -> int:
    """Remove what identifies the child; returns how many child rows went. Dates, milestones,
    deadlines and the audit log stay (the yearly figures count them)."""
    assert case.id is not None
    removed = session.exec(select(CaseSubject).where(CaseSubject.case_id == case.id)).all()
    session.exec(delete(CaseSubject).where(col(CaseSubject.case_id) == case.id))  # type: ignore[call-overload]
    session.exec(update(MilestoneRow).where(col(MilestoneRow.case_id) == case.id).values(note=None))  # type: ignore[call-overload]
    # The agencies' returns describe the child: the files go; who returned when stays.
    returns = select(RapidReviewAgency.id).join(
        RapidReview, col(RapidReview.id) == col(RapidReviewAgency.rapid_review_id)
    ).where(RapidReview.case_id == case.id)
    session.exec(delete(RapidReviewFile).where(col(RapidReviewFile.rapid_review_agency_id).in_(returns)))  # type: ignore[call-overload]
    case.summary = None
    case.erased_at = utcnow()
    session.add(case)
    session.flush()
    return len(removed)


ERASED_MESSAGE = "[erased under the partnership's retention policy]"


def erase_messages(session: Session, case_id: int) -> int:
    """Blank the text and attachments of the case's delivered (or given-up) outgoing messages:
    an agency's request may have named the child, a sign-off request carried the draft. Who
    was written to, when, and the outcome stay; a message still waiting to go is left to go.
    Returns how many were blanked."""
    result = session.exec(  # type: ignore[call-overload]
        update(OutboxMessage)
        .where(col(OutboxMessage.case_id) == case_id, col(OutboxMessage.status) != PENDING)
        .values(body=ERASED_MESSAGE, payload={})
    )
    return int(result.rowcount or 0)


def unlinked_messages(session: Session, mailbox: str) -> Sequence[IntakeMessage]:
    """A mailbox's messages never linked to a case (quarantined or ignored and never opened by
    hand), oldest first: their archived originals have no case's retention to follow."""
    return session.exec(
        select(IntakeMessage).where(IntakeMessage.mailbox == mailbox, col(IntakeMessage.case_id).is_(None),
                                    col(IntakeMessage.message_sha256).is_not(None))
        .order_by(col(IntakeMessage.received_at))
    ).all()


def case_messages(session: Session, case_id: int) -> list[tuple[str, str]]:
    """(message_sha256, mailbox) of every message the intake linked to the case: the one that
    opened it, re-sent forms, agencies' returns, a quarantined message opened by hand. Their
    originals are archived under that hash (a ledger row from before the hash has none)."""
    rows = session.exec(
        select(IntakeMessage.message_sha256, IntakeMessage.mailbox)
        .where(IntakeMessage.case_id == case_id, col(IntakeMessage.message_sha256).is_not(None))
        .order_by(col(IntakeMessage.id))
    ).all()
    return [(str(sha), str(mailbox)) for sha, mailbox in rows]


def set_hold(session: Session, case: Case, reason: str | None) -> None:
    case.legal_hold = reason
    session.add(case)
    session.flush()
