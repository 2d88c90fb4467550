"""The intake pipeline without a mail server: raw bytes in, committed case + outbox rows out.

Runs on SQLite and PostgreSQL (the ``engine`` fixture). Every assertion is about what was
committed: the case and its deadlines, the ledger row, the outbox messages and their contents.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from email import message_from_string, policy

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.cases import CaseService
from bot.routing import Router
from bot.settings import Settings, load_settings
from handlers.mail.intake import IncomingMail, IntakePipeline
from handlers.mail.notices import redact_reason
from handlers.transports.interface import OutboundMessage
from handlers.transports.smtp import build_email
from store.models import AuditEntry, Case, CaseSubject, IntakeMessage, OutboxMessage
from tests.fixtures import build_referrals as fx
from tests.support.mail import PROSE_A, PROSE_B, assert_no_pii, body_form_mail, new_message_id, referral_mail

# Monday 30 Nov 2026, 09:15 in London (GMT): awareness day 0, Panel notification due Mon 7 Dec.
RECEIVED = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)


def _pipeline(engine: Engine, settings: Settings) -> IntakePipeline:
    return IntakePipeline(engine, settings, CaseService(engine, settings), Router(settings))


@pytest.fixture
def pipeline(engine: Engine, settings: Settings) -> IntakePipeline:
    return _pipeline(engine, settings)


def _outbox(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def _cases(engine: Engine) -> list[Case]:
    with Session(engine) as session:
        return list(session.exec(select(Case)).all())


def _mail(raw: bytes, received: datetime = RECEIVED, seen: datetime | None = None) -> IncomingMail:
    """A message that reached the mailbox at ``received``; the bot saw it then too unless told
    otherwise (the tests pin the clock instead of depending on today's date)."""
    return IncomingMail(raw=raw, received_at=received, mailbox="test", seen_at=seen or received)


def test_docx_referral_opens_a_case_with_ack_and_notice(pipeline: IntakePipeline, engine: Engine) -> None:
    message_id = new_message_id()
    outcome = pipeline.process(_mail(referral_mail("docx", message_id=message_id)))
    assert (outcome.status, outcome.destination, outcome.duplicate) == ("opened", "processed", False)
    view = pipeline.cases.get(outcome.reference or "")
    assert view.la_aware == date(2026, 11, 30)
    assert view.incident_date == date(2019, 3, 7)
    assert view.request_type == "serious_incident_notification"
    due = {s.deadline.key: s.deadline.due for s in view.deadlines}
    assert due["panel_notification"] == date(2026, 12, 7)
    assert due["rapid_review"] == date(2026, 12, 21)
    assert_no_pii(view.summary or "")
    # The child's details are kept, apart from the case row, for officers.
    assert pipeline.cases.details(view.reference)["child"]["nhs_number"] == "9434765919"

    ack, notice = _outbox(engine)
    assert (ack.transport, ack.recipient) == ("folder", "priya.testwell@northtown.example.nhs.uk")
    assert ack.payload["in_reply_to"] == message_id and message_id in ack.payload["references"]
    assert view.reference in ack.subject and view.reference in ack.body
    assert "Mon 07 Dec 2026" in ack.body and "What happens next" in ack.body
    # Plain words in the body; the statutory detail is attached.
    assert "Children Act 2004 s16C(1)" not in ack.body and "Contact:" in ack.body
    [ics, detail] = ack.payload["attachments"]
    assert detail["filename"] == f"{view.reference}-deadlines.txt" and "Children Act 2004 s16C(1)" in detail["data"]
    assert ics["filename"] == f"{view.reference}-deadlines.ics" and "BEGIN:VEVENT" in ics["data"]
    assert "DTSTART;VALUE=DATE:20261207" in ics["data"]
    assert notice.recipient == "#default"
    assert view.reference in notice.body and "northtown.example.nhs.uk" in notice.body
    assert "Northtown Health Visiting Service" not in notice.body  # typed by the sender: not posted
    assert "Next deadline" in notice.body and "07 Dec 2026" in notice.body
    for message in (ack, notice):
        assert_no_pii(message.subject + message.body + str(message.payload))
    # The e-mail as it would be sent: threaded, auto-generated, with the calendar attached.
    mail = build_email(OutboundMessage(ack.id or 0, ack.transport, ack.recipient, ack.subject, ack.body,
                                       ack.payload), "safeguard-bot@localhost")
    parsed = message_from_string(mail.as_string(), policy=policy.default)
    assert parsed["In-Reply-To"] == message_id and parsed["Auto-Submitted"] == "auto-generated"
    assert [p.get_content_type() for p in parsed.iter_attachments()] == ["text/calendar", "text/plain"]

    with Session(engine) as session:
        [row] = session.exec(select(IntakeMessage)).all()
    assert (row.message_id, row.status, row.sender_domain) == (message_id, "opened", "northtown.example.nhs.uk")
    assert row.content_hash and row.case_id is not None


def test_same_message_twice_is_handled_once(pipeline: IntakePipeline, engine: Engine) -> None:
    raw = referral_mail("docx")
    first = pipeline.process(_mail(raw))
    again = pipeline.process(_mail(raw))
    assert again.duplicate and (again.status, again.reference) == ("opened", first.reference)
    assert len(_cases(engine)) == 1 and len(_outbox(engine)) == 2


def test_the_same_message_delivered_twice_is_handled_once(pipeline: IntakePipeline, engine: Engine) -> None:
    """A copy that reached the mailbox by a second route differs only in its trace headers."""
    raw = referral_mail("docx")
    first = pipeline.process(_mail(b"Received: from mx1.example.nhs.uk by mx.partnership\r\n" + raw))
    again = pipeline.process(_mail(b"Received: from mx2.example.nhs.uk by mx.partnership\r\n" + raw))
    assert again.duplicate and again.reference == first.reference
    assert len(_cases(engine)) == 1 and len(_outbox(engine)) == 2


def test_a_different_referral_reusing_a_message_id_is_processed_and_flagged(
    pipeline: IntakePipeline, engine: Engine
) -> None:
    """Issue 8 item 4: a Message-ID is the sender's claim, not an identity."""
    message_id = new_message_id()
    first = pipeline.process(_mail(body_form_mail(PROSE_A, message_id=message_id)))
    second = pipeline.process(_mail(body_form_mail(PROSE_B, message_id=message_id)))
    assert (first.status, second.status, second.duplicate) == ("opened", "opened", False)
    assert first.reference != second.reference and len(_cases(engine)) == 2
    acks = [m for m in _outbox(engine) if m.recipient == "priya.testwell@northtown.example.nhs.uk"]
    assert [a.payload["reference"] for a in acks] == [first.reference, second.reference]
    assert acks[0].payload["message_id"] != acks[1].payload["message_id"]
    [notice] = [m for m in _outbox(engine) if m.recipient == "#default" and second.reference in m.body]
    assert "Message-ID" in notice.body and "already used by a different message" in notice.body
    with Session(engine) as session:
        [clash] = session.exec(select(AuditEntry).where(AuditEntry.action == "intake.message_id_reused")).all()
    assert clash.detail["earlier"] == first.reference
    # Each of the two is still idempotent on its own.
    assert pipeline.process(_mail(body_form_mail(PROSE_B, message_id=message_id))).duplicate
    assert len(_cases(engine)) == 2


def test_spam_quarantined_under_a_message_id_does_not_swallow_the_referral(
    pipeline: IntakePipeline, engine: Engine
) -> None:
    message_id = new_message_id()
    spam = pipeline.process(_mail(referral_mail("plain", message_id=message_id, sender="x@evilnhs.net")))
    genuine = pipeline.process(_mail(referral_mail("docx", message_id=message_id)))
    assert (spam.status, genuine.status, genuine.duplicate) == ("quarantined", "opened", False)
    assert len(_cases(engine)) == 1
    notices = [m for m in _outbox(engine) if m.recipient == "#default"]
    assert len(notices) == 2 and spam.quarantine_id in notices[1].body


def test_message_without_message_id_dedupes_on_its_bytes(pipeline: IntakePipeline, engine: Engine) -> None:
    raw = referral_mail("html", drop_message_id=True)
    first = pipeline.process(_mail(raw))
    assert first.message_id.startswith("<sha256-")
    assert pipeline.process(_mail(raw)).duplicate
    assert len(_cases(engine)) == 1


def test_resent_form_updates_the_existing_case(pipeline: IntakePipeline, engine: Engine) -> None:
    first = pipeline.process(_mail(referral_mail("docx")))
    later = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    second = pipeline.process(_mail(referral_mail("docx"), received=later))
    assert (second.status, second.reference, second.duplicate) == ("updated", first.reference, False)
    [case] = _cases(engine)
    assert case.la_aware_on == date(2026, 11, 30)  # the first copy set the clock; it does not move
    acks = [m for m in _outbox(engine) if m.transport == "folder" and "@" in m.recipient]
    assert len(acks) == 2 and "matches a referral we already hold" in acks[1].body
    with Session(engine) as session:
        actions = [a.action for a in session.exec(select(AuditEntry).where(AuditEntry.case_id == case.id))]
        subject = session.exec(select(CaseSubject)).one()
    assert actions.count("case.opened") == 1 and actions.count("case.details_refreshed") == 1
    assert subject.details["intake"]["received_at"].startswith("2026-12-02")


def test_body_forms_about_different_children_are_different_cases(
    pipeline: IntakePipeline, engine: Engine
) -> None:
    """Issue 8 item 3: the same four labelled lines with different prose are two referrals."""
    first = pipeline.process(_mail(body_form_mail(PROSE_A)))
    second = pipeline.process(_mail(body_form_mail(PROSE_B)))
    assert (first.status, second.status) == ("opened", "opened")
    assert first.reference != second.reference and len(_cases(engine)) == 2
    # The same body sent again (a new Message-ID) is a re-send of that form: an update.
    again = pipeline.process(_mail(body_form_mail(PROSE_B)))
    assert (again.status, again.reference) == ("updated", second.reference)


@pytest.mark.parametrize(("kind", "why"), [("scan", "no text layer"), ("zip_bomb", "decompression bomb")])
def test_unreadable_form_is_quarantined_and_both_sides_told(
    pipeline: IntakePipeline, engine: Engine, kind: str, why: str
) -> None:
    message_id = new_message_id()
    outcome = pipeline.process(_mail(referral_mail(kind, message_id=message_id)))
    assert (outcome.status, outcome.destination) == ("quarantined", "quarantine")
    assert why in (outcome.reason or "") and outcome.quarantine_id
    assert _cases(engine) == []
    reply, notice = _outbox(engine)
    assert reply.recipient == "priya.testwell@northtown.example.nhs.uk"
    assert reply.payload["in_reply_to"] == message_id and why in reply.body
    assert outcome.quarantine_id in reply.body
    assert notice.recipient == "#default" and outcome.quarantine_id in notice.body
    assert "northtown.example.nhs.uk" in notice.body and why in notice.body
    assert "referral scan.pdf" not in notice.body  # file names can name a child: redacted
    for message in (reply, notice):
        assert_no_pii(message.body)


@pytest.mark.parametrize("kind", ["auto_reply", "bounce"])
def test_automatic_mail_is_never_answered(pipeline: IntakePipeline, engine: Engine, kind: str) -> None:
    """Never answered (mail loops); a human hears of it, at most once per sender per hour."""
    outcome = pipeline.process(_mail(referral_mail(kind)))
    assert (outcome.status, outcome.destination) == ("ignored", "quarantine")
    assert _cases(engine) == []
    [notice] = _outbox(engine)
    assert notice.recipient == "#default" and outcome.quarantine_id in notice.body
    assert "Nothing was sent to the sender" in notice.body
    second = pipeline.process(_mail(referral_mail(kind)))
    assert second.status == "ignored" and len(_outbox(engine)) == 2
    summary = _outbox(engine)[1]
    assert summary.status == "pending" and second.quarantine_id in summary.body  # due when the hour ends


@pytest.mark.parametrize(
    "headers",
    [{"Auto-Submitted": "auto-forwarded"}, {"Precedence": "list", "List-Id": "<safeguarding.northtown.nhs.uk>"}],
    ids=["auto-forwarded", "list"],
)
def test_a_forwarded_or_list_referral_opens_its_case_and_is_not_answered(
    pipeline: IntakePipeline, engine: Engine, headers: dict[str, str]
) -> None:
    """Issue 8 item 5: a referral forwarded by a rule, or sent through a distribution list,
    was quarantined as an automatic reply and nobody was told."""
    outcome = pipeline.process(_mail(referral_mail("docx", headers=headers)))
    assert outcome.status == "opened"
    [notice] = _outbox(engine)  # a human is told; the sender is never answered
    assert notice.recipient == "#default" and outcome.reference in notice.body
    assert "not answered" in notice.body and ("forwarded" in notice.body or "list" in notice.body)


def test_an_unreadable_forwarded_message_tells_a_human_only(pipeline: IntakePipeline, engine: Engine) -> None:
    outcome = pipeline.process(_mail(referral_mail("scan", headers={"Auto-Submitted": "auto-forwarded"})))
    assert outcome.status == "quarantined"
    [notice] = _outbox(engine)
    assert notice.recipient == "#default" and "no text layer" in notice.body and "not answered" in notice.body


def test_the_bots_own_mail_coming_back_is_recorded_without_a_notice(pipeline: IntakePipeline, engine: Engine) -> None:
    """A notice sent to a mailbox the bot itself watches must not make another notice."""
    own = referral_mail("auto_reply", sender=f"Safeguarding bot <{pipeline.settings.smtp_from}>",
                        headers={"Auto-Submitted": "auto-generated"})
    outcome = pipeline.process(_mail(own))
    assert outcome.status == "ignored" and _outbox(engine) == []
    with Session(engine) as session:
        [audit] = session.exec(select(AuditEntry)).all()
    assert audit.action == "intake.ignored" and "the bot's own" in audit.detail["reason"]


def test_foreign_sender_is_quarantined_for_a_human_only(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(data_dir=tmp_path / "var", intake_notify="officer@partnership.example.gov.uk")
    pipeline = _pipeline(engine, settings)
    outcome = pipeline.process(_mail(referral_mail("docx", sender="Someone <someone@evilnhs.net>")))
    assert outcome.status == "quarantined" and "evilnhs.net" in (outcome.reason or "")
    [notice] = _outbox(engine)  # nobody answers the (possibly forged) sender
    assert notice.recipient == "officer@partnership.example.gov.uk"
    assert _cases(engine) == []


def test_learning_request_opens_a_case_and_says_so(pipeline: IntakePipeline, engine: Engine) -> None:
    outcome = pipeline.process(_mail(referral_mail("plain")))
    view = pipeline.cases.get(outcome.reference or "")
    assert view.request_type == "learning_request"
    # Issue 10: a learning request runs the partnership's decision step, not the Panel clock.
    assert [s.deadline.key for s in view.deadlines] == ["learning_request_decision"]
    ack, notice = _outbox(engine)
    assert "learning request" in ack.body and "does not run the Panel notification clock" in ack.body
    assert "Missing or doubtful on the form" in ack.body  # the form's gaps, for the sender
    assert "decide whether notification is required" in notice.body


def test_incident_after_arrival_is_not_used(pipeline: IntakePipeline, engine: Engine) -> None:
    received = datetime(2019, 3, 1, 12, 0, tzinfo=UTC)  # before the form's incident date (7.3.2019)
    outcome = pipeline.process(_mail(referral_mail("docx"), received=received))
    view = pipeline.cases.get(outcome.reference or "")
    assert view.incident_date is None and view.la_aware == date(2019, 3, 1)
    assert "after the day the referral arrived" in _outbox(engine)[0].body


def test_awareness_is_the_london_date(pipeline: IntakePipeline) -> None:
    late = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)  # 00:30 on 1 July in London (BST)
    outcome = pipeline.process(_mail(referral_mail("docx"), received=late))
    assert pipeline.cases.get(outcome.reference or "").la_aware == date(2026, 7, 1)


@pytest.mark.parametrize(
    ("reported", "why"),
    [(datetime(2099, 1, 1, 12, 0, tzinfo=UTC), "in the future"),
     (datetime(2001, 1, 1, 12, 0, tzinfo=UTC), "implausibly old")],
)
def test_an_arrival_time_out_of_range_falls_back_to_when_the_bot_saw_it(
    pipeline: IntakePipeline, engine: Engine, reported: datetime, why: str
) -> None:
    """Issue 8 item 6: a file dated 2099 opened a case with 2099 deadlines; one dated 2001
    failed with LifecycleError."""
    outcome = pipeline.process(_mail(referral_mail("docx"), received=reported, seen=RECEIVED))
    assert outcome.status == "opened"
    view = pipeline.cases.get(outcome.reference or "")
    assert view.la_aware == date(2026, 11, 30)
    details = pipeline.cases.details(view.reference)
    [warning] = [w for w in details["warnings"] if "arrival time" in w]
    assert why in warning and str(reported.year) in warning
    assert details["intake"]["received_at"].startswith("2026-11-30")
    ack, notice = _outbox(engine)
    assert "Mon 30 Nov 2026" in ack.body and "arrival time" in notice.body


def test_clock_skew_within_the_allowance_is_not_a_warning(pipeline: IntakePipeline) -> None:
    seen = datetime(2026, 11, 30, 23, 58, tzinfo=UTC)
    outcome = pipeline.process(_mail(referral_mail("docx"), received=seen + timedelta(minutes=3), seen=seen))
    view = pipeline.cases.get(outcome.reference or "")
    assert view.la_aware == date(2026, 11, 30)  # not the next day: the bot's clock is the later one
    assert not [w for w in pipeline.cases.details(view.reference)["warnings"] if "arrival time" in w]


def test_concurrent_workers_open_one_case(pipeline: IntakePipeline, engine: Engine) -> None:
    raw = referral_mail("html")
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            outcomes.append(pipeline.process(_mail(raw)).status)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and outcomes == ["opened"] * 4
    assert len(_cases(engine)) == 1 and len(_outbox(engine)) == 2


def test_redaction_removes_attachment_names() -> None:
    assert redact_reason("attachment 'Jamie Fictional.pdf': PDF has no text layer") == (
        "an attachment: PDF has no text layer"
    )
    # The second line of defence (readers no longer name files): a repr() with both quotes.
    quoted = f"attachment {fx.NAMED_FILES['pdf']!r}: PDF has no text layer"
    assert redact_reason(quoted) == "an attachment: PDF has no text layer"


def test_a_reader_crash_quarantines_without_leaking(
    engine: Engine, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise ValueError("cannot parse 'Jamie Fictional'")

    pipeline = IntakePipeline(engine, settings, CaseService(engine, settings), Router(settings), parse=broken)
    message_id = new_message_id()
    outcome = pipeline.process(_mail(referral_mail("docx", message_id=message_id)))
    assert outcome.status == "quarantined" and "reader error ValueError" in (outcome.reason or "")
    # A human is told; the sender hears that a person will look at it, not the internal error.
    reply, notice = _outbox(engine)
    assert notice.recipient == "#default" and "ValueError" in notice.body
    assert reply.payload["in_reply_to"] == message_id and outcome.quarantine_id in reply.body
    assert "ValueError" not in reply.body and "reader" not in reply.body
    assert "Jamie" not in caplog.text and "ValueError" in caplog.text


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00\xff\xfe" * 300, b"From: =?utf-8?b?////?= <\r\nSubject: \xff\r\nMessage-ID: <>\r\n\r\n\x00"],
    ids=["empty", "binary", "broken-headers"],
)
def test_quarantine_records_and_notifies_whatever_the_bytes(
    pipeline: IntakePipeline, engine: Engine, raw: bytes
) -> None:
    """Issue 8 item 2: the watchers' last resort must itself not fail on the message."""
    outcome = pipeline.quarantine(_mail(raw), "could not be processed (RuntimeError)")
    assert outcome.status == "quarantined" and outcome.quarantine_id
    [notice] = _outbox(engine)  # nobody to answer: a human only
    assert notice.recipient == "#default" and outcome.quarantine_id in notice.body
    with Session(engine) as session:
        [row] = session.exec(select(IntakeMessage)).all()
        [audit] = session.exec(select(AuditEntry)).all()
    assert row.status == "quarantined" and audit.detail["quarantine_id"] == outcome.quarantine_id
    again = pipeline.quarantine(_mail(raw), "could not be processed (RuntimeError)")
    assert again.duplicate and again.quarantine_id == outcome.quarantine_id and len(_outbox(engine)) == 1


def test_quarantine_survives_headers_it_cannot_use(
    pipeline: IntakePipeline, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even if reading the sender raises, the message is recorded bare and a human told."""
    import handlers.mail.intake as intake

    def unreadable(_: object) -> None:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    monkeypatch.setattr(intake, "_sender", unreadable)
    outcome = pipeline.quarantine(_mail(referral_mail("docx")), "could not be processed (KeyError)")
    [notice] = _outbox(engine)
    assert outcome.quarantine_id in notice.body and "unknown sender" in notice.body


def test_quarantine_of_an_unread_message_answers_a_referrer_once(pipeline: IntakePipeline, engine: Engine) -> None:
    raw = referral_mail("docx")
    head = raw[: raw.index(b"\n\n") + 2]
    first = pipeline.quarantine(_mail(head), "message too large", unread_size=len(raw) * 1000,
                                sender_reason="message too large")
    assert pipeline.quarantine(_mail(head), "message too large", unread_size=len(raw) * 1000).duplicate
    reply, notice = _outbox(engine)
    assert reply.recipient == "priya.testwell@northtown.example.nhs.uk" and "too large" in reply.body
    assert first.quarantine_id in reply.body and first.quarantine_id in notice.body


# --- mail loops (issue 8 item 7) ------------------------------------------------------------

HELPDESK = "Service Desk <servicedesk@support.example.nhs.uk>"


def _to(engine: Engine, address: str) -> list[OutboxMessage]:
    return [m for m in _outbox(engine) if m.recipient == address]


def test_a_reply_to_the_bots_own_message_is_kept_and_not_answered(pipeline: IntakePipeline, engine: Engine) -> None:
    first = pipeline.process(_mail(referral_mail("scan", sender=HELPDESK)))
    [rejection] = _to(engine, "servicedesk@support.example.nhs.uk")
    ours = rejection.payload["message_id"]
    answer = referral_mail("empty", sender=HELPDESK, headers={
        "Subject": f"Re: {rejection.subject}", "In-Reply-To": ours, "References": f"{first.message_id} {ours}"})
    outcome = pipeline.process(_mail(answer))
    assert outcome.status == "quarantined"
    assert len(_to(engine, "servicedesk@support.example.nhs.uk")) == 1  # still the one rejection
    notice = _to(engine, "#default")[-1]
    assert outcome.quarantine_id in notice.body and "not answered" in notice.body
    assert "replies to a message the bot sent" in notice.body


def test_a_reply_by_subject_alone_is_recognised(pipeline: IntakePipeline, engine: Engine) -> None:
    pipeline.process(_mail(referral_mail("scan", sender=HELPDESK)))
    [rejection] = _to(engine, "servicedesk@support.example.nhs.uk")
    answer = referral_mail("empty", sender=HELPDESK, headers={"Subject": f"RE: Re: {rejection.subject}"})
    pipeline.process(_mail(answer))
    assert len(_to(engine, "servicedesk@support.example.nhs.uk")) == 1


def test_a_readable_form_replying_to_the_bot_opens_its_case_without_an_ack(
    pipeline: IntakePipeline, engine: Engine
) -> None:
    """A referrer who answers our rejection with the form attached: the clock starts, a human
    sees the case, and the bot does not answer a reply to itself."""
    first = pipeline.process(_mail(referral_mail("scan")))
    [rejection] = _to(engine, "priya.testwell@northtown.example.nhs.uk")
    fixed = referral_mail("docx", headers={"In-Reply-To": rejection.payload["message_id"],
                                           "References": f"{first.message_id} {rejection.payload['message_id']}"})
    outcome = pipeline.process(_mail(fixed))
    assert outcome.status == "opened"
    assert len(_to(engine, "priya.testwell@northtown.example.nhs.uk")) == 1
    notice = [m for m in _to(engine, "#default") if outcome.reference in m.body][0]
    assert "not answered" in notice.body


def test_replies_to_one_sender_are_limited_per_hour_across_restarts(
    engine: Engine, settings: Settings
) -> None:
    """A responder that neither threads nor keeps our subject: the per-sender limit holds,
    counted in the database, so a new pipeline (a restart, another worker) continues it."""
    limit = 3
    settings = settings.model_copy(update={"intake_replies_per_sender_per_hour": limit})
    for n in range(limit + 3):
        pipeline = _pipeline(engine, settings)  # a fresh one each time: nothing kept in memory
        pipeline.process(_mail(referral_mail("empty", sender=HELPDESK, headers={"Subject": f"Call {n} logged"})))
    assert len(_to(engine, "servicedesk@support.example.nhs.uk")) == limit
    notices = _to(engine, "#default")
    assert "not answered" in notices[limit].body and "automatic replies in the last hour" in notices[limit].body


def test_replies_in_one_thread_are_limited(pipeline: IntakePipeline, engine: Engine) -> None:
    root = new_message_id()
    limit = pipeline.settings.intake_replies_per_thread_per_hour
    for n in range(limit + 2):
        pipeline.process(_mail(referral_mail("empty", headers={
            "Subject": f"Re: our referral ({n})", "In-Reply-To": root, "References": root})))
    assert len(_to(engine, "priya.testwell@northtown.example.nhs.uk")) == limit


def test_notices_about_looping_mail_are_bounded_and_the_rest_summarised(
    pipeline: IntakePipeline, engine: Engine
) -> None:
    pipeline.process(_mail(referral_mail("scan", sender=HELPDESK)))
    [rejection] = _to(engine, "servicedesk@support.example.nhs.uk")
    outcomes = [
        pipeline.process(_mail(referral_mail("empty", sender=HELPDESK, headers={
            "Subject": f"Re: {rejection.subject} ({n})", "In-Reply-To": rejection.payload["message_id"]})))
        for n in range(6)
    ]
    assert len(_to(engine, "servicedesk@support.example.nhs.uk")) == 1
    notices = _to(engine, "#default")
    # The first quarantine, the first looping answer, and one summary for the other five.
    assert len(notices) == 3
    immediate, summary = notices[1], notices[2]
    assert outcomes[0].quarantine_id in immediate.body and "summarised" in immediate.body
    assert "5 more" in summary.body and all(o.quarantine_id in summary.body for o in outcomes[1:])
    assert summary.status == "pending" and summary.next_attempt_at.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(minutes=50)
    assert_no_pii(summary.body)


def test_the_forms_ticks_become_the_cases_criteria_answers(pipeline: IntakePipeline, engine: Engine) -> None:
    """Issue 10 item 4: the intake records on the case the answers the form settles (age from
    the date of birth, the looked-after tick); the steps follow from the decision they give."""
    outcome = pipeline.process(_mail(referral_mail("pdf", message_id=new_message_id())))
    view = pipeline.cases.get(outcome.reference or "")
    assert view.answers == {"age": "under_18", "looked_after": "yes"}
    assert view.decision == "incomplete"  # abuse or neglect and harm are for an officer to answer
    assert {"panel_notification", "rapid_review"} <= {s.deadline.key for s in view.deadlines}
    with Session(engine) as session:
        [opened] = session.exec(select(AuditEntry).where(AuditEntry.action == "case.opened")).all()
    assert opened.detail["answers"] == {"age": "under_18", "looked_after": "yes"}


def test_the_local_authority_the_form_names_becomes_the_cases(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 item 10: a partnership covering several LAs; the form's "Local Authority" is
    the case's notifying LA when it is one of them (any case), and is left unset otherwise."""
    from email.message import EmailMessage

    settings = load_settings(data_dir=tmp_path / "var", partnerships=[{
        "key": "tees", "name": "Tees SCP", "reference_prefix": "TS",
        "local_authorities": ["Hartlepool", "Middlesbrough", "Redcar and Cleveland", "Stockton-on-Tees"]}])
    pipeline = _pipeline(engine, settings)

    def form(authority: str) -> bytes:
        msg = EmailMessage()
        msg["From"], msg["Subject"] = f"{fx.REFERRER['name']} <{fx.REFERRER['email']}>", "Serious incident"
        msg["Message-ID"] = new_message_id()
        msg.set_content("\n".join([
            f"Referrer name: {fx.REFERRER['name']}", f"Referring agency: {fx.REFERRER['agency']}",
            f"Local Authority: {authority}", "Request type: Serious Incident Notification", "",
            PROSE_A]))
        return msg.as_bytes()

    named = pipeline.cases.get(pipeline.process(_mail(form("stockton-on-tees"))).reference or "")
    assert named.local_authority == "Stockton-on-Tees"
    other = pipeline.cases.get(pipeline.process(_mail(form("Northtown"))).reference or "")
    assert other.local_authority is None
