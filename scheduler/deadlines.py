"""Deadline rules: from the dates of known events to due dates, each with its source.

Pure functions over the working-day calendar and the timescale data. A timescale whose event
has not happened yet is simply not due yet: it appears once the event is known (a decision to
initiate a review brings the publication deadline, a planned publication date brings the
final-report deadline).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date

from scheduler.calendar import WorkingCalendar, add_calendar_months
from scheduler.timescales import (
    EVENT_DESCRIPTIONS,
    Event,
    Milestone,
    StepCondition,
    Timescale,
    Timescales,
)

# What a case that says nothing about itself runs: every step of a serious incident (a case
# opened with no criteria answers keeps the behaviour it always had).
DEFAULT_CONDITIONS = frozenset({StepCondition.SERIOUS_INCIDENT})


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
    # Things to know about this date (it falls in a closure; publication is planned late).
    warnings: tuple[str, ...] = ()
    # Counted from a stand-in (provisional_from) until the real anchor event is known.
    provisional: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "label": self.label,
            "due": self.due.isoformat(),
            "rule": self.rule,
            "source": self.source,
            "counts_from": self.counts_from.value,
            "from": self.anchor_date.isoformat(),
            "basis": self.basis,
            "warnings": list(self.warnings),
            "provisional": self.provisional,
        }


def closure_warning(due: date, calendar: WorkingCalendar) -> str | None:
    """A due date in a partnership closure stays where the law puts it; say so."""
    if not calendar.is_closed(due):
        return None
    return (
        f"due on {due:%a %d %b %Y}, a partnership closure day: closure days do not move a "
        "statutory date (only weekends and bank holidays count), so complete it before the closure"
    )


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
    conditions: Collection[StepCondition] | None = None,
) -> list[ComputedDeadline]:
    """Every deadline that runs on the case and whose anchor event is known, in the order the
    timescale file lists them.

    ``partners_aware`` defaults to ``la_aware``: the partners are taken to have become aware
    when the LA did, unless a different date is recorded. ``conditions`` are what holds of the
    case (DEFAULT_CONDITIONS when not given); a timescale runs only if all its ``runs_when``
    hold. ``late_publication`` is derived here: the planned publication date is later than the
    due date of the step met by publication.
    """
    known: dict[Event, date] = dict(events)
    if Event.LA_AWARE in known:
        known.setdefault(Event.PARTNERS_AWARE, known[Event.LA_AWARE])
    holding = set(DEFAULT_CONDITIONS if conditions is None else conditions)
    result: list[ComputedDeadline] = []
    dues: dict[str, date] = {}
    for timescale in timescales:
        late = _late_publication(known, dues, timescales)
        if late:
            holding.add(StepCondition.LATE_PUBLICATION)
        if not all(c in holding for c in timescale.runs_when):
            continue
        anchor = known.get(timescale.counts_from)
        provisional = False
        if anchor is None and timescale.provisional_from in dues:
            anchor, provisional = dues[timescale.provisional_from], True
        if anchor is None:
            continue
        due = due_date(timescale, anchor, calendar)
        dues[timescale.key] = due
        warnings = [w for w in (closure_warning(due, calendar),) if w]
        if provisional:
            warnings.append(
                f"provisional: counted from the {timescale.provisional_from.replace('_', ' ')} "
                f"date ({anchor:%a %d %b %Y}) until {EVENT_TEXT[timescale.counts_from]} is recorded"
            )
        if timescale.met_by is Milestone.PUBLISHED and Event.PLANNED_PUBLICATION in known:
            planned = known[Event.PLANNED_PUBLICATION]
            if planned > due:
                warnings.append(
                    f"planned publication {planned:%a %d %b %Y} is later than this date: tell "
                    "the Panel and the Secretary of State the reasons for the delay"
                )
        result.append(
            ComputedDeadline(
                key=timescale.key,
                label=timescale.label,
                due=due,
                counts_from=timescale.counts_from,
                anchor_date=anchor,
                rule=timescale.describe_rule()
                + (f" (provisionally: from the {timescale.provisional_from.replace('_', ' ')} date)"
                   if provisional else ""),
                source=timescale.source.cite(),
                basis=timescale.basis.value,
                warnings=tuple(warnings),
                provisional=provisional,
            )
        )
    return result


EVENT_TEXT = EVENT_DESCRIPTIONS


def _late_publication(
    known: Mapping[Event, date], dues: Mapping[str, date], timescales: Timescales
) -> bool:
    """The planned publication is later than the due date of the step publication meets."""
    planned = known.get(Event.PLANNED_PUBLICATION)
    if planned is None:
        return False
    for timescale in timescales:
        if timescale.met_by is Milestone.PUBLISHED and timescale.key in dues:
            return planned > dues[timescale.key]
    return False
