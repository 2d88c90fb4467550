"""E-mail messages: refuse automatic replies, then read the form attachment or the body.

An attachment that is a form (.docx, .pdf, .txt, by content as well as by name) wins over the
body, which is usually "please find attached". A forwarded message (message/rfc822) is searched
too. A message with only attachments we cannot read, or nothing at all, is refused with a reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses

from handlers.referral.blocks import Row
from handlers.referral.body_reader import decode_text, html_rows, looks_like_html, text_rows
from handlers.referral.errors import ReferralRejected

_AUTO_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|auto(?:matic)?[- ]?reply|auto:|out of (?:the )?office|"
    r"undeliverable|undelivered mail|delivery status notification|delivery failure|"
    r"mail delivery failed|returned mail)",
    re.IGNORECASE,
)
_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "noreply-dmarc")


def auto_reply_reason(msg: Message) -> str | None:
    """Why this message is an automatic reply, bounce or bulk mail (RFC 3834 and practice)."""
    auto = msg.get("Auto-Submitted")
    if auto is not None and str(auto).strip().lower().split(";")[0] != "no":
        return f"automatic message (Auto-Submitted: {str(auto).strip()[:40]})"
    for header in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"):
        if msg.get(header) is not None:
            return f"automatic reply ({header} header)"
    precedence = str(msg.get("Precedence") or "").strip().lower()
    if precedence in ("auto_reply", "bulk", "junk", "list"):
        return f"automatic or bulk message (Precedence: {precedence})"
    senders = getaddresses([str(msg.get("From") or ""), str(msg.get("Return-Path") or "")])
    for _, address in senders:
        local = address.split("@", 1)[0].lower()
        if local in _DAEMONS:
            return f"delivery notification from {local}"
    if msg.get_content_type() == "multipart/report":
        return "delivery or read report (multipart/report)"
    subject = str(msg.get("Subject") or "")
    if _AUTO_SUBJECT.match(subject):
        return "automatic reply (by its subject)"
    return None


def sender(msg: Message) -> tuple[str | None, str | None]:
    """(display name, address) of From."""
    pairs = getaddresses([str(msg.get("From") or "")])
    if not pairs:
        return None, None
    name, address = pairs[0]
    return (name.strip() or None), (address.strip().lower() or None)


def _payload(part: Message) -> bytes:
    raw = part.get_payload(decode=True)
    return raw if isinstance(raw, bytes) else b""


def _filename(part: Message) -> str:
    try:
        return part.get_filename() or ""
    except Exception:
        return ""


class EmailParts:
    """The candidate form attachments, the unreadable attachments and the bodies of a message."""

    def __init__(self, msg: Message) -> None:
        self.attachments: list[tuple[str, str, bytes]] = []  # (filename, content type, bytes)
        self.bodies: list[tuple[str, str]] = []  # (subtype, text)
        for part in msg.walk():
            if part.is_multipart():
                continue
            ctype = part.get_content_type()
            name = _filename(part)
            disposition = (part.get_content_disposition() or "").lower()
            if ctype in ("text/plain", "text/html") and not name and disposition != "attachment":
                text = decode_text(_payload(part), part.get_content_charset())
                self.bodies.append((part.get_content_subtype(), text))
                continue
            if ctype.startswith("multipart/") or ctype == "message/rfc822":
                continue
            self.attachments.append((name, ctype, _payload(part)))


def read_message(
    data: bytes, read_attachment: Callable[[bytes, str], tuple[list[Row], str]]
) -> tuple[list[tuple[list[Row], str]], EmailMessage, list[str]]:
    """Candidate row sets (attachments first, then bodies) with their formats, the message,
    and notes about attachments that could not be used. Raises ReferralRejected."""
    msg = BytesParser(policy=policy.default).parsebytes(data)
    if not msg.keys():
        raise ReferralRejected("not an e-mail message (no headers)")
    reason = auto_reply_reason(msg)
    if reason:
        raise ReferralRejected(reason)
    parts = EmailParts(msg)
    candidates: list[tuple[list[Row], str]] = []
    problems: list[str] = []
    for name, ctype, payload in parts.attachments:
        label = name or ctype
        if not payload:
            problems.append(f"attachment {label!r} is empty")
            continue
        try:
            rows, fmt = read_attachment(payload, name or "")
        except ReferralRejected as exc:
            problems.append(f"attachment {label!r}: {exc.reason}")
            continue
        candidates.append((rows, f"eml+{fmt}"))
    plain = [text for sub, text in parts.bodies if sub == "plain" and text.strip()]
    html = [text for sub, text in parts.bodies if sub == "html" and text.strip()]
    bodies = [(text, looks_like_html(text), "eml+text") for text in plain]
    bodies += [(text, True, "eml+html") for text in html]
    for text, is_html, fmt in bodies:
        try:
            candidates.append((html_rows(text) if is_html else text_rows(text), fmt))
        except ReferralRejected as exc:
            # A body past the readers' limits (a huge or deeply nested HTML body) is a problem
            # like an unreadable attachment: a form attached to the same message is still read.
            problems.append(f"message body: {exc.reason}")
    if not candidates and not problems:
        raise ReferralRejected("empty message: no body text and no attachment")
    return candidates, msg, problems
