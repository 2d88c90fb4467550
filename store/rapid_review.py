"""Rapid reviews' rows: the review, its agencies, their returned files and the sign-offs.

Queries only; the rules are bot/core/rapid_review.py's and the service is bot/rapid_review.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from store.models import (
    RapidReview,
    RapidReviewAgency,
    RapidReviewFile,
    RapidReviewSignoff,
)


def for_case(session: Session, case_id: int, *, for_update: bool = False) -> RapidReview | None:
    statement = select(RapidReview).where(RapidReview.case_id == case_id)
    if for_update:
        statement = statement.with_for_update()
    return session.exec(statement).first()


def by_token(session: Session, token: str) -> RapidReview | None:
    return session.exec(select(RapidReview).where(RapidReview.token == token)).first()


def add_review(session: Session, *, case_id: int, token: str, started_on: date, started_by: str,
               steps: list[dict[str, Any]]) -> RapidReview:
    row = RapidReview(case_id=case_id, token=token, started_on=started_on, started_by=started_by,
                      steps=steps, done={})
    session.add(row)
    session.flush()
    return row


def save(session: Session, row: Any) -> None:
    session.add(row)
    session.flush()


def agencies(session: Session, review_id: int) -> list[RapidReviewAgency]:
    return list(session.exec(
        select(RapidReviewAgency).where(RapidReviewAgency.rapid_review_id == review_id)
        .order_by(col(RapidReviewAgency.id))
    ).all())


def add_agency(session: Session, **values: Any) -> RapidReviewAgency:
    row = RapidReviewAgency(**values)
    session.add(row)
    session.flush()
    return row


def agency_by_message_ids(session: Session, message_ids: Sequence[str]) -> RapidReviewAgency | None:
    """The agency request one of these Message-IDs is (a reply's In-Reply-To/References)."""
    if not message_ids:
        return None
    return session.exec(
        select(RapidReviewAgency).where(col(RapidReviewAgency.request_message_id).in_(list(message_ids)))
    ).first()


def add_file(session: Session, **values: Any) -> RapidReviewFile:
    row = RapidReviewFile(**values)
    session.add(row)
    session.flush()
    return row


def files(session: Session, agency_row_id: int) -> list[RapidReviewFile]:
    return list(session.exec(
        select(RapidReviewFile).where(RapidReviewFile.rapid_review_agency_id == agency_row_id)
        .order_by(col(RapidReviewFile.id))
    ).all())


def file_count(session: Session, agency_row_id: int) -> int:
    return len(list(session.exec(
        select(RapidReviewFile.id).where(RapidReviewFile.rapid_review_agency_id == agency_row_id)
    ).all()))


def signoffs(session: Session, review_id: int) -> list[RapidReviewSignoff]:
    return list(session.exec(
        select(RapidReviewSignoff).where(RapidReviewSignoff.rapid_review_id == review_id)
        .order_by(col(RapidReviewSignoff.signed_on), col(RapidReviewSignoff.id))
    ).all())


def add_signoff(session: Session, **values: Any) -> RapidReviewSignoff:
    row = RapidReviewSignoff(**values)
    session.add(row)
    session.flush()
    return row


def running(session: Session) -> list[RapidReview]:
    """Reviews not yet sent to the Panel (the ones to chase)."""
    return list(session.exec(
        select(RapidReview).where(col(RapidReview.sent_on).is_(None)).order_by(col(RapidReview.id))
    ).all())
