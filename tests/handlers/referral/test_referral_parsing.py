"""Referral forms of every kind the readers accept, built by tests/fixtures/build_referrals.py."""

from __future__ import annotations

from datetime import date

import pytest

from handlers.referral import ReferralRejected, parse_referral
from tests.fixtures import build_referrals as fx

TODAY = date(2026, 11, 25)
SIN, LEARNING = "serious_incident_notification", "learning_request"

# fixture -> (request type, child statuses, incident date, submission date)
EXPECTED = {
    "tees_glyph": (SIN, ["child_protection"], "2019-03-07", "2025-11-21"),
    "tees_content_control": (SIN, ["child_protection"], "2019-03-07", "2025-11-21"),
    "tees_legacy": (SIN, ["child_protection"], "2019-03-07", "2025-11-21"),
    "tees_x_under_heading": (SIN, ["child_protection"], "2019-03-07", "2025-11-21"),
    "label_left": (LEARNING, ["child_in_need"], "2019-03-07", "2025-11-21"),
    "label_above": (SIN, ["early_help"], "2019-03-07", None),
    "paragraphs": (LEARNING, ["yot"], "2019-03-07", None),
    "text_pdf": (SIN, ["looked_after"], "2019-03-07", "2025-11-21"),
    "plain": (LEARNING, ["early_help", "child_in_need"], "2025-11-21", None),
    "eml_docx": (SIN, ["child_protection"], "2019-03-07", "2025-11-21"),
    "eml_pdf": (SIN, ["looked_after"], "2019-03-07", "2025-11-21"),
    "eml_plain": (LEARNING, ["early_help", "child_in_need"], "2025-11-21", None),
    "eml_html": (SIN, ["early_help", "child_protection"], "2019-03-07", None),
    "eml_cp1252": (LEARNING, ["early_help", "child_in_need"], "2025-11-21", None),
    "eml_latin1": (LEARNING, ["early_help", "child_in_need"], "2025-11-21", None),
    "eml_named_attachments_form": (SIN, ["child_protection"], "2019-03-07", "2025-11-21"),
    "tees_early_help_stated": (SIN, ["early_help", "child_protection"], "2019-03-07", "2025-11-21"),
    "tees_early_help_stated_x": (SIN, ["early_help"], "2019-03-07", "2025-11-21"),
    "section_headings": (SIN, ["early_help"], "2019-03-07", "2025-11-21"),
    "multi_label_header": (SIN, ["early_help", "child_protection"], "2019-03-07", "2025-11-21"),
    "multi_label_header_pdf": (SIN, ["early_help"], "2019-03-07", "2025-11-21"),
    "tees_pdf": (SIN, ["early_help", "child_protection"], "2019-03-07", "2025-11-21"),
    "labelled_body": (SIN, ["early_help"], "2019-03-07", "2025-11-21"),
    "eml_labelled_body": (SIN, ["early_help"], "2019-03-07", "2025-11-21"),
}
STATED = {"eml_html", "tees_pdf", "tees_early_help_stated", "tees_early_help_stated_x", "section_headings", "multi_label_header",
          "multi_label_header_pdf", "labelled_body", "eml_labelled_body"}


def _parse(name: str) -> dict:
    ext, make = fx.GOOD[name]
    return parse_referral(make(), f"{name}{ext}", today=TODAY).as_json()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_fixture_reads_the_core_fields(name: str) -> None:
    data = _parse(name)
    request, statuses, incident, submitted = EXPECTED[name]
    assert data["request_type"] == request
    assert data["child_status"] == statuses
    assert data["incident_date"] == incident
    assert data["submission_date"] == submitted
    expected_child = "Zoé Fictional" if name == "eml_latin1" else fx.CHILD["name"]
    assert data["child"]["name"] == expected_child
    assert data["child"]["date_of_birth"] == fx.CHILD["dob_iso"]
    assert data["child"]["nhs_number"] == fx.CHILD["nhs_digits"]
    assert data["child"]["address"].startswith("12 Imaginary Lane, Northtown")
    assert data["referrer"]["name"] == fx.REFERRER["name"]
    assert data["referrer"]["agency"] == fx.REFERRER["agency"]
    assert data["summary"].startswith("Jamie was admitted to hospital")
    if name != "plain":  # a bare text file has no sender to fall back on
        assert data["referrer"]["email"] == fx.REFERRER["email"]
    assert not [w for w in data["warnings"] if w.startswith("missing:") and "referrer.email" not in w]


