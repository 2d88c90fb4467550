"""Reminder policy (data) and the pure reminder planner.

For each open deadline the planner lists the occasions on which someone must hear about it:
N working days before, on the day, and, once overdue, every working day until the milestone is
recorded. Each occasion has a send date (a working day) and a send time (09:00 Europe/London by
default). The database stores these as rows; the sweep sends what is due. This module does no
I/O beyond reading the policy file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from config import ConfigFileError, parse_toml, read_text
from scheduler.calendar import LONDON, WorkingCalendar


class Occasion(StrEnum):
    BEFORE = "before"
    DUE = "due"
    OVERDUE = "overdue"


# A week of working days: the "once_then_weekly" cadence's interval after the first chase.
WEEKLY_WORKING_DAYS = 5

# When two occasions fall on the same day, the more urgent one is the one sent.
URGENCY = {Occasion.BEFORE: 0, Occasion.DUE: 1, Occasion.OVERDUE: 2}


class DeadlinePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    before: tuple[int, ...] = (2, 1)
    on_due: bool = True
    # "daily": every working day while past due; "once_then_weekly": one chase on the first
    # working day after the due date, then every 5 working days (something the partnership
    # waits for, such as the Panel's response, not a duty it is failing); "none": nothing.
    overdue: Literal["daily", "once_then_weekly", "none"] = "daily"
    escalate_to: tuple[Literal["escalation_contact", "channel"], ...] = (
        "escalation_contact",
        "channel",
    )
    # Another deadline's key: "before" reminders never fall after that deadline's due date
    # (the publication reminders are useless once the final report, due 7 working days before
    # publication, is late). One that would is sent on that due date instead.
    not_after: str | None = None

    @field_validator("before")
    @classmethod
    def _positive(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(n <= 0 or n > 130 for n in value):
            raise ValueError("working days before must be between 1 and 130")
        return tuple(sorted(set(value), reverse=True))


class ReminderPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    send_time: time = time(9, 0)
    source: str = Field(min_length=3)
    default: DeadlinePolicy = DeadlinePolicy()
    overrides: dict[str, DeadlinePolicy] = Field(default_factory=dict)

    def for_key(self, key: str) -> DeadlinePolicy:
        return self.overrides.get(key, self.default)

    def send_at(self, day: date) -> datetime:
        """``send_time`` on ``day`` in Europe/London, as an aware UTC datetime (DST-correct)."""
        return datetime.combine(day, self.send_time, tzinfo=LONDON).astimezone(UTC)


class ReminderConfigError(ConfigFileError):
    """The reminder policy file cannot be used; one line naming the key."""


def parse_policy(text: str, origin: str = "reminders.toml") -> ReminderPolicy:
    try:
        data = parse_toml(text, origin)
    except ConfigFileError as exc:
        raise ReminderConfigError(str(exc)) from None
    try:
        return ReminderPolicy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ReminderConfigError(f"{origin}: {where}: {first['msg']}") from None


def load_policy(path: Path | None = None) -> ReminderPolicy:
    """The partnership's file if given, else the embedded config/reminders.toml."""
    try:
        text, origin = read_text("reminders.toml", path)
    except ConfigFileError as exc:
        raise ReminderConfigError(str(exc)) from None
    return parse_policy(text, origin)


@dataclass(frozen=True)
class PlannedReminder:
    """One occasion on which one deadline is brought to someone's attention."""

    deadline_key: str
    occasion: Occasion
    send_on: date
    send_at: datetime

    @property
    def slot(self) -> tuple[str, str, date]:
        return (self.deadline_key, self.occasion.value, self.send_on)


def first_overdue_day(due: date, calendar: WorkingCalendar) -> date:
    """The first open day after the due date: when a missed deadline is first escalated (a
    closure holds the escalation until the office reopens)."""
    return calendar.next_open_day(calendar.add_working_days(due, 1))


def plan_deadline(
    key: str,
    due: date,
    policy: ReminderPolicy,
    calendar: WorkingCalendar,
    other_dues: Mapping[str, date] | None = None,
) -> list[PlannedReminder]:
    """Before / on-the-day / first-overdue reminders for one open deadline.

    Days are counted in statutory working days, then a reminder that would fall on a closure
    day is sent on the last open day before it (the due date itself does not move). The
    on-the-day reminder for a due date that is not an open day is sent on the open day before
    it; if that collides with a "before" reminder, only the more urgent is kept. A policy's
    ``not_after`` caps "before" reminders at that other deadline's due date (``other_dues``).
    Later overdue occasions are planned one at a time by the sweep, as each is sent.
    """
    rules = policy.for_key(key)
    by_day: dict[date, Occasion] = {}
    cap = (other_dues or {}).get(rules.not_after) if rules.not_after else None

    def put(day: date, occasion: Occasion) -> None:
        if day not in by_day or URGENCY[occasion] > URGENCY[by_day[day]]:
            by_day[day] = occasion

    for n in rules.before:
        day = calendar.subtract_working_days(due, n)
        if cap is not None and day > cap:
            day = cap
        put(calendar.previous_open_day(day), Occasion.BEFORE)
    if rules.on_due:
        put(calendar.previous_open_day(due), Occasion.DUE)
    if rules.overdue != "none":
        put(first_overdue_day(due, calendar), Occasion.OVERDUE)
    return [
        PlannedReminder(key, occasion, day, policy.send_at(day))
        for day, occasion in sorted(by_day.items())
    ]


def next_overdue(
    key: str, after: date, policy: ReminderPolicy, calendar: WorkingCalendar
) -> PlannedReminder | None:
    """The next escalation after ``after`` (the day one was just sent), if the policy has one:
    the next open day ("daily") or 5 working days on ("once_then_weekly")."""
    cadence = policy.for_key(key).overdue
    if cadence == "none":
        return None
    step = 1 if cadence == "daily" else WEEKLY_WORKING_DAYS
    day = calendar.next_open_day(calendar.add_working_days(after, step))
    return PlannedReminder(key, Occasion.OVERDUE, day, policy.send_at(day))


def working_days_phrase(due: date, today: date, calendar: WorkingCalendar) -> str:
    """'due in 2 working days', 'due today', '3 working days overdue' for a message."""
    if due == today:
        return "due today"
    if due > today:
        n = calendar.working_days_between(today, due)
        if n == 0:
            return "due on the next working day"
        return f"due in {n} working day{'s' if n != 1 else ''}"
    n = max(calendar.working_days_between(due, today), 1)
    return f"{n} working day{'s' if n != 1 else ''} overdue"
