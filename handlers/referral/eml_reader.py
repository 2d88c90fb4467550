"""E-mail messages: refuse automatic replies, then read the form attachment or the body.

An attachment that is a form (.docx, .pdf, .txt, by content as well as by name) wins over the
body, which is usually "please find attached". A forwarded message (message/rfc822) is searched
too. A message with only attachments we cannot read, or nothing at all, is refused with a reason.

Attachments are named in reasons and warnings by position and type ("the second attachment
(PDF)"), never by file name: people name referral files after the child ("Jamie O'Brien DOB
04.01.2012.pdf"), and reasons go back to the sender, to the partnership's channel and to the log.
A name cannot be redacted reliably afterwards (quotes, apostrophes, any wording), so it is never
put there. The file names are returned separately (``read_message``) for the case record only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

from handlers.referral.blocks import Row
from handlers.referral.body_reader import decode_text, html_rows, looks_like_html, text_rows
from bot.core.referral_errors import ReferralRejected

_AUTO_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|auto(?:matic)?[- ]?reply|auto:|out of (?:the )?office|"
    r"undeliverable|undelivered mail|delivery status notification|delivery failure|"
    r"mail delivery failed|returned mail)",
    re.IGNORECASE,
)
_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "noreply-dmarc")


# Written by a person, passed on by a machine: forwarded by a rule, or through a distribution
# list. Such mail can be a referral and is read (``relayed_reason``), never refused as automatic.
_RELAYED_AUTO_SUBMITTED = ("auto-forwarded",)
_RELAYED_PRECEDENCE = ("list",)


def auto_reply_reason(msg: Message) -> str | None:
    """Why this message is an automatic reply, bounce or bulk mail (RFC 3834 and practice).

    Not mail that a machine merely passed on (``Auto-Submitted: auto-forwarded``,
    ``Precedence: list``): a person wrote that, and it may be a referral (``relayed_reason``).
    """
    auto = msg.get("Auto-Submitted")
    value = str(auto).strip().lower().split(";")[0].strip() if auto is not None else "no"
    if value != "no" and value not in _RELAYED_AUTO_SUBMITTED:
        return f"automatic message (Auto-Submitted: {str(auto).strip()[:40]})"
    for header in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"):
        if msg.get(header) is not None:
            return f"automatic reply ({header} header)"
    precedence = str(msg.get("Precedence") or "").strip().lower()
    if precedence in ("auto_reply", "bulk", "junk"):
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


def relayed_reason(msg: Message) -> str | None:
    """Why this message, though a person wrote it, was passed on by a machine: forwarded by a
    rule (``Auto-Submitted: auto-forwarded``) or sent through a list (``Precedence: list``,
    ``List-Id``). Read like any other; its sender (the list, the rule's owner) is never answered."""
    auto = str(msg.get("Auto-Submitted") or "").strip().lower().split(";")[0].strip()
    if auto in _RELAYED_AUTO_SUBMITTED:
        return "it was forwarded automatically (Auto-Submitted: auto-forwarded)"
    precedence = str(msg.get("Precedence") or "").strip().lower()
    if precedence in _RELAYED_PRECEDENCE or msg.get("List-Id") is not None:
        return "it came through a mailing or distribution list"
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


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
# What an attachment is, in words from this fixed list only (never the sender's own text).
_TYPE_BY_EXTENSION = {
    ".pdf": "PDF", ".docx": "Word document", ".docm": "Word document", ".doc": "old Word .doc",
    ".rtf": "RTF document", ".odt": "OpenDocument text", ".txt": "text file", ".htm": "HTML file",
    ".html": "HTML file", ".eml": "e-mail", ".msg": "Outlook message", ".zip": "zip file",
    ".xlsx": "Excel workbook", ".xls": "Excel workbook", ".png": "PNG image", ".jpg": "JPEG image",
    ".jpeg": "JPEG image", ".gif": "GIF image", ".tif": "TIFF image", ".tiff": "TIFF image",
    ".bmp": "BMP image", ".heic": "HEIC image", ".webp": "WebP image",
}
_TYPE_BY_CONTENT_TYPE = {
    "application/pdf": "PDF",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word document",
    "application/msword": "old Word .doc", "application/rtf": "RTF document", "text/rtf": "RTF document",
    "text/plain": "text file", "text/html": "HTML file", "message/rfc822": "e-mail",
    "application/zip": "zip file", "image/png": "PNG image", "image/jpeg": "JPEG image",
    "image/gif": "GIF image", "image/tiff": "TIFF image", "image/bmp": "BMP image",
}
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}$")


def attachment_type(filename: str, content_type: str) -> str:
    """A short, fixed description of an attachment's type ("PDF", "PNG image"), from its
    extension if that is one we know, else its declared content type, else "file"."""
    match = _EXTENSION.search(filename or "")
    if match and match.group().lower() in _TYPE_BY_EXTENSION:
        return _TYPE_BY_EXTENSION[match.group().lower()]
    if content_type in _TYPE_BY_CONTENT_TYPE:
        return _TYPE_BY_CONTENT_TYPE[content_type]
    return "image" if content_type.startswith("image/") else "file"


def attachment_label(position: int, filename: str, content_type: str) -> str:
    """How reasons and warnings refer to an attachment: ``the second attachment (PDF)``.
    ``position`` counts from 1 in the order the message lists its attachments."""
    where = _ORDINALS[position - 1] if 1 <= position <= len(_ORDINALS) else f"number {position}"
    return f"the {where} attachment ({attachment_type(filename, content_type)})"


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
) -> tuple[list[tuple[list[Row], str]], EmailMessage, list[str], list[dict[str, Any]]]:
    """Candidate row sets (attachments first, then bodies) with their formats, the message,
    notes about attachments that could not be used (by position and type, no file names), and
    each attachment's position, type and file name (for the case record only).
    Raises ReferralRejected."""
    msg = BytesParser(policy=policy.default).parsebytes(data)
    if not msg.keys():
        raise ReferralRejected("not an e-mail message (no headers)")
    reason = auto_reply_reason(msg)
    if reason:
        raise ReferralRejected(reason)
    parts = EmailParts(msg)
    candidates: list[tuple[list[Row], str]] = []
    problems: list[str] = []
    listed: list[dict[str, Any]] = []
    for position, (name, ctype, payload) in enumerate(parts.attachments, start=1):
        label = attachment_label(position, name, ctype)
        listed.append({"position": position, "type": attachment_type(name, ctype), "filename": name})
        if not payload:
            problems.append(f"{label} is empty")
            continue
        try:
            rows, fmt = read_attachment(payload, name or "")
        except ReferralRejected as exc:
            problems.append(f"{label}: {exc.reason}")
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
    return candidates, msg, problems, listed