@pytest.mark.parametrize("name", sorted(STATED))
def test_a_tick_keeps_the_text_stated_beside_it(name: str) -> None:
    """Issue 10 item 11: "Known to Early Help Services (Please State) [X] Northtown Family Hub"
    is early help, with the family hub kept, in every layout."""
    data = _parse(name)
    assert "early_help" in data["child_status"]
    assert data["child_status_details"] == {"early_help": fx.EARLY_HELP}
    assert not [w for w in data["warnings"] if "status" in w]


@pytest.mark.parametrize("style", ["glyph", "content_control", "legacy", "tick", "x"])
def test_stated_text_after_every_kind_of_word_tick(style: str) -> None:
    data = parse_referral(fx.tees_docx("glyph", statuses=("early_help",), status_style=style,
                                       stated={"early_help": fx.EARLY_HELP}), "f.docx", today=TODAY).as_json()
    assert data["child_status"] == ["early_help"]
    assert data["child_status_details"] == {"early_help": fx.EARLY_HELP}


@pytest.mark.parametrize("name", ["section_headings", "multi_label_header", "multi_label_header_pdf",
                                  "labelled_body", "eml_labelled_body"])
def test_free_text_under_a_section_heading_paragraph(name: str) -> None:
    data = _parse(name)
    assert data["summary"].startswith(fx.SUMMARY[:60])
    assert "rationale for the request" not in data["summary"]  # the heading is not the answer
    if name == "section_headings":
        assert data["summary"].endswith("The family moved to Northtown in 2018.")


def test_header_row_of_several_labels_over_one_row_of_values() -> None:
    data = _parse("multi_label_header")
    assert data["referrer"] == {"name": fx.REFERRER["name"], "agency": fx.REFERRER["agency"],
                                "email": fx.REFERRER["email"], "role": None, "phone": None}
    assert data["child"]["gender"] == "Male"
    assert data["child"]["address"] == fx.CHILD["address"]
    assert data["warnings"] == []


def test_tees_form_printed_to_pdf_reads_the_lists_under_their_headings() -> None:
    """Blank lines between a PDF's lines do not part a heading line from its values."""
    data = _parse("tees_pdf")
    assert data["agencies"] == [dict(zip(("name", "title", "agency", "contact"), a, strict=True))
                                for a in fx.AGENCIES]
    assert data["parents_carers"] == fx.PARENTS
    assert data["warnings"] == []


def test_a_label_left_row_is_not_read_as_a_header_row() -> None:
    """"Name | Ann | Agency | Health" is two label/value pairs, not four headings."""
    import io

    import docx

    d = docx.Document()
    d.add_paragraph("Referral Details")
    t = d.add_table(rows=2, cols=4)
    for r, row in enumerate([["Name", "Priya Testwell", "Agency", "Northtown Health"],
                             ["Email Address", fx.REFERRER["email"], "Date", "21/11/2025"]]):
        for k, text in enumerate(row):
            t.cell(r, k).text = text
    buf = io.BytesIO()
    d.save(buf)
    data = parse_referral(buf.getvalue(), "f.docx", today=TODAY).as_json()
    assert (data["referrer"]["name"], data["referrer"]["agency"]) == ("Priya Testwell", "Northtown Health")
    assert data["submission_date"] == "2025-11-21"


def test_text_beside_an_unticked_box_is_a_warning() -> None:
    text = (b"Child's name: A Person\nChild's status: Known to Early Help Services (Please State) "
            b"[ ] Northtown Family Hub\n")
    data = parse_referral(text, "f.txt", today=TODAY).as_json()
    assert data["child_status"] == [] and data["child_status_details"] == {}
    assert any("unticked box 'early_help'" in w for w in data["warnings"])


# --- the criteria answers a form's ticks settle (issue 10: the bridge to the case) ---------------


@pytest.mark.parametrize(
    ("name", "answers"),
    [
        ("tees_glyph", {"age": "under_18", "family_known_to_csc": "yes"}),  # CP plan: current concern
        ("text_pdf", {"age": "under_18", "looked_after": "yes"}),
        ("tees_early_help_stated_x", {"age": "under_18"}),  # early help says nothing more
        ("plain", {"age": "under_18"}),
        ("multi_label_header", {"age": "under_18", "harm": "serious_harm", "family_known_to_csc": "yes"}),
        ("labelled_body", {"age": "under_18", "harm": "died"}),  # "Nature of incident: ✓ Child Death"
        ("eml_labelled_body", {"age": "under_18", "harm": "died"}),
    ],
)
def test_referral_answers_from_the_forms_ticks(name: str, answers: dict[str, str]) -> None:
    assert _parse(name)["answers"] == answers


