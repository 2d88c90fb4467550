"""PDF forms with a text layer (pypdf), and PDF form fields.

The text is extracted in layout mode so that columns stay apart: each line becomes a row of cells
split at wide gaps, positioned by character offset, and the one extractor reads it like a table.
A scan (no text layer) or an encrypted PDF is refused with that reason.
"""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from handlers.referral import safety
from handlers.referral.blocks import Cell, Row, split_columns
from bot.core.referral_errors import ReferralRejected
from handlers.referral.marks import CHECKED, UNCHECKED

_MIN_TEXT = 20  # characters of text below which a PDF is taken to be a scan


_CAP = 16 * 1024 * 1024
_LIMITS_7 = {  # pypdf >= 7: pypdf.Configuration, applied for the duration of one read
    "maximum_declared_stream_length": 2 * _CAP,
    "array_based_stream_maximum_output_length": _CAP,
    "lzw_maximum_output_length": _CAP,
    "run_length_maximum_output_length": _CAP,
    "zlib_maximum_output_length": _CAP,
    "brotli_maximum_output_length": _CAP,
    "jbig2_maximum_output_length": _CAP,
    "image_maximum_buffer_size": _CAP,
    "stream_decoding_work_maximum_length": 4 * _CAP,
    "jbig2dec_binary": None,  # never run an external decoder on untrusted input
}


@contextmanager
def _pypdf_limits() -> Iterator[None]:
    """Tighter decompression caps than pypdf's defaults: a form is a few pages of text."""
    import pypdf

    apply = getattr(pypdf, "apply_configuration", None)
    if apply is not None:
        fields = {f.name for f in dataclasses.fields(pypdf.Configuration)}
        with apply(**{k: v for k, v in _LIMITS_7.items() if k in fields}):
            yield
        return
    from pypdf import filters  # pypdf 5/6: module constants

    for name in ("ZLIB_MAX_OUTPUT_LENGTH", "LZW_MAX_OUTPUT_LENGTH", "RUN_LENGTH_MAX_OUTPUT_LENGTH"):
        if hasattr(filters, name):
            setattr(filters, name, min(getattr(filters, name), _CAP))
    yield


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
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings can quote document text
    with _pypdf_limits():
        return _read_pdf(data)


def _read_pdf(data: bytes) -> list[Row]:
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
            safety.check_rows(len(rows), "PDF")
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
