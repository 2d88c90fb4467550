"""bot.core.dates: ASCII digits only, and one supported range of years."""

from __future__ import annotations

from datetime import date

import holidays
import pytest

from bot.core.dates import EARLIEST, LATEST, DateError, DateOutOfRange, check_date_range, parse_date, search_date


@pytest.mark.parametrize(
    "text",
    ["２０２６-12-22", "٢٠٢٦-١٢-٢٢", "22/12/２０２６", "२२ December 2026", "22/12/۲۰۲۶", "December ２２, 2026"],
)
def test_non_ascii_digits_are_not_dates(text: str) -> None:
    with pytest.raises(DateError, match="is not a date"):
        parse_date(text)
    assert search_date(f"born {text}") is None


@pytest.mark.parametrize("text", ["9999-12-20", "31/12/2100", "1 January 1899", "0001-01-01"])
def test_years_outside_the_range_are_refused(text: str) -> None:
    with pytest.raises(DateOutOfRange, match="1900 to 2099"):
        parse_date(text)


def test_the_ends_of_the_range_are_accepted() -> None:
    assert parse_date("1900-01-01") == EARLIEST == check_date_range(EARLIEST)
    assert parse_date("31/12/2099") == LATEST == check_date_range(LATEST)
    with pytest.raises(DateOutOfRange, match="closure day 2100-01-01"):
        check_date_range(date(2100, 1, 1), "closure day")


def test_the_bank_holiday_table_covers_every_deadline_from_the_range() -> None:
    # The reason for LATEST: a deadline counted from it (at most about 6 months and some working
    # days later) must still fall in a year whose England bank holidays are known.
    table = holidays.country_holidays("GB", subdiv="ENG")
    assert date(LATEST.year + 1, 12, 25) in table
    assert date(EARLIEST.year, 12, 25) in table