def test_both_natures_ticked_answers_no_harm_and_warns() -> None:
    text = b"Child's name: A Person\nNature of incident: [X] Death [X] Serious harm\n"
    data = parse_referral(text, "f.txt", today=TODAY).as_json()
    assert data["incident_nature"] == ["died", "serious_harm"]
    assert "harm" not in data["answers"]
    assert any("both death and serious harm" in w for w in data["warnings"])


def test_not_known_to_csc_settles_looked_after_and_the_tees_question() -> None:
    data = parse_referral(fx.tees_docx("glyph", statuses=("not_known_to_csc",)), "f.docx", today=TODAY).as_json()
    assert data["answers"] == {"age": "under_18", "looked_after": "no", "family_known_to_csc": "no"}


def _form(dob: str, incident: str | None, status: str = "[X] Child in Need", aware: str | None = None) -> bytes:
    lines = ["Child's name: A Person", f"Date of birth: {dob}", f"Child's status: {status}"]
    if incident:
        lines.append(f"Date of incident: {incident}")
    if aware:
        lines.append(f"Date agency became aware: {aware}")
    return "\n".join(lines).encode()


@pytest.mark.parametrize(
    ("dob", "incident", "aware", "age"),
    [
        ("08/03/2001", "07/03/2019", None, "under_18"),  # the day before the 18th birthday
        ("07/03/2001", "07/03/2019", None, "18_to_24"),  # the 18th birthday
        ("08/03/1994", "07/03/2019", None, "18_to_24"),
        ("07/03/1994", "07/03/2019", None, "25_or_over"),
        ("04/01/2004", None, "20/11/2025", "18_to_24"),  # no incident date: the awareness date
        ("04/01/2004", None, None, None),  # no date to count to: not answered
    ],
)
def test_age_from_date_of_birth_on_the_incident_date(dob: str, incident: str | None, aware: str | None,
                                                    age: str | None) -> None:
    data = parse_referral(_form(dob, incident, aware=aware), "f.txt", today=TODAY).as_json()
    assert data["answers"].get("age") == age


def test_looked_after_tick_with_an_adults_date_of_birth_answers_neither() -> None:
    data = parse_referral(_form("04/01/1990", "07/03/2019", "[X] Looked After Child"), "f.txt",
                          today=TODAY).as_json()
    assert data["answers"] == {}
    assert any("Looked After Child" in w and "18 or over" in w for w in data["warnings"])


def test_answers_are_ones_the_criteria_accept() -> None:
    from bot.core.criteria import load_criteria

    flow = load_criteria().flow("notification")
    for name in sorted(EXPECTED):
        flow.check_answers(_parse(name)["answers"])  # raises on an unknown or impossible answer


def test_tees_form_uses_sections_for_the_reused_name_label() -> None:
    data = _parse("tees_glyph")
    assert data["referrer"]["name"] == "Priya Testwell"
    assert data["child"]["name"] == "Jamie Fictional"
    assert data["parents_carers"] == fx.PARENTS
    assert data["siblings"] == fx.SIBLINGS
    assert data["gp"] == fx.GP
    assert data["agencies"][0] == {"name": "Dr Notreal", "title": "GP", "agency": "Northtown Surgery",
                                   "contact": "01234 000000"}
    assert len(data["agencies"]) == 2
    assert data["relevant_others"] == [{"name": "Pat Imaginary (grandmother)",
                                        "address": "3 Nowhere Close, Northtown"}]
    assert "(Agencies involved" not in data["summary"]
    assert data["warnings"] == []


@pytest.mark.parametrize("style", ["glyph", "content_control", "legacy", "legacy_default", "tick", "x"])
@pytest.mark.parametrize(
    "request_type,statuses",
    [(LEARNING, ("early_help", "yot")), (SIN, ("looked_after",)), (SIN, ("not_known_to_csc",))],
)
def test_tick_box_styles(style: str, request_type: str, statuses: tuple[str, ...]) -> None:
    """Every way Word carries a tick: glyph, content control, legacy field, mark under heading."""
    request_style = style if style in ("glyph", "content_control", "legacy", "legacy_default") else "glyph"
    data = parse_referral(
        fx.tees_docx(request_style, request=request_type, statuses=statuses, status_style=style),
        "f.docx", today=TODAY,
    ).as_json()
    assert data["request_type"] == request_type
    assert data["child_status"] == [s for s in fx.STATUS_LABELS_ORDER if s in statuses]


