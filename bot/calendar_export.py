"""Deadlines as an iCalendar file (icalendar) that Outlook and other calendars import.

Each event is all-day on the due date and names the case reference and the step only: no child
details ever go into a calendar, which is often shared or synced to phones.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta

from icalendar import Alarm, Calendar, Event

from bot.cases import CaseView
from bot.core.lifecycle import DeadlineStatus


def deadlines_ics(views: Iterable[CaseView], send_time: time = time(9, 0)) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//safeguard-bot//statutory deadlines//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Safeguarding deadlines")
    stamp = datetime.now(tz=UTC)
    for view in views:
        for state in view.deadlines:
            if state.status is not DeadlineStatus.OPEN:
                continue
            deadline = state.deadline
            event = Event()
            event.add("uid", f"{view.reference}-{deadline.key}@safeguard-bot")
            event.add("dtstamp", stamp)
            event.add("dtstart", deadline.due)
            event.add("dtend", deadline.due + timedelta(days=1))
            event.add("summary", f"{view.reference}: {deadline.label}")
            event.add("description", f"{deadline.rule}.\nSource: {deadline.source}.")
            event.add("categories", ["Safeguarding", view.reference])
            event.add("transp", "TRANSPARENT")
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", f"{view.reference}: {deadline.label} due tomorrow")
            # Relative to the all-day start (midnight): the working morning before.
            alarm.add("trigger", -timedelta(hours=24 - send_time.hour, minutes=-send_time.minute))
            event.add_component(alarm)
            calendar.add_component(event)
    return calendar.to_ical()
