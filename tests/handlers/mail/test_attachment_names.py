"""Attachment file names that name the child reach nothing but the case record (issue 9).

People name referral files after the child ("Jamie O'Brien "JJ" Fictional 04.01.2012.pdf").
Through the real intake pipeline, on both databases, with every logger at DEBUG: the sender's
rejection and acknowledgement, the quarantine and channel notices, the ledger, the audit trail
and the log name attachments by position and type only. Everything here is fictional.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.cases import CaseService
from bot.routing import Router
from bot.settings import Settings
from handlers.mail.intake import IncomingMail, IntakePipeline
from store.models import IntakeMessage
from store.models import AuditEntry, OutboxMessage
from tests.fixtures import build_referrals as fx
from tests.support.mail import referral_mail

RECEIVED = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)


def _mail(kind: str) -> IncomingMail:
    return IncomingMail(raw=referral_mail(kind), received_at=RECEIVED, mailbox="test")


def test_file_names_reach_nothing_but_the_case_record(
    engine: Engine, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pipeline = IntakePipeline(engine, settings, CaseService(engine, settings), Router(settings))
    rejected = pipeline.process(_mail("named_attachments"))
    accepted = pipeline.process(_mail("named_attachments_form"))
    assert (rejected.status, accepted.status) == ("quarantined", "opened")

    with Session(engine) as session:
        messages = list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())
        ledger = [row.reason for row in session.exec(select(IntakeMessage)).all()]
        audit = [(a.action, a.detail) for a in session.exec(select(AuditEntry)).all()]
    by_kind = {m.payload.get("kind"): m for m in messages}
    assert sorted(by_kind) == ["intake_ack", "intake_notice", "intake_quarantine", "intake_reject"]

    said = json.dumps(
        {
            "outbox": [(m.recipient, m.subject, m.body, m.payload) for m in messages],
            "outcomes": [rejected.reason, accepted.reason],
            "ledger": ledger,
            "audit": audit,
            "log": caplog.text,
        },
        ensure_ascii=False,
    )
    for item in fx.NAMED_FILE_PII:
        assert item not in said, f"{item!r} from a file name leaked"

    # The sender and the officer are still told which attachment was the trouble, and why.
    scan = "the first attachment (PDF): PDF has no text layer"
    assert scan in by_kind["intake_reject"].body and scan in by_kind["intake_quarantine"].body
    assert "ignored the second attachment (PNG image)" in by_kind["intake_ack"].body
    assert "It repeats none of the child's details" in by_kind["intake_ack"].body

    # The case record keeps the file names, for the officers who open the case.
    details = pipeline.cases.details(accepted.reference or "")
    assert [a["filename"] for a in details["attachments"]] == list(fx.NAMED_FILES.values())
