"""Reading dates the way people in England write them.

ISO (2026-12-22), day-first numeric (22/12/2026, 22.12.2026, 22-12-2026, 7/3/19) and written
forms (22 December 2026, 21 Nov 2026, 4th January 2012, Tuesday 22 December 2026). Numeric dates
are always day first: this is an English service, and 07/03/2019 is 7 March.
"""

from __future__ import annotations

import re
from datetime import date

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_NUMERIC = re.compile(r"^(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{2}|\d{4})$")
_WRITTEN = re.compile(
    r"^(?:[a-z]+,?\s+)?(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]+)\.?,?\s+(\d{4})$"
)
_WRITTEN_MONTH_FIRST = re.compile(r"^(?:[a-z]+,?\s+)?([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")


class DateError(ValueError):
    """Text that is not a date, or not a real one; the message says which, in one line."""


def _build(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise DateError(f"{text!r} is not a real date ({exc})") from None


def _two_digit_year(year: int) -> int:
    # Dates of birth and incidents: a two-digit year is this century unless that is the future.
    return 2000 + year if year <= date.today().year % 100 else 1900 + year


def parse_date(text: str) -> date:
    """A date from ``text`` or DateError saying why not."""
    cleaned = " ".join(text.strip().lower().split())
    if not cleaned:
        raise DateError("empty date")
    if match := _ISO.match(cleaned):
        year, month, day = (int(g) for g in match.groups())
        return _build(year, month, day, text)
    if match := _NUMERIC.match(cleaned):
        day, month, year = (int(g) for g in match.groups())
        if len(match.group(3)) == 2:
            year = _two_digit_year(year)
        return _build(year, month, day, text)
    for pattern, order in ((_WRITTEN, "dmy"), (_WRITTEN_MONTH_FIRST, "mdy")):
        if match := pattern.match(cleaned):
            parts = dict(zip(order, match.groups(), strict=True))
            month = _MONTHS.get(parts["m"].rstrip("."))
            if month is None:
                raise DateError(f"{text!r}: unknown month {parts['m']!r}")
            return _build(int(parts["y"]), month, int(parts["d"]), text)
    raise DateError(f"{text!r} is not a date (use YYYY-MM-DD or DD/MM/YYYY)")


_SEARCH = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}"
    r"|\d{1,2}\s*[/.\-]\s*\d{1,2}\s*[/.\-]\s*(?:\d{4}|\d{2})(?!\d)"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?[A-Za-z]{3,9}\.?,?\s+\d{4}"
    r"|[A-Za-z]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
)


def search_date(text: str) -> date | None:
    """The first real date written anywhere in ``text`` ("04/01/2012 (aged 13)"), or None.

    Forms carry dates with words around them; a whole-field ``parse_date`` would refuse them.
    """
    try:
        return parse_date(text)
    except DateError:
        pass
    for match in _SEARCH.finditer(text[:2000]):
        try:
            return parse_date(match.group())
        except DateError:
            continue
    return None
