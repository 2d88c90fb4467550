"""Word .docx forms: paragraphs and tables in document order, tick boxes made into ☒/☐.

python-docx opens the package (after safety.vet_docx has checked it); the body is then walked as
XML because python-docx does not expose check boxes: Word content controls (``w14:checkbox``),
legacy form fields (``w:ffData/w:checkBox``) and Wingdings symbols all become ☒ or ☐ text.
"""

from __future__ import annotations

import io

from handlers.referral import safety
from handlers.referral.blocks import Cell, Row, line_row, split_columns
from bot.core.referral_errors import ReferralRejected
from handlers.referral.marks import CHECKED, UNCHECKED

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


P, TBL, TR, TC, SDT, SDT_CONTENT, SDT_PR = (
    _q(W, "p"), _q(W, "tbl"), _q(W, "tr"), _q(W, "tc"), _q(W, "sdt"), _q(W, "sdtContent"), _q(W, "sdtPr")
)
T, TAB, BR, CR, SYM, FLDCHAR, INSTR, DELTEXT = (
    _q(W, "t"), _q(W, "tab"), _q(W, "br"), _q(W, "cr"), _q(W, "sym"), _q(W, "fldChar"),
    _q(W, "instrText"), _q(W, "delText"),
)
W_VAL = _q(W, "val")
FALLBACK = _q(MC, "Fallback")
# Wingdings / Wingdings 2 code points Word uses for boxes and ticks.
_SYMBOLS = {
    "F0FE": CHECKED, "F0FD": CHECKED, "F078": CHECKED, "F0FC": CHECKED, "F0FB": CHECKED,
    "F053": CHECKED, "F054": CHECKED, "F050": CHECKED, "F0A8": UNCHECKED, "F06F": UNCHECKED,
    "F0A3": UNCHECKED, "F0A1": UNCHECKED, "F02A": UNCHECKED, "F0A2": UNCHECKED,
}
_TRUE = {"1", "true", "on"}


def _on(el: object | None, default: bool = True) -> bool:
    """A Word boolean property: present without w:val means on."""
    if el is None:
        return False
    val = el.get(W_VAL)  # type: ignore[attr-defined]
    return default if val is None else val.lower() in _TRUE


def _checkbox_sdt(sdt: object) -> bool | None:
    pr = sdt.find(SDT_PR)  # type: ignore[attr-defined]
    if pr is None:
        return None
    box = pr.find(_q(W14, "checkbox"))
    if box is None:
        return None
    checked = box.find(_q(W14, "checked"))
    if checked is None:
        return False
    return (checked.get(_q(W14, "val")) or "0").lower() in _TRUE


def _ff_checkbox(fld: object) -> bool | None:
    ff = fld.find(_q(W, "ffData"))  # type: ignore[attr-defined]
    if ff is None:
        return None
    box = ff.find(_q(W, "checkBox"))
    if box is None:
        return None
    checked = box.find(_q(W, "checked"))
    if checked is not None:
        return _on(checked)
    return _on(box.find(_q(W, "default")), default=True)


def _text(el: object, out: list[str]) -> None:
    """Text of ``el`` in document order, check boxes as ☒/☐, skipping nested tables."""
    for child in el:  # type: ignore[attr-defined]
        tag = child.tag
        if not isinstance(tag, str) or tag in (TBL, FALLBACK, DELTEXT, INSTR):
            continue
        if tag == T:
            out.append(child.text or "")
        elif tag == TAB:
            out.append("\t")
        elif tag in (BR, CR):
            out.append("\n")
        elif tag == SYM:
            out.append(_SYMBOLS.get((child.get(_q(W, "char")) or "").upper(), ""))
        elif tag == FLDCHAR:
            state = _ff_checkbox(child)
            if state is not None:
                out.append(f" {CHECKED if state else UNCHECKED} ")
        elif tag == SDT:
            state = _checkbox_sdt(child)
            if state is not None:
                out.append(f" {CHECKED if state else UNCHECKED} ")
                continue  # its content is the glyph Word draws for the same state
            _text(child, out)
        elif tag == P:
            if out and not out[-1].endswith("\n"):
                out.append("\n")
            _text(child, out)
            out.append("\n")
        else:
            _text(child, out)


def _cell_text(tc: object) -> str:
    out: list[str] = []
    _text(tc, out)
    return "".join(out).strip("\n").replace("\t", " ")


def _rows_of(tbl: object) -> list[object]:
    rows = []
    for child in tbl:  # type: ignore[attr-defined]
        if child.tag == TR:
            rows.append(child)
        elif child.tag == SDT:
            content = child.find(SDT_CONTENT)
            if content is not None:
                rows.extend(r for r in content if r.tag == TR)
    return rows


def _cells_of(tr: object) -> list[object]:
    cells = []
    for child in tr:  # type: ignore[attr-defined]
        if child.tag == TC:
            cells.append(child)
        elif child.tag == SDT:
            content = child.find(SDT_CONTENT)
            if content is not None:
                cells.extend(c for c in content if c.tag == TC)
    return cells


def _int_prop(el: object, path: str) -> int:
    found = el.find(path)  # type: ignore[attr-defined]
    if found is None:
        return 0
    try:
        return int(found.get(W_VAL) or 0)
    except ValueError:
        return 0


class _Walker:
    """Paragraphs and table rows in document order; stops past safety.MAX_ROWS, so a document
    of a million empty paragraphs is refused before the extractor would walk them all."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.tables = 0

    def _add(self, row: Row) -> None:
        self.rows.append(row)
        safety.check_rows(len(self.rows), "Word document")

    def block(self, el: object) -> None:
        for child in el:  # type: ignore[attr-defined]
            tag = child.tag
            if tag == P:
                out: list[str] = []
                _text(child, out)
                for line in "".join(out).split("\n"):
                    self._add(split_columns(line, tabs_only=True) if "\t" in line else line_row(line))
            elif tag == TBL:
                self.table(child)
            elif tag == SDT:
                content = child.find(SDT_CONTENT)
                if content is not None:
                    self.block(content)

    def table(self, tbl: object) -> None:
        self.tables += 1
        table_id = self.tables
        nested: list[object] = []
        for tr in _rows_of(tbl):
            col = _int_prop(tr, f"{_q(W, 'trPr')}/{_q(W, 'gridBefore')}")
            cells: list[Cell] = []
            for tc in _cells_of(tr):
                span = max(1, _int_prop(tc, f"{_q(W, 'tcPr')}/{_q(W, 'gridSpan')}"))
                cells.append(Cell(_cell_text(tc), col, col + span))
                col += span
                nested.extend(c for c in tc if c.tag == TBL)  # type: ignore[attr-defined]
            self._add(Row(cells, table_id))
        for inner in nested:
            self.table(inner)


def read_docx(data: bytes) -> list[Row]:
    """Rows from a .docx, or ReferralRejected if it is corrupt, encrypted or hostile."""
    safety.vet_docx(data)
    try:
        import docx  # python-docx
        from docx.opc.exceptions import PackageNotFoundError

        document = docx.Document(io.BytesIO(data))
    except PackageNotFoundError:
        raise ReferralRejected("corrupt Word document (not a Word package)") from None
    except ReferralRejected:
        raise
    except Exception as exc:
        raise ReferralRejected(f"corrupt Word document ({type(exc).__name__})") from None
    walker = _Walker()
    walker.block(document.element.body)
    return walker.rows
