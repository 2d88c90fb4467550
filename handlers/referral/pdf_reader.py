"""PDF forms with a text layer (pypdf), and PDF form fields.

The text is extracted in layout mode so that columns stay apart: each line becomes a row of cells
split at wide gaps, positioned by character offset, and the one extractor reads it like a table.
A scan (no text layer) or an encrypted PDF is refused with that reason.
"""

from __future__ import annotations

import io
import logging

from handlers.referral import safety
from handlers.referral.blocks import Cell, Row, split_columns
from handlers.referral.errors import ReferralRejected
from handlers.referral.marks import CHECKED, UNCHECKED

_MIN_TEXT = 20  # characters of text below which a PDF is taken to be a scan


def _configure_pypdf_limits() -> None:
    """Tighter decompression caps than pypdf's defaults: a form is a few pages of text."""
    from pypdf import filters

    for name, cap in (
        ("ZLIB_MAX_OUTPUT_LENGTH", 16 * 1024 * 1024),
        ("LZW_MAX_OUTPUT_LENGTH", 16 * 1024 * 1024),
        ("RUN_LENGTH_MAX_OUTPUT_LENGTH", 16 * 1024 * 1024),
        ("MAX_DECLARED_STREAM_LENGTH", 32 * 1024 * 1024),
        ("MAX_ARRAY_BASED_STREAM_OUTPUT_LENGTH", 16 * 1024 * 1024),
    ):
        if hasattr(filters, name):
            setattr(filters, name, min(getattr(filters, name), cap))


def _field_rows(reader: object) -> list[Row]:
    """AcroForm fields as label/value rows (the field's name or tooltip is its label)."""
    try:
        fields = reader.get_fields() or {}  # type: ignore[attr-defined]
    except Exception:
        return []
    rows: list[Row] = []
    for name, field in list(fields.items())[:500]:
        value = field.get("/V")
        label = str(field.get("/TU") or name)
        if field.get("/FT") == "/Btn":
            state = str(value or "/Off")
            text = UNCHECKED if state in ("/Off", "Off", "") else CHECKED
        elif value is None:
            continue
        else:
            text = str(value)
        if text.strip():
            rows.append(Row([Cell(label, 0, 1), Cell(text, 1, 2)], table=-1))
    return rows


def read_pdf(data: bytes) -> list[Row]:
    """Rows from a PDF's text layer and form fields, or ReferralRejected saying why not."""
    safety.check_size(data, "PDF")
    _configure_pypdf_limits()
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings can quote document text
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise ReferralRejected("PDF is encrypted (password protected): ask for an unprotected copy")
        pages = reader.pages
        count = len(pages)
        if count > safety.MAX_PDF_PAGES:
            raise ReferralRejected(f"PDF has {count} pages; a referral form is at most {safety.MAX_PDF_PAGES}")
        rows: list[Row] = []
        total = 0
        for page in pages:
            try:
                text = page.extract_text(extraction_mode="layout")
            except Exception:
                text = page.extract_text() or ""
            total += len(text.strip())
            if total > safety.MAX_TEXT_CHARS:
                raise ReferralRejected("PDF holds more text than a referral form could")
            rows.extend(split_columns(line.rstrip(), 2) for line in text.splitlines())
        field_rows = _field_rows(reader)
    except ReferralRejected:
        raise
    except MemoryError:
        raise ReferralRejected("PDF would need too much memory to read (possible decompression bomb)") from None
    except RecursionError:
        raise ReferralRejected("corrupt PDF (nested too deeply)") from None
    except Exception as exc:
        name = type(exc).__name__
        if "LimitReached" in name or "limit" in str(exc).lower():
            raise ReferralRejected("PDF stream inflates past its limit (possible decompression bomb)") from None
        raise ReferralRejected(f"corrupt PDF ({name})") from None
    if total < _MIN_TEXT and not field_rows:
        raise ReferralRejected("PDF has no text layer (a scanned image?): ask for the form as Word or text")
    return rows + field_rows
