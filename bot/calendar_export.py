"""Deadlines as an iCalendar file (icalendar) that Outlook and other calendars import.

Each event is all-day on the due date and names the case reference and the step only: no child
details ever go into a calendar, which is often shared or synced to phones.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from icalendar import Alarm, Calendar, Event

from bot.cases import CaseView
from bot.core.lifecycle import DeadlineStatus


def _calendar() -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//safeguard-bot//statutory deadlines//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Safeguarding deadlines")
    return calendar


def _event(reference: str, key: str, label: str, due: date, rule: str, source: str,
           send_time: time, stamp: datetime) -> Event:
    """One step, all day on its due date; the UID is the case and step, so importing it again
    (or a reminder's copy) updates the same calendar entry."""
    event = Event()
    event.add("uid", f"{reference}-{key}@safeguard-bot")
    event.add("dtstamp", stamp)
    event.add("dtstart", due)
    event.add("dtend", due + timedelta(days=1))
    event.add("summary", f"{reference}: {label}")
    event.add("description", f"{rule}.\nSource: {source}.")
    event.add("categories", ["Safeguarding", reference])
    event.add("transp", "TRANSPARENT")
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", f"{reference}: {label} due tomorrow")
    # Relative to the all-day start (midnight): the working morning before.
    alarm.add("trigger", -timedelta(hours=24 - send_time.hour, minutes=-send_time.minute))
    event.add_component(alarm)
    return event


def deadlines_ics(views: Iterable[CaseView], send_time: time = time(9, 0)) -> bytes:
    calendar = _calendar()
    stamp = datetime.now(tz=UTC)
    for view in views:
        for state in view.deadlines:
            if state.status is not DeadlineStatus.OPEN:
                continue
            d = state.deadline
            calendar.add_component(_event(view.reference, d.key, d.label, d.due, d.rule, d.source, send_time, stamp))
    return calendar.to_ical()


def step_ics(reference: str, key: str, label: str, due: date, rule: str, source: str,
             send_time: time = time(9, 0)) -> bytes:
    """The .ics of one step (what an e-mail reminder carries): reference and step only."""
    calendar = _calendar()
    calendar.add_component(_event(reference, key, label, due, rule, source, send_time, datetime.now(tz=UTC)))
    return calendar.to_ical()
