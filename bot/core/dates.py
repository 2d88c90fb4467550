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

# Digits are ASCII [0-9], never \d: in a str pattern \d also matches full-width (２０２６),
# Arabic-Indic (٢٠٢٦) and other digits, which int() then happily converts, so a date nobody
# in England writes would be taken as a real one.
_ISO = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
_NUMERIC = re.compile(r"^([0-9]{1,2})\s*[/.\-]\s*([0-9]{1,2})\s*[/.\-]\s*([0-9]{2}|[0-9]{4})$")
_WRITTEN = re.compile(
    r"^(?:[a-z]+,?\s+)?([0-9]{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]+)\.?,?\s+([0-9]{4})$"
)
_WRITTEN_MONTH_FIRST = re.compile(r"^(?:[a-z]+,?\s+)?([a-z]+)\.?\s+([0-9]{1,2})(?:st|nd|rd|th)?,?\s+([0-9]{4})$")


class DateError(ValueError):
    """Text that is not a date, or not a real one; the message says which, in one line."""


class DateOutOfRange(DateError):
    """A real date outside EARLIEST..LATEST."""


EARLIEST = date(1900, 1, 1)
LATEST = date(2099, 12, 31)
"""The dates this service accepts, from anyone (the command line, Slack, forms, settings).

Why these: the England bank-holiday table (the ``holidays`` package) runs from 1872 to 2100.
The longest timescale counts about six months and some working days from its anchor, so from
any date up to 2099-12-31 every derived deadline still falls inside that table: none is
counted on a calendar that silently has no bank holidays, and date arithmetic stays far from
the year 9999 where Python's dates end (OverflowError). At the other end the notification duty
began in 2018, but dates of birth, historic incidents and training examples reach back decades;
a year before 1900 is a typing error. tests/test_dates.py checks the table still covers this.
"""


_OUT_OF_RANGE = f"is outside the years this service accepts ({EARLIEST.year} to {LATEST.year})"


def check_date_range(day: date, what: str = "date") -> date:
    """``day`` if it lies in EARLIEST..LATEST, else DateError naming ``what`` and the range.

    For dates that did not come through parse_date (a Slack date picker, a datetime)."""
    if not EARLIEST <= day <= LATEST:
        raise DateOutOfRange(f"{what} {day.isoformat()} {_OUT_OF_RANGE}")
    return day



def _build(year: int, month: int, day: int, text: str) -> date:
    try:
        built = date(year, month, day)
    except ValueError as exc:
        raise DateError(f"{text!r} is not a real date ({exc})") from None
    if not EARLIEST <= built <= LATEST:
        raise DateOutOfRange(f"{text!r} {_OUT_OF_RANGE}")
    return built


def _two_digit_year(year: int) -> int:
    # Dates of birth and incidents: a two-digit year is this century unless that is the future.
    return 2000 + year if year <= date.today().year % 100 else 1900 + year


def parse_date(text: str) -> date:
    """A date from ``text`` or DateError saying why not (ASCII digits, EARLIEST..LATEST)."""
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
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"|[0-9]{1,2}\s*[/.\-]\s*[0-9]{1,2}\s*[/.\-]\s*(?:[0-9]{4}|[0-9]{2})(?![0-9])"
    r"|[0-9]{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?[A-Za-z]{3,9}\.?,?\s+[0-9]{4}"
    r"|[A-Za-z]{3,9}\.?\s+[0-9]{1,2}(?:st|nd|rd|th)?,?\s+[0-9]{4}"
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
