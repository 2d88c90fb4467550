"""Test mail: the fixture referrals with a chosen Message-ID, sender and extra headers.

The fixture builder gives every message the same Message-ID; intake dedupes on it, so each test
message gets its own here. Everything is fictional (tests/fixtures/build_referrals.py).
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


def assert_no_pii(text: str) -> None:
    for item in PII:
        assert item not in text, f"child's details leaked: {item!r}"


def distinct_referral(kind: str, n: int, *, message_id: str | None = None) -> bytes:
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
    return msg.as_bytes()