def test_no_request_type_ticked_is_a_warning_not_an_error() -> None:
    data = parse_referral(fx.tees_docx("glyph", request="none", statuses=()), "f.docx", today=TODAY).as_json()
    assert data["request_type"] is None
    assert data["child_status"] == []
    assert any("(request_type)" in w for w in data["warnings"])
    assert any("(child_status)" in w for w in data["warnings"])


def test_both_request_types_ticked_reads_as_notification_with_warning() -> None:
    text = b"Child's name: A Person\n[X] Serious Incident Notification Request [X] Learning Request\n"
    ref = parse_referral(text, "f.txt", today=TODAY)
    assert ref.request_type == SIN
    assert any("both request types" in w for w in ref.warnings)


def test_missing_fields_are_warnings() -> None:
    ref = parse_referral(b"Child's name: A Person\n", "f.txt", today=TODAY)
    keys = {w.rsplit("(", 1)[-1].rstrip(")") for w in ref.warnings if w.startswith("missing:")}
    assert keys == {"request_type", "referrer.name", "referrer.agency", "referrer.email",
                    "child.date_of_birth", "child.address", "child.nhs_number", "incident_date",
                    "child_status", "summary"}


def test_same_form_in_two_tick_styles_has_the_same_fingerprint() -> None:
    a = parse_referral(fx.tees_docx("glyph"), "a.docx", today=TODAY)
    b = parse_referral(fx.tees_docx("legacy"), "b.docx", today=TODAY)
    c = parse_referral(fx.tees_docx("glyph", request=LEARNING), "c.docx", today=TODAY)
    assert a.content_sha256 == b.content_sha256 != c.content_sha256


def test_fingerprint_covers_the_prose_not_only_the_labelled_fields() -> None:
    from tests.support.mail import PROSE_A, PROSE_B, body_form_mail

    a = parse_referral(body_form_mail(PROSE_A), "a.eml", today=TODAY)
    b = parse_referral(body_form_mail(PROSE_B), "b.eml", today=TODAY)
    a_again = parse_referral(body_form_mail(PROSE_A), "c.eml", today=TODAY)  # another Message-ID
    assert a.as_json()["referrer"] == b.as_json()["referrer"] and a.request_type == b.request_type
    assert a.content_sha256 != b.content_sha256
    assert a.content_sha256 == a_again.content_sha256


def test_content_magic_beats_the_extension() -> None:
    ref = parse_referral(fx.text_pdf(), "misnamed.docx", today=TODAY)
    assert ref.source_format == "pdf"
    assert ref.child.name == fx.CHILD["name"]


def test_email_sender_fills_a_missing_referrer_email_with_a_warning() -> None:
    ref = parse_referral(fx.eml_plain(), "m.eml", today=TODAY)
    assert ref.referrer.email == fx.REFERRER["email"]
    assert "referrer's email address taken from the message sender" in ref.warnings


def test_email_prefers_the_form_attachment_over_the_body() -> None:
    ref = parse_referral(fx.eml_docx(), "m.eml", today=TODAY)
    assert ref.source_format == "eml+docx"


def test_email_with_a_corrupt_attachment_but_a_full_body_uses_the_body() -> None:
    data = fx.eml_with_attachment(b"junk" * 50, "form.docx", "application", "octet-stream",
                                  body=fx.plain_body())
    ref = parse_referral(data, "m.eml", today=TODAY)
    assert ref.source_format == "eml+text"
    assert any(w.startswith("ignored the first attachment (Word document): ") for w in ref.warnings)
    assert not any("form.docx" in w for w in ref.warnings)


def test_forwarded_message_with_the_form_attached_inside() -> None:
    from email.message import EmailMessage
    from email.parser import BytesParser
    from email import policy

    inner = BytesParser(policy=policy.default).parsebytes(fx.eml_docx())
    outer = EmailMessage()
    outer["From"] = "Business Officer <officer@partnership.example.gov.uk>"
    outer["To"] = "scp@partnership.example.gov.uk"
    outer["Subject"] = "FW: Serious incident notification request"
    outer.set_content("Forwarding, see below.")
    outer.add_attachment(inner)
    ref = parse_referral(outer.as_bytes(), "fw.eml", today=TODAY)
    assert ref.child.name == fx.CHILD["name"] and ref.source_format == "eml+docx"


