"""The working-day calendar every statutory timescale is counted on.

A working day is Monday to Friday and not an England bank holiday (substitute days and one-off
days included, from the ``holidays`` package): the law counts those and nothing else, so a
partnership's closure days (a council's Christmas shutdown) never move a statutory due date.
They are kept here all the same because they move *reminders* (nobody reads one sent on a
closure day: it goes out on the last open day before) and a due date that falls in a closure
carries a warning. Counting follows the convention agreed in design.md: the day of awareness is
day 0; if it is not a working day, the next working day is day 1.

This module is pure: no I/O, no database, no Slack.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")

_ONE_DAY = timedelta(days=1)


@lru_cache(maxsize=1)
def _england_holidays() -> holidays.HolidayBase:
    """One shared, lazily-expanding holiday table (years are filled in on first lookup)."""
    return holidays.country_holidays("GB", subdiv="ENG")


def today_in_london(now: datetime | None = None) -> date:
    """The calendar date in Europe/London: the statutory day, whatever the server's zone."""
    moment = now or datetime.now(tz=LONDON)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LONDON)
    return moment.astimezone(LONDON).date()


def add_calendar_months(start: date, months: int) -> date:
    """``start`` plus ``months`` calendar months, clamped to the end of a shorter month.

    31 August + 6 months is 28 (or 29) February: "no later than 6 months from" never overshoots.
    """
    month_index = start.month - 1 + months
    year = start.year + month_index // 12
    month = month_index % 12 + 1
    last_day = _stdlib_calendar.monthrange(year, month)[1]
    return date(year, month, min(start.day, last_day))


class WorkingCalendar:
    """Weekends and England bank holidays (the statutory count), plus a partnership's own
    closure days (when its office is shut: reminders avoid them, deadlines do not).

    Instances are cheap and immutable.
    """

    def __init__(self, closures: Iterable[date] = ()) -> None:
        self._closures: frozenset[date] = frozenset(closures)
        self._bank_holidays = _england_holidays()

    @property
    def closures(self) -> frozenset[date]:
        return self._closures

    def holiday_name(self, day: date) -> str | None:
        """Why ``day`` is not an open day (weekend, bank holiday or closure), or None."""
        if day.weekday() >= 5:
            return "weekend"
        name = self._bank_holidays.get(day)
        if name:
            return str(name)
        if day in self._closures:
            return "partnership closure day"
        return None

    def is_working_day(self, day: date) -> bool:
        """A statutory working day: not a weekend, not an England bank holiday. Closure days
        are working days in law."""
        return day.weekday() < 5 and day not in self._bank_holidays

    def is_closed(self, day: date) -> bool:
        """A partnership closure day (whatever day of the week it is)."""
        return day in self._closures

    def is_open_day(self, day: date) -> bool:
        """A working day on which the partnership's office is open: when reminders go out."""
        return self.is_working_day(day) and day not in self._closures

    def previous_open_day(self, day: date) -> date:
        """The last open day on or before ``day``: where a reminder in a closure moves to."""
        while not self.is_open_day(day):
            day -= _ONE_DAY
        return day

    def next_open_day(self, day: date) -> date:
        """The first open day on or after ``day``."""
        while not self.is_open_day(day):
            day += _ONE_DAY
        return day

    def next_working_day(self, day: date) -> date:
        """The first working day on or after ``day``."""
        while not self.is_working_day(day):
            day += _ONE_DAY
        return day

    def previous_working_day(self, day: date) -> date:
        """The last working day on or before ``day``."""
        while not self.is_working_day(day):
            day -= _ONE_DAY
        return day

    def add_working_days(self, start: date, n: int) -> date:
        """The Nth working day after ``start`` (``start`` is day 0).

        A non-working start makes the next working day day 1. ``n == 0`` gives the first
        working day on or after ``start``; a negative ``n`` counts backwards.
        """
        if n < 0:
            return self.subtract_working_days(start, -n)
        if n == 0:
            return self.next_working_day(start)
        day = start
        remaining = n
        while remaining:
            day += _ONE_DAY
            if self.is_working_day(day):
                remaining -= 1
        return day

    def subtract_working_days(self, start: date, n: int) -> date:
        """The Nth working day before ``start``: "no later than N working days before"."""
        if n < 0:
            return self.add_working_days(start, -n)
        if n == 0:
            return self.previous_working_day(start)
        day = start
        remaining = n
        while remaining:
            day -= _ONE_DAY
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: how many days of the clock have run from start to end.

        Negative when ``end`` is before ``start``. ``add_working_days(s, n) == e`` implies
        ``working_days_between(s, e) == n``.
        """
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        day = start
        while day < end:
            day += _ONE_DAY
            if self.is_working_day(day):
                count += 1
        return count
