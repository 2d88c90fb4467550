"""Input the readers must refuse: quickly, with one reason, without inflating bombs.

``parse_referral`` (what the intake pipeline calls) reads in a worker process under a CPU-time
limit; tests that change a reader's limit with monkeypatch call ``read_referral``, which reads
in this process, so the change applies.
"""

from __future__ import annotations

import io
import time
import zipfile

import pytest

from handlers.referral import ReferralRejected, parse_referral, read_referral, safety
from tests.fixtures import build_referrals as fx

REASONS = {
    "image_only_pdf": "no text layer",
    "encrypted_pdf": "encrypted",
    "zip_bomb": "decompression bomb",
    "zip_bomb_lying": "corrupt Word document",
    "entity_bomb": "DOCTYPE/ENTITY",
    "external_entity": "DOCTYPE/ENTITY",
    "truncated_docx": "corrupt Word document",
    "not_a_docx": "not a Word document",
    "eml_empty": "empty message",
    "eml_corrupt_attachment": "not a Word document",
    "eml_image_attachment": "an image, not a form",
    "eml_named_attachments": "the first attachment (PDF): PDF has no text layer",
    "empty_file": "empty file",
    "auto_auto_submitted": "Auto-Submitted",
    "auto_x_autoreply": "X-Autoreply",
    "auto_precedence_bulk": "Precedence: bulk",
    "auto_precedence_auto_reply": "Precedence: auto_reply",
    "auto_x_auto_response_suppress": "X-Auto-Response-Suppress",
    "auto_mailer_daemon": "mailer-daemon",
    "auto_subject": "automatic reply",
    "pdf_sixty_pages": "PDF has 60 pages; a referral form is at most 20",
    "pdf_dense_page": "took more than 5 s of processing: refused as possibly hostile",
    "eml_nested_tables": "HTML tables nested more than 20 deep",
    "html_many_elements": "HTML has more than 50000 elements",
    "text_many_lines": "text has more than 20000 lines or table rows",
}


def test_every_hostile_fixture_has_an_expected_reason() -> None:
    assert set(REASONS) == set(fx.HOSTILE)


@pytest.mark.parametrize("name", sorted(REASONS))
def test_hostile_input_is_refused_with_its_reason(name: str) -> None:
    ext, make = fx.HOSTILE[name]
    with pytest.raises(ReferralRejected) as caught:
        parse_referral(make(), f"{name}{ext}")
    assert REASONS[name] in caught.value.reason
    assert "\n" not in caught.value.reason


def test_two_gib_zip_bomb_is_refused_in_well_under_a_second_without_inflating() -> None:
    bomb = fx.zip_bomb_docx(2)
    assert len(bomb) < 4 * 1024 * 1024
    declared = zipfile.ZipFile(io.BytesIO(bomb)).getinfo("word/document.xml").file_size
    assert declared == 2 * 1024**3
    started = time.perf_counter()
    with pytest.raises(ReferralRejected, match="2048 MiB"):
        read_referral(bomb, "bomb.docx")
    assert time.perf_counter() - started < 1.0


def test_inflation_stops_at_the_cap_even_when_sizes_are_not_declared_large(monkeypatch) -> None:
    """Lower the cap below a part's true size: the stream read stops there, whatever is declared."""
    monkeypatch.setattr(safety, "MAX_ENTRY_BYTES", 64 * 1024)
    monkeypatch.setattr(safety, "RATIO_FLOOR", 10**12)
    data = fx.label_left_docx()
    big = [i for i in zipfile.ZipFile(io.BytesIO(data)).infolist() if i.file_size > 64 * 1024]
    assert big, "fixture should have a part larger than the lowered cap"
    monkeypatch.setattr(safety, "check_zip_directory", lambda zf: None)  # as if sizes lied
    with pytest.raises(ReferralRejected, match="inflates past its limit"):
        safety.vet_docx(data)


def test_high_compression_ratio_is_refused_from_the_directory() -> None:
    zeros = b"<w:t>" + b" " * (3 * 1024 * 1024) + b"</w:t>"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", zeros)
    with pytest.raises(ReferralRejected, match="compression ratio"):
        parse_referral(buf.getvalue(), "ratio.docx")


def test_too_many_zip_entries_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(safety, "MAX_ZIP_ENTRIES", 5)
    with pytest.raises(ReferralRejected, match="too many parts"):
        read_referral(fx.label_left_docx(), "many.docx")


