"""When a closed case's identifying details are due for erasure (issue 16, retention).

Pure: the partnership decides the period (its retention schedule, README "Retention"); the bot
only applies it. A legal hold always wins: a held case is never due.
"""

from __future__ import annotations

from datetime import date


def erase_after(closed_on: date, years: int) -> date:
    """The first day the details may be erased: ``years`` after closing (29 Feb -> 28 Feb)."""
    try:
        return closed_on.replace(year=closed_on.year + years)
    except ValueError:
        return closed_on.replace(year=closed_on.year + years, day=28)


def is_due(closed_on: date | None, years: int | None, today: date, *, held: bool, erased: bool) -> bool:
    """Whether retention erases the case's child details today."""
    if held or erased or closed_on is None or years is None:
        return False
    return today >= erase_after(closed_on, years)
