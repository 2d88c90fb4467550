"""Working-day calendar: table tests on real England dates, and properties that always hold."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.calendar import WorkingCalendar, add_calendar_months

CAL = WorkingCalendar()


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 12, 25),  # Christmas Day (Fri)
        date(2026, 12, 28),  # Boxing Day substitute (26th is a Saturday)
        date(2027, 1, 1),
        date(2027, 12, 27),  # Christmas Day substitute
        date(2027, 12, 28),  # Boxing Day substitute
        date(2028, 1, 3),  # New Year's Day substitute
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 6),  # Easter Monday
        date(2022, 6, 3),  # Platinum Jubilee (one-off)
        date(2022, 9, 19),  # State funeral of Queen Elizabeth II (one-off)
        date(2023, 5, 8),  # Coronation of King Charles III (one-off)
        date(2026, 5, 4),
        date(2026, 5, 25),
        date(2026, 8, 31),
    ],
)
def test_england_bank_holidays_are_not_working_days(day: date) -> None:
    assert day.weekday() < 5
    assert not CAL.is_working_day(day)
    assert CAL.holiday_name(day)


@pytest.mark.parametrize(
    "day", [date(2026, 12, 24), date(2026, 12, 29), date(2026, 12, 31), date(2027, 12, 29)]
)
def test_ordinary_weekdays_around_christmas_are_working_days(day: date) -> None:
    assert CAL.is_working_day(day)
    assert CAL.holiday_name(day) is None


def test_weekends_are_not_working_days() -> None:
    assert not CAL.is_working_day(date(2026, 11, 28))
    assert not CAL.is_working_day(date(2026, 11, 29))
    assert CAL.holiday_name(date(2026, 11, 28)) == "weekend"


def test_scotland_only_holiday_is_a_working_day_in_england() -> None:
    # 2 January is a bank holiday in Scotland, not England.
    assert CAL.is_working_day(date(2026, 1, 2))
    # St Andrew's Day substitute (Mon 30 Nov 2026 in Scotland) is a working day in England.
    assert CAL.is_working_day(date(2026, 11, 30))


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # Christmas 2026: 25 Dec (Fri), 28 Dec (substitute), 1 Jan 2027 (Fri).
        (date(2026, 12, 22), 5, date(2026, 12, 31)),
        (date(2026, 12, 22), 15, date(2027, 1, 15)),
        (date(2026, 12, 23), 1, date(2026, 12, 24)),
        (date(2026, 12, 24), 1, date(2026, 12, 29)),
        (date(2026, 12, 24), 5, date(2027, 1, 5)),
        # Christmas 2027: 27 and 28 Dec substitutes; 3 Jan 2028 substitute.
        (date(2027, 12, 22), 5, date(2027, 12, 31)),
        (date(2027, 12, 22), 15, date(2028, 1, 17)),
        (date(2027, 12, 24), 1, date(2027, 12, 29)),
        (date(2027, 12, 31), 1, date(2028, 1, 4)),
        # Easter 2026: Good Friday 3 Apr, Easter Monday 6 Apr.
        (date(2026, 4, 1), 1, date(2026, 4, 2)),
        (date(2026, 4, 2), 1, date(2026, 4, 7)),
        (date(2026, 4, 2), 5, date(2026, 4, 13)),
        (date(2025, 4, 16), 5, date(2025, 4, 25)),
        # Weekend awareness: Saturday is day 0, Monday is day 1.
        (date(2026, 11, 28), 1, date(2026, 11, 30)),
        (date(2026, 11, 28), 5, date(2026, 12, 4)),
        (date(2026, 11, 29), 5, date(2026, 12, 4)),
        # Awareness on a bank holiday: the next working day is day 1.
        (date(2026, 12, 25), 1, date(2026, 12, 29)),
        (date(2026, 12, 28), 5, date(2027, 1, 5)),
        # One-off bank holidays.
        (date(2022, 6, 1), 5, date(2022, 6, 10)),  # 2 Jun (Spring, moved) and 3 Jun (Jubilee)
        (date(2022, 9, 16), 1, date(2022, 9, 20)),  # 19 Sep state funeral
        (date(2023, 5, 5), 1, date(2023, 5, 9)),  # 8 May coronation
        (date(2023, 5, 2), 5, date(2023, 5, 10)),
        # n = 0 gives the day itself when it is a working day, else the next one.
        (date(2026, 11, 25), 0, date(2026, 11, 25)),
        (date(2026, 11, 28), 0, date(2026, 11, 30)),
    ],
)
def test_add_working_days(start: date, n: int, expected: date) -> None:
    assert CAL.add_working_days(start, n) == expected


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2027, 1, 8), 7, date(2026, 12, 29)),  # back across New Year and the substitute
        (date(2028, 1, 10), 7, date(2027, 12, 29)),
        (date(2026, 4, 15), 7, date(2026, 4, 2)),  # back across Easter
        (date(2026, 11, 30), 1, date(2026, 11, 27)),
        (date(2026, 11, 28), 1, date(2026, 11, 27)),  # from a Saturday
        (date(2026, 11, 28), 0, date(2026, 11, 27)),
    ],
)
def test_subtract_working_days(start: date, n: int, expected: date) -> None:
    assert CAL.subtract_working_days(start, n) == expected


def test_working_days_between() -> None:
    assert CAL.working_days_between(date(2026, 12, 22), date(2026, 12, 31)) == 5
    assert CAL.working_days_between(date(2026, 12, 31), date(2026, 12, 22)) == -5
    assert CAL.working_days_between(date(2026, 12, 25), date(2026, 12, 28)) == 0
    assert CAL.working_days_between(date(2026, 12, 22), date(2026, 12, 22)) == 0


def test_partnership_closure_days_never_move_a_statutory_count() -> None:
    """Issue 10 item 2: the law counts weekends and bank holidays only."""
    cal = WorkingCalendar(closures=[date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31)])
    assert cal.is_working_day(date(2026, 12, 29))
    assert not cal.is_open_day(date(2026, 12, 29))
    assert cal.is_closed(date(2026, 12, 30))
    assert cal.holiday_name(date(2026, 12, 30)) == "partnership closure day"
    assert cal.holiday_name(date(2026, 12, 25)) == "Christmas Day"
    assert cal.add_working_days(date(2026, 12, 22), 5) == date(2026, 12, 31)
    assert cal.previous_open_day(date(2026, 12, 31)) == date(2026, 12, 24)
    assert cal.next_open_day(date(2026, 12, 29)) == date(2027, 1, 4)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 3, 15), 6, date(2026, 9, 15)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),  # clamped to month end
        (date(2027, 8, 31), 6, date(2028, 2, 29)),  # leap year
        (date(2026, 12, 31), 6, date(2027, 6, 30)),
        (date(2026, 7, 10), 6, date(2027, 1, 10)),  # across the year end
    ],
)
def test_add_calendar_months(start: date, months: int, expected: date) -> None:
    assert add_calendar_months(start, months) == expected


days = st.dates(min_value=date(2019, 1, 1), max_value=date(2034, 12, 31))
counts = st.integers(min_value=0, max_value=260)


@settings(max_examples=300, deadline=None)
@given(start=days, n=counts)
def test_result_is_always_a_working_day(start: date, n: int) -> None:
    assert CAL.is_working_day(CAL.add_working_days(start, n))
    assert CAL.is_working_day(CAL.subtract_working_days(start, n))


@settings(max_examples=300, deadline=None)
@given(start=days, n=st.integers(min_value=1, max_value=260))
def test_add_then_subtract_returns_to_the_starts_working_day(start: date, n: int) -> None:
    there = CAL.add_working_days(start, n)
    assert CAL.subtract_working_days(there, n) == CAL.previous_working_day(start)
    assert CAL.working_days_between(start, there) == n


@settings(max_examples=300, deadline=None)
@given(start=days, n=counts, extra=st.integers(min_value=0, max_value=30))
def test_more_days_never_gives_an_earlier_date(start: date, n: int, extra: int) -> None:
    assert CAL.add_working_days(start, n + extra) >= CAL.add_working_days(start, n)
    assert CAL.subtract_working_days(start, n + extra) <= CAL.subtract_working_days(start, n)


@settings(max_examples=200, deadline=None)
@given(start=days, n=st.integers(min_value=1, max_value=60))
def test_exactly_n_working_days_are_counted(start: date, n: int) -> None:
    end = CAL.add_working_days(start, n)
    span = [start + timedelta(days=i) for i in range(1, (end - start).days + 1)]
    assert sum(CAL.is_working_day(d) for d in span) == n
