"""Limits that keep a hostile file from costing more than a few seconds and a few megabytes.

Two kinds. The readers' own limits (pages, lines and table rows, HTML elements and nesting)
refuse the shapes we know are expensive, early and with a reason a person can act on. They
cannot bound every path through pypdf, python-docx, lxml and the field extractor, so the whole
parse also runs in a worker process with a CPU-time limit and a wall-clock timeout
(``handlers/referral/worker.py``, PARSE_CPU_SECONDS / PARSE_WALL_SECONDS): that is the bound.

A .docx is a zip of XML. Before python-docx (or anything else) inflates a byte of it we check
the central directory: how many entries, their declared sizes and their compression ratios. Then
every entry is inflated as a stream with a hard cap, because declared sizes can lie, and XML
parts carrying a DOCTYPE or ENTITY declaration are refused (billion-laughs and external-entity
attacks need one; Word never writes one).
"""

from __future__ import annotations

import io
import zipfile

from bot.core.referral_errors import ReferralRejected

MAX_INPUT_BYTES = 25 * 1024 * 1024  # the largest file or e-mail we will look at
MAX_ZIP_ENTRIES = 2000
MAX_ENTRY_BYTES = 32 * 1024 * 1024  # inflated size of any one part
MAX_TOTAL_INFLATED = 96 * 1024 * 1024  # inflated size of the whole package
MAX_RATIO = 200  # inflated / compressed, checked for parts above RATIO_FLOOR
RATIO_FLOOR = 1024 * 1024
MAX_PDF_PAGES = 20  # a referral form is a few pages; each page may cost ~0.1 s to lay out
MAX_TEXT_CHARS = 2_000_000  # text we will run the field extractor over
MAX_ROWS = 20_000  # lines and table rows per document: the extractor costs ~50 us a row
MAX_HTML_ELEMENTS = 50_000  # HTMLParser costs ~10-20 us a tag; an Outlook form is a few thousand
MAX_TABLE_DEPTH = 20  # tables inside table cells; e-mail layouts nest a handful deep
PARSE_CPU_SECONDS = 5  # CPU time for one message or file (a 20-page text PDF takes under 1 s)
PARSE_WALL_SECONDS = 15.0  # wall-clock time for the same: the CPU budget on a busy machine
PARSE_MEMORY_BYTES = 1536 * 1024 * 1024  # address space of the worker process reading it
_CHUNK = 64 * 1024
_XML_SUFFIXES = (".xml", ".rels", ".vml")
_FORBIDDEN_XML = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", b"<!entity")


def check_size(data: bytes, what: str = "file") -> None:
    if len(data) > MAX_INPUT_BYTES:
        raise ReferralRejected(
            f"{what} is too large ({len(data) // (1024 * 1024)} MiB; the limit is "
            f"{MAX_INPUT_BYTES // (1024 * 1024)} MiB)"
        )


def check_rows(count: int, what: str) -> None:
    """Refuse a document with more lines or table rows than a form could have, before the
    field extractor is run over them."""
    if count > MAX_ROWS:
        raise ReferralRejected(
            f"{what} has more than {MAX_ROWS} lines or table rows: more than a referral form could"
        )


def _open_zip(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ReferralRejected(f"corrupt Word document (not a readable zip: {type(exc).__name__})") from None


def check_zip_directory(zf: zipfile.ZipFile) -> None:
    """Refuse a package from its central directory alone, before inflating anything."""
    infos = zf.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ReferralRejected(f"Word document has too many parts ({len(infos)}): refused as a zip bomb")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise ReferralRejected("Word document is encrypted (zip encryption)")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ReferralRejected(f"Word document uses an unsupported compression method ({info.compress_type})")
        if info.file_size > MAX_ENTRY_BYTES:
            raise ReferralRejected(
                f"decompression bomb: a part of the Word document would inflate to "
                f"{info.file_size // (1024 * 1024)} MiB"
            )
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ReferralRejected(
                f"decompression bomb: a part of the Word document has a compression ratio of "
                f"{info.file_size // max(info.compress_size, 1)}:1"
            )
        total += info.file_size
        if total > MAX_TOTAL_INFLATED:
            raise ReferralRejected(
                f"decompression bomb: the Word document would inflate to more than "
                f"{MAX_TOTAL_INFLATED // (1024 * 1024)} MiB"
            )


def _inflate_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> int:
    """Stream-inflate one entry, refusing it past the caps; returns the bytes it inflated to."""
    is_xml = info.filename.lower().endswith(_XML_SUFFIXES)
    size = 0
    tail = b""
    cap = min(MAX_ENTRY_BYTES, budget)
    try:
        with zf.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > cap:
                    raise ReferralRejected(
                        "decompression bomb: a part of the Word document inflates past its limit"
                    )
                if is_xml:
                    window = tail + chunk
                    if any(marker in window for marker in _FORBIDDEN_XML):
                        raise ReferralRejected(
                            "Word document XML contains a DOCTYPE/ENTITY declaration "
                            "(possible XML entity bomb): refused"
                        )
                    tail = chunk[-16:]
    except ReferralRejected:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError) as exc:
        raise ReferralRejected(f"corrupt Word document (a part cannot be read: {type(exc).__name__})") from None
    except Exception as exc:  # zlib.error and friends
        raise ReferralRejected(f"corrupt Word document (a part cannot be read: {type(exc).__name__})") from None
    return size


def vet_docx(data: bytes) -> None:
    """Refuse a .docx that is corrupt, encrypted, a zip bomb or carries an XML entity bomb."""
    check_size(data, "Word document")
    with _open_zip(data) as zf:
        check_zip_directory(zf)
        names = set(zf.namelist())
        if "word/document.xml" not in names or "[Content_Types].xml" not in names:
            raise ReferralRejected("zip file is not a Word document (no word/document.xml)")
        budget = MAX_TOTAL_INFLATED
        for info in zf.infolist():
            if info.is_dir():
                continue
            budget -= _inflate_capped(zf, info, budget)
