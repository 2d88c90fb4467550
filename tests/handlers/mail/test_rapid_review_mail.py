"""A whole rapid review over real mail (issue 14's "done when"): Dovecot (IMAP) in, aiosmtpd out.

Start; the three requests land at the three agencies' addresses; two agencies reply with a
.docx (one threaded by In-Reply-To, one by the token in its subject only), are filed as their
returns with the attachment kept and acknowledged, and no new case is opened; the third is
chased on the chase step's day; sign-offs come by hand and by a partner's authenticated reply
(a reply from another address is quarantined and records nothing); the draft .docx, read back
with python-docx, holds each section with the case's facts and never the child's full name.
Skips when dovecot is missing, except under CI=true.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from email.message import EmailMessage, Message
from pathlib import Path

import pytest
from docx import Document
from sqlmodel import Session, select

from bot.cases import CaseService
from bot.rapid_review import RapidReviewService
from bot.rapid_review_report import SECTIONS, render
from bot.settings import Settings, load_settings
from store.models import Case, RapidReviewFile
from tests.conftest import require_server
from tests.support.dovecot import DOVECOT, PASSWORD, Dovecot
from tests.support.service import RunningService
from tests.support.smtp_server import SmtpServer

pytestmark = [pytest.mark.integration, pytest.mark.dovecot]

AUTHSERV = "mx.tees.example.gov.uk"
AGENCIES = [
    {"key": "police", "name": "Cleveland Police", "email": "lead@cleveland.police.uk"},
    {"key": "health", "name": "North Tees NHS Trust", "email": "safeguarding@nhs.net"},
    {"key": "education", "name": "Stockton Schools", "email": "dsl@stockton.gov.uk"},
]
PARTNERS = [
    {"role": "local_authority", "name": "Ann Director", "email": "dcs@stockton.gov.uk"},
    {"role": "police", "name": "Det Supt Bob Rowe", "email": "bob.rowe@cleveland.police.uk"},
    {"role": "health", "name": "Chief Nurse Cat Lee", "email": "cat.lee@nhs.net"},
]
CHILD = "Jamie Quentin Testchild"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def wait_until(predicate: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} not met within {timeout}s")


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    require_server(DOVECOT is not None, "dovecot is not installed (apt-get install dovecot-imapd)")
    server = Dovecot(users=2).start()
    try:
        yield server
    finally:
        server.stop()


def _settings(dovecot: Dovecot, user: str, smtp: SmtpServer, tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path / "var", imap_host="127.0.0.1", imap_port=dovecot.port, imap_username=user,
        imap_password=PASSWORD, imap_security="plain", smtp_host="127.0.0.1", smtp_port=smtp.port,
        smtp_starttls=False, smtp_from="rapid-reviews@tees.example.gov.uk", trusted_authserv_id=AUTHSERV,
        partnerships=[{"key": "tees", "name": "Tees Safeguarding Children Partnership", "reference_prefix": "TS",
                       "team_email": "team@tees.example.gov.uk", "local_authorities": ["Stockton-on-Tees"],
                       "agencies": AGENCIES, "partners": PARTNERS}],
    )


def _docx(text: str) -> bytes:
    document = Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _reply(sender: str, subject: str, text: str, *, in_reply_to: str | None = None,
           attachment: tuple[str, bytes] | None = None, authenticated: bool = True) -> bytes:
    msg = EmailMessage()
    if authenticated:  # what the partnership's own receiving server writes on arrival
        domain = sender.rsplit("@", 1)[1]
        msg["Authentication-Results"] = f"{AUTHSERV}; dmarc=pass header.from={domain}"
    msg["From"] = sender
    msg["To"] = "rapid-reviews@tees.example.gov.uk"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@{sender.rsplit('@', 1)[1]}>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(text)
    if attachment:
        msg.add_attachment(attachment[1], maintype="application", subtype=DOCX.split("/")[1],
                           filename=attachment[0])
    return msg.as_bytes()


def _text(message: Message) -> str:
    return "".join(part.get_payload(decode=True).decode() for part in message.walk()
                   if part.get_content_type() == "text/plain" and not part.get_filename())


def _subject(message: Message) -> str:
    return " ".join(str(message["Subject"]).split())  # unfolded


def _sent(smtp: SmtpServer, fragment: str) -> list[Message]:
    return [m for m in smtp.handler.messages if fragment in _subject(m)]


def test_a_whole_rapid_review_over_mail(dovecot: Dovecot, tmp_path: Path) -> None:
    user = dovecot.add_user()
    with SmtpServer() as smtp:
        settings = _settings(dovecot, user, smtp, tmp_path)
        with RunningService(settings) as running:
            today = [date(2026, 12, 1)]  # the officers' day, moved on as the review runs
            cases = CaseService(running.runtime.engine, settings, today=lambda: today[0])
            case = cases.open_case(la_aware=date(2026, 11, 30), actor="test", partnership_key="tees",
                                   local_authority="Stockton-on-Tees",
                                   details={"child": {"name": CHILD, "date_of_birth": "2015-04-02"},
                                            "child_status": ["child in need"]})
            ref = case.reference
            rapid = RapidReviewService(cases)
            started = rapid.start(ref, agencies=None, actor="officer", on=date(2026, 12, 1))
            running.service.wake_threadsafe()  # as `rapid-review start` beside `run`: the outbox
            assert [a.agency for a in started.agencies] == ["police", "health", "education"]  # proposed: all

            # The three requests land at the three agencies' addresses, child as initials only.
            wait_until(lambda: len(_sent(smtp, "[RR-")) == 3, what="three requests sent")
            requests = {str(m["To"]): m for m in _sent(smtp, "[RR-")}
            assert set(requests) == {a["email"] for a in AGENCIES}
            for message in requests.values():
                body = _text(message)
                assert ref in body and "J.Q.T." in body and "Jamie" not in body and "2015" not in body
                assert "level of your agency's involvement" in body and "secure" in body
                assert "Thu 10 Dec 2026" in body  # day 7: the returns step's due date
            police, health = requests["lead@cleveland.police.uk"], requests["safeguarding@nhs.net"]

            # Two reply with a .docx: one threaded, one by the token in the subject only.
            dovecot.append(user, _reply("lead@cleveland.police.uk", f"Re: {_subject(police)}",
                                        "Our summary is attached.", in_reply_to=str(police["Message-ID"]),
                                        attachment=(f"{CHILD} police summary.docx", _docx("Police involvement"))))
            token = _subject(health).split("]")[0] + "]"
            dovecot.append(user, _reply("named.person@nhs.net", f"{token} summary", "Attached.",
                                        attachment=("health.docx", _docx("Health involvement"))))
            wait_until(lambda: dovecot.count(user, "Processed") == 2, what="two returns processed")
            status = rapid.status(ref)
            by_agency = {a.agency: a for a in status.agencies}
            assert by_agency["police"].status == "returned" and by_agency["health"].status == "returned"
            assert by_agency["police"].files == 1 and by_agency["education"].status == "requested"
            with Session(running.runtime.engine) as session:
                assert len(session.exec(select(Case)).all()) == 1  # never opened as a new referral
                kept = session.exec(select(RapidReviewFile)).all()
                assert sorted(f.data[:2] for f in kept) == [b"PK", b"PK"]  # the .docx bytes, kept
            wait_until(lambda: len(_sent(smtp, "Received: your summary")) == 2, what="returns acknowledged")
            [ack] = [m for m in _sent(smtp, "Received: your summary") if m["To"] == "lead@cleveland.police.uk"]
            assert ack["In-Reply-To"] is not None and CHILD not in _text(ack)

            # The third is chased on the chase step's day, once.
            chase_day = next(s.due for s in status.steps if s.key == "chase_late")
            assert rapid.chase(date(2026, 12, 10)).chased == []  # due that day: not late yet
            assert rapid.chase(chase_day).chased == [(ref, "education")]
            assert rapid.chase(chase_day).chased == []
            running.service.wake_threadsafe()
            wait_until(lambda: len(_sent(smtp, "Reminder: rapid review")) == 1, what="chase sent")
            [chase] = _sent(smtp, "Reminder: rapid review")
            assert chase["To"] == "dsl@stockton.gov.uk"
            assert chase["In-Reply-To"] == requests["dsl@stockton.gov.uk"]["Message-ID"]
            today[0] = chase_day
            assert rapid.status(ref).agencies[2].status == "late"

            # Sign-offs: by hand, by an authenticated reply from the registered address; a
            # reply from elsewhere is quarantined and records nothing.
            rapid.meeting(ref, on=date(2026, 12, 15), actor="officer")
            rapid.signoff(ref, "local_authority", by="Ann Director", actor="officer", on=date(2026, 12, 17))
            rapid.mark_draft(ref, actor="officer", on=date(2026, 12, 17), draft=("d.docx", _docx("draft")))
            running.service.wake_threadsafe()
            wait_until(lambda: len(_sent(smtp, "[RRS-")) == 2, what="sign-off requests sent")
            [health_ask] = [m for m in _sent(smtp, "[RRS-") if m["To"] == "cat.lee@nhs.net"]
            assert any(p.get_content_type() == DOCX for p in health_ask.walk())
            dovecot.append(user, _reply("someone.else@nhs.net", f"Re: {_subject(health_ask)}", "Approved.",
                                        in_reply_to=str(health_ask["Message-ID"])))
            wait_until(lambda: dovecot.count(user, "Quarantine") == 1, what="stranger's sign-off quarantined")
            assert len(rapid.status(ref).signoffs) == 1
            dovecot.append(user, _reply("cat.lee@nhs.net", f"Re: {_subject(health_ask)}",
                                        "I sign off.\n\nOn Thu wrote:\n> please sign off",
                                        in_reply_to=str(health_ask["Message-ID"])))
            wait_until(lambda: dovecot.count(user, "Processed") == 3, what="sign-off reply processed")
            rapid.signoff(ref, "police", by="Det Supt Bob Rowe", actor="officer", on=date(2026, 12, 18))
            final = rapid.status(ref)
            assert {s.partner: s.by for s in final.signoffs} == {
                "local_authority": "Ann Director", "health": "Chief Nurse Cat Lee", "police": "Det Supt Bob Rowe"}
            assert final.progress == "2 of 3 agencies returned, 3 of 3 sign-offs, meeting Tue 15 Dec"

            # The draft, read back: every section, the case's facts, initials, never the name.
            document = Document(io.BytesIO(render(rapid.report(ref, actor="test"))))
            text = "\n".join(p.text for p in document.paragraphs)
            for _, heading in SECTIONS:
                assert heading in text
            assert ref in text and "Stockton-on-Tees" in text and "Mon 30 Nov 2026" in text
            assert "J.Q.T.: age 11; legal status: child in need" in text
            assert "Cleveland Police: requested Tue 01 Dec 2026, returned" in text
            assert "Stockton Schools: requested Tue 01 Dec 2026, not returned" in text
            assert "Health: signed off by Chief Nurse Cat Lee" in text
            assert "Jamie" not in text and "Testchild" not in text
