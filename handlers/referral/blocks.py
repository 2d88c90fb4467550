"""The shape every reader produces: rows of positioned cells.

Word tables, HTML tables, PDF text lines and e-mail body lines all become ``Row``s, so one field
extractor (fields.py) handles every format. A cell's ``x0``/``x1`` is its column span (grid
columns for tables, character offsets for text lines), which is how a value in the row under a
heading row is matched to its heading.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Cell:
    text: str
    x0: int = 0
    x1: int = 1


@dataclass
class Row:
    cells: list[Cell] = field(default_factory=list)
    table: int | None = None  # rows of one table share an id; None for a line of text

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.cells if c.text.strip())

    @property
    def is_blank(self) -> bool:
        return not any(c.text.strip() for c in self.cells)


def line_row(text: str) -> Row:
    """A line of running text (a Word paragraph, a body line) as a one-cell row."""
    return Row([Cell(text, 0, max(1, len(text)))], None)


def split_columns(line: str, min_gap: int = 2, *, tabs_only: bool = False) -> Row:
    """A line of laid-out text split into cells at tabs or runs of ``min_gap``+ spaces.

    Cell positions are character offsets, which is how a value line is lined up with the
    heading line above it in a PDF's text layer.
    """
    import re

    gap = re.compile(r"\t+" if tabs_only else r"\t+| {%d,}" % min_gap)
    cells: list[Cell] = []
    pos = 0
    for match in gap.finditer(line):
        if match.start() > pos:
            cells.append(Cell(line[pos : match.start()], pos, match.start()))
        pos = match.end()
    if pos < len(line):
        cells.append(Cell(line[pos:], pos, len(line)))
    cells = [c for c in cells if c.text.strip()]
    return Row(cells or [Cell("", 0, 1)], None)
