"""Deadline rules: from the dates of known events to due dates, each with its source.

Pure functions over the working-day calendar and the timescale data. A timescale whose event
has not happened yet is simply not due yet: it appears once the event is known (a decision to
initiate a review brings the publication deadline, a planned publication date brings the
final-report deadline).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from scheduler.calendar import WorkingCalendar, add_calendar_months
from scheduler.timescales import Event, Timescale, Timescales


@dataclass(frozen=True)
class ComputedDeadline:
    """One statutory deadline for one case, with everything needed to explain it."""

    key: str
    label: str
    due: date
    counts_from: Event
    anchor_date: date
    rule: str
    source: str
    basis: str

    def as_json(self) -> dict[str, str]:
        return {
            "key": self.key,
            "label": self.label,
            "due": self.due.isoformat(),
            "rule": self.rule,
            "source": self.source,
            "counts_from": self.counts_from.value,
            "from": self.anchor_date.isoformat(),
            "basis": self.basis,
        }


def due_date(timescale: Timescale, anchor: date, calendar: WorkingCalendar) -> date:
    """Apply one rule to one anchor date."""
    rule = timescale.rule
    if rule.kind == "working_days_after":
        return calendar.add_working_days(anchor, rule.amount)
    if rule.kind == "working_days_before":
        return calendar.subtract_working_days(anchor, rule.amount)
    return add_calendar_months(anchor, rule.amount)


def compute_deadlines(
    events: Mapping[Event, date],
    timescales: Timescales,
    calendar: WorkingCalendar,
) -> list[ComputedDeadline]:
    """Every deadline whose anchor event is known, in the order the timescale file lists them.

    ``partners_aware`` defaults to ``la_aware``: the partners are taken to have become aware
    when the LA did, unless a different date is recorded.
    """
    known: dict[Event, date] = dict(events)
    if Event.LA_AWARE in known:
        known.setdefault(Event.PARTNERS_AWARE, known[Event.LA_AWARE])
    result: list[ComputedDeadline] = []
    for timescale in timescales:
        anchor = known.get(timescale.counts_from)
        if anchor is None:
            continue
        result.append(
            ComputedDeadline(
                key=timescale.key,
                label=timescale.label,
                due=due_date(timescale, anchor, calendar),
                counts_from=timescale.counts_from,
                anchor_date=anchor,
                rule=timescale.describe_rule(),
                source=timescale.source.cite(),
                basis=timescale.basis.value,
            )
        )
    return result
