"""Test mail: the fixture referrals with a chosen Message-ID, sender and extra headers.

The fixture builder gives each fixture its own Message-ID, but a test that sends the same
fixture twice needs two: each test message gets a fresh one here (or the one the test chooses). Everything is fictional (tests/fixtures/build_referrals.py).
"""

from __future__ import annotations

import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage

from tests.fixtures import build_referrals as fx

PII = [fx.CHILD["name"], fx.CHILD["address"], fx.CHILD["nhs_digits"], fx.CHILD["nhs"], fx.CHILD["dob"],
       fx.CHILD["dob_iso"], "Jamie", "Imaginary Lane", "NT1 2AB"]

KINDS = {
    "docx": fx.eml_docx,
    "pdf": fx.eml_pdf,
    "plain": fx.eml_plain,
    "html": fx.eml_html,
    "scan": lambda: fx.eml_with_attachment(fx.image_only_pdf(), "referral scan.pdf", "application", "pdf"),
    "zip_bomb": lambda: fx.eml_with_attachment(
        fx.zip_bomb_docx(), "form.docx", "application",
        "vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "auto_reply": fx.eml_auto_reply,
    "bounce": lambda: fx.eml_auto_reply("mailer_daemon"),
    "empty": fx.eml_empty,
    "named_attachments": fx.eml_named_attachments,
    "named_attachments_form": lambda: fx.eml_named_attachments(with_form=True),
}
_CACHE: dict[str, bytes] = {}


def new_message_id() -> str:
    return f"<{uuid.uuid4().hex}@northtown.example.nhs.uk>"


def referral_mail(
    kind: str = "docx",
    *,
    message_id: str | None = None,
    sender: str | None = None,
    headers: dict[str, str] | None = None,
    drop_message_id: bool = False,
) -> bytes:
    """One referral (or hostile/automatic) message as bytes, with its own Message-ID."""
    if kind not in _CACHE:
        _CACHE[kind] = KINDS[kind]()
    msg = message_from_bytes(_CACHE[kind], policy=policy.default)
    assert isinstance(msg, EmailMessage)
    del msg["Message-ID"]
    if not drop_message_id:
        msg["Message-ID"] = message_id or new_message_id()
    if sender is not None:
        del msg["From"]
        msg["From"] = sender
    for key, value in (headers or {}).items():
        del msg[key]
        msg[key] = value
    return msg.as_bytes()


def archived_name(raw: bytes) -> str:
    """The name the inbox folder archives a message under (store/originals.py): its ledger hash."""
    from handlers.mail.intake import message_sha256
    from store.originals import archive_name

    return archive_name(message_sha256(raw))


def assert_no_pii(text: str) -> None:
    for item in PII:
        assert item not in text, f"child's details leaked: {item!r}"


def distinct_referral(kind: str, n: int, *, message_id: str | None = None,
                      headers: dict[str, str] | None = None) -> bytes:
    """A referral whose form content differs from every other n (so it opens its own case
    rather than matching an earlier form): the summary carries the number."""
    original = fx.SUMMARY
    fx.SUMMARY = f"{original} (fictional case {n})"
    try:
        raw = KINDS[kind]()
    finally:
        fx.SUMMARY = original
    msg = message_from_bytes(raw, policy=policy.default)
    del msg["Message-ID"]
    msg["Message-ID"] = message_id or new_message_id()
    for key, value in (headers or {}).items():
        del msg[key]
        msg[key] = value
    return msg.as_bytes()


# Two different (fictional) children described in prose under the same four labelled lines.
PROSE_A = ("A nine-year-old boy known to the school was taken to hospital after a fall at home "
           "that nobody saw; his teacher had raised worries about bruising twice this term.")
PROSE_B = ("A baby girl of four months was brought to the emergency department not breathing; "
           "the family had moved into the area a week earlier and no agency had met them.")


def body_form_mail(prose: str, *, message_id: str | None = None, sender: str | None = None,
                   headers: dict[str, str] | None = None) -> bytes:
    """A referral typed into the body: four labelled lines (referrer name, agency, e-mail,
    request type) and then free prose about the child, the way people write in a hurry."""
    msg = EmailMessage()
    msg["From"] = sender or f"{fx.REFERRER['name']} <{fx.REFERRER['email']}>"
    msg["To"] = "scp@partnership.example.gov.uk"
    msg["Subject"] = "Learning request"
    msg["Message-ID"] = message_id or new_message_id()
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content("\n".join([
        "Hello,", "",
        f"Referrer name: {fx.REFERRER['name']}",
        f"Referring agency: {fx.REFERRER['agency']}",
        f"Referrer email: {fx.REFERRER['email']}",
        "Request type: Learning Request", "",
        prose, "", "Kind regards",
    ]))
    return msg.as_bytes()