def test_cp1252_without_a_declared_charset_keeps_the_curly_apostrophe() -> None:
    from handlers.referral.body_reader import decode_text

    assert decode_text("Child’s name – £5".encode("cp1252")) == "Child’s name – £5"
    assert decode_text("Child’s name".encode("utf-8")) == "Child’s name"
    assert decode_text("Zoé".encode("iso-8859-1"), "iso-8859-1") == "Zoé"
    assert decode_text("Zoé".encode("utf-8"), "bogus-charset") == "Zoé"


def test_html_checkboxes_entities_and_line_breaks() -> None:
    ref = parse_referral(fx.html_table_body().encode(), "body.html", today=TODAY)
    assert ref.request_type == SIN
    assert ref.child.address == "12 Imaginary Lane, Northtown"
    assert ref.child_status == ["early_help", "child_protection"]
    assert ref.child_status_details == {"early_help": fx.EARLY_HELP}


def test_html_label_above_table_with_status_ticks() -> None:
    html = (
        "<table><tr><th>Child's Name</th><th>D.O.B.</th><th colspan=2>Date of Death / Incident</th></tr>"
        "<tr><td>Ann Example</td><td>7/3/19</td><td colspan=2>4 January 2020</td></tr>"
        "<tr><td>Child in Need</td><td>Child Protection</td><td>Looked After Child</td><td>YOT</td></tr>"
        "<tr><td></td><td>X</td><td></td><td>&#10004;</td></tr></table>"
    )
    ref = parse_referral(html.encode(), "b.html", today=TODAY)
    assert (ref.child.name, ref.child.date_of_birth, ref.incident_date) == (
        "Ann Example", date(2019, 3, 7), date(2020, 1, 4))
    assert ref.child_status == ["yot", "child_protection"]


def test_plain_text_label_on_its_own_line_then_value() -> None:
    text = "Child's name\nAnn Example\nDate of birth\n21 Nov 2015\nAddress:\n1 Road\nTown\n\nOther: x\n"
    ref = parse_referral(text.encode(), "f.txt", today=TODAY)
    assert ref.child.name == "Ann Example"
    assert ref.child.date_of_birth == date(2015, 11, 21)
    assert ref.child.address == "1 Road, Town"


def test_a_document_with_no_form_fields_is_refused() -> None:
    with pytest.raises(ReferralRejected, match="no referral form fields"):
        parse_referral(fx.blank_letter_docx(), "letter.docx", today=TODAY)


def test_date_sanity_warnings() -> None:
    text = b"Child's name: A\nDOB: 01/01/2020\nDate of incident: 01/01/2019\n"
    ref = parse_referral(text, "f.txt", today=TODAY)
    assert "date of death / incident is before the child's date of birth" in ref.warnings
    future = parse_referral(b"Child's name: A\nDate of incident: 1 January 2030\n", "f.txt", today=TODAY)
    assert "date of death / incident is in the future" in future.warnings
    bad = parse_referral(b"Child's name: A\nDOB: 31/02/2019\n", "f.txt", today=TODAY)
    assert bad.child.date_of_birth is None
    assert any("not a date we can read" in w for w in bad.warnings)


def test_request_type_falls_back_to_the_email_subject() -> None:
    msg = fx._message("Learning request for discussion")
    msg.set_content("Child's name: Ann Example\nDOB: 1/2/2015\nNHS number: 943 476 5919\n")
    ref = parse_referral(msg.as_bytes(), "m.eml", today=TODAY)
    assert ref.request_type == LEARNING
    assert "request type not ticked on the form: taken from the e-mail subject" in ref.warnings


def test_every_fixture_message_has_its_own_message_id(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The intake treats a Message-ID seen before with other content as a reused identifier
    (flagged); fixtures sharing one would exercise that path instead of an ordinary referral."""
    from email import message_from_bytes, policy

    ids: dict[str, str] = {}
    for path in fx.build_all(tmp_path):
        if path.suffix != ".eml":
            continue
        message_id = message_from_bytes(path.read_bytes(), policy=policy.default)["Message-ID"]
        assert message_id, f"{path.name} has no Message-ID"
        assert message_id not in ids, f"{path.name} shares its Message-ID with {ids.get(message_id)}"
        ids[message_id] = path.name
    assert len(ids) > 10
