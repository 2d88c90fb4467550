"""Plain-text formatting shared by the command line and the terminal chat."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date


def fmt_day(day: date | None) -> str:
    """'Tue 22 Dec 2026': the weekday matters when counting working days by eye."""
    return day.strftime("%a %d %b %Y") if day else "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns with a rule under the headers; no trailing spaces."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
    return "\n".join(lines)


def initials(name: str | None) -> str:
    """'Jane Mary Doe' -> 'J.M.D.': how a child is named wherever a list is shown (issue 11:
    initials only unless the full details are asked for, and audited). '?' when unnamed."""
    parts = [p for p in (name or "").replace("-", " ").split() if p[:1].isalpha()]
    return "".join(p[0].upper() + "." for p in parts) or "?"
