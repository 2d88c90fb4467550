"""Reading one form in this process: bytes (and maybe a filename) in, a ``Referral`` or
``ReferralRejected`` out.

The type is decided by content first (magic bytes) and by the file name second, so a PDF named
.docx is read as a PDF and a .docx that is not a zip is refused as "not a Word document".
Pure: no files written, no network, no logging of contents.

``read_referral`` has no time limit of its own beyond the readers' size, page and row limits;
the service reads through ``handlers.referral.parse_referral`` (worker.py), which runs this in a
worker process with a CPU-time limit and a wall-clock timeout.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import date

from handlers.referral import safety
from handlers.referral.blocks import Row
from bot.core.referral_errors import ReferralRejected
from handlers.referral.fields import extract
from handlers.referral.labels import LabelBook
from bot.core.referral import Referral

_EXTENSIONS = {".docx": "docx", ".docm": "docx", ".pdf": "pdf", ".txt": "text", ".text": "text",
               ".eml": "eml", ".html": "html", ".htm": "html"}
_IMAGES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*", b"BM", b"RIFF")
_HEADER_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9-]{1,60}:[ \t]?\S?")
_MAIL_HEADERS = re.compile(
    rb"^(?:from|to|subject|date|message-id|mime-version|received|return-path|content-type):",
    re.IGNORECASE | re.MULTILINE,
)
MIN_FIELDS = 1  # recognised labels below which the input is not a referral form


def _extension(filename: str) -> str:
    match = re.search(r"\.[A-Za-z0-9]{1,5}$", filename or "")
    return match.group().lower() if match else ""


def _looks_like_email(data: bytes) -> bool:
    head = data[:8192].lstrip(b"\r\n")
    return bool(_HEADER_LINE.match(head)) and len(_MAIL_HEADERS.findall(head)) >= 2


def sniff(data: bytes, filename: str = "") -> str:
    """'docx', 'pdf', 'eml', 'html' or 'text'; ReferralRejected for what we cannot read."""
    safety.check_size(data)
    if not data.strip():
        raise ReferralRejected("empty file")
    ext = _extension(filename)
    named = _EXTENSIONS.get(ext)
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return "docx"
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise ReferralRejected(
            "old Word .doc or password-protected Office file: please send it as an unprotected .docx"
        )
    if data.startswith(_IMAGES):
        raise ReferralRejected("an image, not a form (a scan?): please send the form as Word, PDF or text")
    if data.startswith(b"{\\rtf"):
        raise ReferralRejected("RTF documents are not read: please send the form as .docx")
    if named == "docx":
        raise ReferralRejected("not a Word document (a .docx is a zip file; this is not)")
    if named == "pdf":
        raise ReferralRejected("not a PDF (no %PDF header)")
    if named == "eml" or (named is None and _looks_like_email(data)) or (
        named == "text" and _looks_like_email(data)
    ):
        return "eml"
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ReferralRejected("binary data, not a form we can read (.eml, .docx, .pdf or .txt)")
    if named is not None and named not in ("text", "html"):
        raise ReferralRejected(f"unsupported file type {ext}")
    return "html" if named == "html" else "text"


def read_rows(data: bytes, filename: str = "") -> tuple[list[Row], str]:
    """Rows and format name for one document (a file, or an e-mail attachment)."""
    kind = sniff(data, filename)
    if kind == "docx":
        from handlers.referral.docx_reader import read_docx

        return read_docx(data), "docx"
    if kind == "pdf":
        from handlers.referral.pdf_reader import read_pdf

        return read_pdf(data), "pdf"
    if kind == "eml":
        raise ReferralRejected("an e-mail inside an e-mail is not read as a form")
    from handlers.referral.body_reader import decode_text, html_rows, looks_like_html, text_rows

    text = decode_text(data)
    if kind == "html" or looks_like_html(text):
        return html_rows(text), "html"
    return text_rows(text), "text"


def _form_text(rows: list[Row]) -> str:
    """The whole text of the form, normalised: every row, labelled or not, free prose included.

    Unicode NFKC and collapsed white space, so the same form re-saved or re-wrapped by a mail
    client reads the same; cells of a row stay apart (a tab) so a table does not read as prose.
    """
    lines = []
    for row in rows:
        cells = [" ".join(unicodedata.normalize("NFKC", c.text).split()) for c in row.cells]
        line = "\t".join(c for c in cells if c)
        if line:
            lines.append(line)
    return "\n".join(lines)


def _fingerprint(ref: Referral, rows: list[Row]) -> str:
    """A hash of what the form says (not its bytes), so a re-sent form is recognised.

    It covers the fields read *and* the whole normalised text of the form: the fields alone
    miss everything that is not labelled, so two body-form referrals with the same referrer
    lines and different prose about two different children would be merged into one case.
    An "update" must be a re-send of the same form, so everything the form says counts.
    """
    body = ref.as_json()
    for key in ("warnings", "source_format", "content_sha256", "attachments"):
        body.pop(key, None)
    text = json.dumps(body, sort_keys=True) + "\n" + _form_text(rows)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def read_referral(
    data: bytes, filename: str = "", *, book: LabelBook | None = None, today: date | None = None
) -> Referral:
    """Read one referral from a file's bytes: .eml, .docx, .pdf or .txt (or HTML), here and now.

    Raises ReferralRejected with a one-line reason for anything that cannot be used.
    """
    kind = sniff(data, filename)
    if kind == "eml":
        ref, rows = _parse_email(data, book, today)
    else:
        rows, fmt = read_rows(data, filename)
        ref = extract(rows, book, today)
        ref.source_format = fmt
        if ref.fields_found < MIN_FIELDS:
            raise ReferralRejected(f"no referral form fields found in this {fmt} document")
    ref.content_sha256 = _fingerprint(ref, rows)
    return ref


def _parse_email(data: bytes, book: LabelBook | None, today: date | None) -> tuple[Referral, list[Row]]:
    """The best form in a message, and the rows it was read from (for the fingerprint)."""
    from handlers.referral.eml_reader import read_message, sender

    candidates, msg, problems, attachments = read_message(data, read_rows)
    best: Referral | None = None
    best_rows: list[Row] = []
    for rows, fmt in candidates:
        ref = extract(rows, book, today)
        ref.source_format = fmt
        from_attachment = not fmt.startswith(("eml+text", "eml+html"))
        if from_attachment and ref.fields_found >= MIN_FIELDS:
            best, best_rows = ref, rows  # the first attachment that is a form wins over any body
            break
        if best is None or ref.fields_found > best.fields_found:
            best, best_rows = ref, rows
    enough = 3  # a body must carry a few labelled fields to count as the form itself
    if best is None or best.fields_found < (enough if best.source_format in ("eml+text", "eml+html") else MIN_FIELDS):
        if problems:
            raise ReferralRejected(problems[0])
        raise ReferralRejected("no referral form in this message (no form attachment, no labelled fields in the body)")
    for problem in problems:
        best.warn(f"ignored {problem}")
    best.attachments = attachments
    if best.request_type is None:
        _request_type_from_subject(best, str(msg.get("Subject") or ""), book)
    name, address = sender(msg)
    if best.referrer.email is None and address:
        best.referrer.email = address
        best.warnings = [w for w in best.warnings if "(referrer.email)" not in w]
        best.warn("referrer's email address taken from the message sender")
    if best.referrer.name is None and name:
        best.referrer.name = name
        best.warnings = [w for w in best.warnings if "(referrer.name)" not in w]
        best.warn("referrer's name taken from the message sender")
    return best, best_rows


def _request_type_from_subject(ref: Referral, subject: str, book: LabelBook | None) -> None:
    """No box ticked, but the subject says "Learning request": use it, and say so."""
    from handlers.referral.labels import default_labels

    found = (book or default_labels()).options_in("request_type", subject)
    if len(found) == 1:
        ref.request_type = found[0]
        ref.warnings = [w for w in ref.warnings if "(request_type)" not in w]
        ref.warn("request type not ticked on the form: taken from the e-mail subject")