def test_oversized_input_is_refused_before_parsing() -> None:
    with pytest.raises(ReferralRejected, match="too large"):
        parse_referral(b"a" * (safety.MAX_INPUT_BYTES + 1), "big.txt")


def test_pdf_with_owner_only_encryption_is_still_refused() -> None:
    with pytest.raises(ReferralRejected, match="encrypted"):
        parse_referral(fx.encrypted_pdf(password=""), "e.pdf")


def test_corrupt_pdf_is_refused() -> None:
    data = fx.text_pdf()
    with pytest.raises(ReferralRejected):
        parse_referral(data[:200], "cut.pdf")


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "old Word .doc or password-protected"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 100, "an image"),
        (b"{\\rtf1 hello}", "RTF"),
        (b"\x00\x01binary\x00junk" * 10, "binary data"),
    ],
)
def test_wrong_types_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(ReferralRejected, match=reason):
        parse_referral(data, "form.txt")


def test_auto_submitted_no_is_an_ordinary_message() -> None:
    msg = fx._message()
    msg["Auto-Submitted"] = "no"
    msg.set_content(fx.plain_body())
    assert parse_referral(msg.as_bytes(), "m.eml").child.name == fx.CHILD["name"]


def test_a_message_with_no_form_and_no_fields_is_refused() -> None:
    msg = fx._message("hello")
    msg.set_content("Can we talk on Tuesday about the meeting?")
    with pytest.raises(ReferralRejected, match="no referral form in this message"):
        parse_referral(msg.as_bytes(), "m.eml")


def test_attachments_are_named_by_position_and_type_never_by_file_name() -> None:
    """People name files after the child; reasons and warnings go to the sender, the channel and
    the log. A name in an apostrophe-and-quote mix once slipped past a redacting regex: now no
    reason or warning holds a file name at all, and the names stay in the referral record."""
    with pytest.raises(ReferralRejected) as caught:
        parse_referral(fx.eml_named_attachments(), "message.eml")
    assert caught.value.reason == (
        "the first attachment (PDF): PDF has no text layer (a scanned image?): ask for the form as Word or text"
    )
    ref = parse_referral(fx.eml_named_attachments(with_form=True), "message.eml")
    assert ref.source_format == "eml+docx" and ref.child.name == fx.CHILD["name"]
    assert "ignored the second attachment (PNG image): an image, not a form (a scan?): please send the " \
           "form as Word, PDF or text" in ref.warnings
    said = " ".join([str(caught.value), *ref.warnings])
    for item in fx.NAMED_FILE_PII:
        assert item not in said, f"{item!r} from a file name reached a reason or warning"
    kept = ref.as_json()["attachments"]
    assert [(a["position"], a["type"], a["filename"]) for a in kept] == [
        (1, "PDF", fx.NAMED_FILES["pdf"]), (2, "PNG image", fx.NAMED_FILES["png"]),
        (3, "Word document", fx.NAMED_FILES["docx"])]


def test_file_names_do_not_change_the_forms_fingerprint() -> None:
    """The same form re-sent under another file name is the same form (intake dedupes on it)."""
    plain = fx.eml_with_attachment(fx.tees_docx("content_control"), "form.docx", "application",
                                   "vnd.openxmlformats-officedocument.wordprocessingml.document")
    named = fx.eml_with_attachment(fx.tees_docx("content_control"), fx.NAMED_FILES["docx"], "application",
                                   "vnd.openxmlformats-officedocument.wordprocessingml.document")
    assert parse_referral(plain, "a.eml").content_sha256 == parse_referral(named, "b.eml").content_sha256


def test_an_over_limit_body_does_not_hide_an_attached_form() -> None:
    """A huge or deeply nested HTML body is set aside like an unreadable attachment: the form
    attached to the same message is still read, with a warning saying what was ignored."""
    msg = fx._message()
    msg.set_content("Please find the form attached.")
    msg.add_alternative(fx.nested_tables_html(depth=200), subtype="html")
    msg.add_attachment(fx.label_left_docx(), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                       filename="form.docx")
    ref = parse_referral(msg.as_bytes(), "m.eml")
    assert ref.child.name == fx.CHILD["name"] and ref.source_format == "eml+docx"
    assert any("message body: HTML tables nested more than 20 deep" in w for w in ref.warnings)
