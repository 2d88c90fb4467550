"""Issue 11 item 9: the acknowledgement names the partnership and a contact, says what happens
next in plain words, and puts the statutory detail in the attachment."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.cases import CaseService
from handlers.mail import notices


def test_acknowledgement_in_plain_words(cases: CaseService) -> None:
    view = cases.open_case(la_aware=date(2026, 11, 30), actor="t")
    subject, body = notices.acknowledgement(
        view, partnership_name="Northtown Safeguarding Children Partnership",
        request_type="serious_incident_notification", received_at=datetime(2026, 11, 30, 10, tzinfo=UTC),
        warnings=[], updated=False, contact_name="Pat Manager", contact_phone="01234 567890",
        team_email="safeguarding@northtown.gov.uk",
    )
    assert "Northtown Safeguarding Children Partnership" in body and view.reference in subject
    assert "What happens next:" in body and "A case officer" in body
    assert "Contact: Pat Manager, 01234 567890, safeguarding@northtown.gov.uk." in body
    assert "Notify the Child Safeguarding Practice Review Panel: by Mon 07 Dec 2026." in body
    assert "s16C" not in body and "Working Together" not in body  # the detail is attached
    detail = notices.statutory_detail(view, partnership_name="Northtown Safeguarding Children Partnership")
    assert "Children Act 2004 s16C(1)" in detail and "Mon 07 Dec 2026" in detail
    _, without = notices.acknowledgement(
        view, partnership_name="Northtown SCP", request_type=None,
        received_at=datetime(2026, 11, 30, 10, tzinfo=UTC), warnings=[], updated=False)
    assert "Contact: reply to this e-mail" in without
