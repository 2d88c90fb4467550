"""Plain-text and HTML bodies (and .txt files): decoding, lines and HTML tables.

Bytes are decoded with the declared charset when there is one; otherwise UTF-8 strictly, then
Windows-1252 (what Outlook on Windows sends undeclared), so "Child’s" never turns into mojibake
or an exception.
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser

from handlers.referral import safety
from handlers.referral.blocks import Cell, Row, line_row, split_columns
from bot.core.referral_errors import ReferralRejected
from handlers.referral.marks import CHECKED, UNCHECKED


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Text from bytes: BOM, then the declared charset, then strict UTF-8, then Windows-1252."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace").lstrip("\ufeff")
    if declared:
        charset = declared.strip().strip('"').lower()
        if charset in ("us-ascii", "ascii", "ansi_x3.4-1968"):
            charset = ""  # often a lie told about 8-bit text: fall through to the guesses
        if charset:
            try:
                codecs.lookup(charset)
                return data.decode(charset)
            except (LookupError, UnicodeDecodeError):
                pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def looks_like_html(text: str) -> bool:
    head = text[:2000].lower()
    return bool(re.search(r"<(?:!doctype html|html|body|table|div|p|br)\b", head))


def text_rows(text: str) -> list[Row]:
    """Lines of a plain-text body; tabs or wide gaps split a line into cells."""
    if len(text) > safety.MAX_TEXT_CHARS:
        raise ReferralRejected("text holds more than a referral form could")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    safety.check_rows(len(lines), "text")
    rows: list[Row] = []
    for line in lines:
        line = line.rstrip()
        if line.startswith(">"):  # quoted earlier mail
            line = line.lstrip("> ")
        rows.append(split_columns(line, 3) if ("\t" in line or "   " in line.strip()) else line_row(line))
    return rows


_BLOCK = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
          "section", "article", "header", "footer", "blockquote", "pre", "hr", "dd", "dt", "caption"}
_SKIP = {"script", "style", "head", "title", "template", "noscript"}


class _HtmlRows(HTMLParser):
    """Tables become rows of cells (colspan gives positions); other text becomes lines.

    Counts elements and open tables as it goes and stops (ReferralRejected) past the limits:
    HTMLParser's cost is per tag, so a body of hundreds of thousands of tags, or tables nested
    thousands deep, is refused in its first milliseconds rather than after its last.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[Row] = []
        self.skip = 0
        self.line: list[str] = []
        self.stack: list[dict] = []  # open tables: {"id", "row": list[Cell] | None, "col", "cell"}
        self.tables = 0
        self.elements = 0

    def _flush_line(self) -> None:
        text = "".join(self.line)
        self.line = []
        for part in text.split("\n"):
            if part.strip() or (self.rows and not self.rows[-1].is_blank):
                self.rows.append(line_row(" ".join(part.split())))

    def _emit(self, text: str) -> None:
        if self.skip:
            return
        if self.stack and self.stack[-1]["cell"] is not None:
            self.stack[-1]["cell"].append(text)
        else:
            self.line.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements += 1
        if self.elements > safety.MAX_HTML_ELEMENTS:
            raise ReferralRejected(
                f"HTML has more than {safety.MAX_HTML_ELEMENTS} elements: more than a referral form could"
            )
        if tag in _SKIP:
            self.skip += 1
            return
        a = dict(attrs)
        if tag == "table":
            if len(self.stack) >= safety.MAX_TABLE_DEPTH:
                raise ReferralRejected(
                    f"HTML tables nested more than {safety.MAX_TABLE_DEPTH} deep: not a referral form"
                )
            self._flush_line()
            self.tables += 1
            self.stack.append({"id": self.tables, "row": None, "col": 0, "cell": None, "span": 1})
        elif tag == "tr" and self.stack:
            self._end_row()
            self.stack[-1].update(row=[], col=0, cell=None)
        elif tag in ("td", "th") and self.stack:
            t = self.stack[-1]
            self._end_cell()
            if t["row"] is None:
                t.update(row=[], col=0)
            try:
                t["span"] = max(1, min(50, int(a.get("colspan") or 1)))
            except ValueError:
                t["span"] = 1
            t["cell"] = []
        elif tag == "input" and (a.get("type") or "").lower() in ("checkbox", "radio"):
            self._emit(f" {CHECKED if 'checked' in a else UNCHECKED} ")
        elif tag == "br":
            self._emit("\n")
        elif tag in _BLOCK:
            if self.stack and self.stack[-1]["cell"] is not None:
                self._emit("\n")
            else:
                self._flush_line()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if tag in ("td", "th"):
            self._end_cell()
        elif tag == "tr":
            self._end_row()
        elif tag == "table" and self.stack:
            self._end_row()
            self.stack.pop()
        elif tag in _BLOCK and not (self.stack and self.stack[-1]["cell"] is not None):
            self._flush_line()
        elif tag in _BLOCK:
            self._emit("\n")

    def handle_data(self, data: str) -> None:
        self._emit(re.sub(r"\s+", " ", data))

    def _end_cell(self) -> None:
        if not self.stack:
            return
        t = self.stack[-1]
        if t["cell"] is None:
            return
        text = "\n".join(" ".join(line.split()) for line in "".join(t["cell"]).split("\n"))
        t["row"].append(Cell(text.strip("\n"), t["col"], t["col"] + t["span"]))
        t["col"] += t["span"]
        t["cell"] = None

    def _end_row(self) -> None:
        if not self.stack:
            return
        self._end_cell()
        t = self.stack[-1]
        if t["row"]:
            self.rows.append(Row(t["row"], t["id"]))
        t["row"] = None

    def close(self) -> None:
        super().close()
        while self.stack:
            self._end_row()
            self.stack.pop()
        self._flush_line()


def html_rows(html: str) -> list[Row]:
    if len(html) > safety.MAX_TEXT_CHARS * 4:
        raise ReferralRejected("HTML body is larger than a referral form could be")
    parser = _HtmlRows()
    parser.feed(html)
    parser.close()
    safety.check_rows(len(parser.rows), "HTML")
    return parser.rows
