"""The case lifecycle: which milestones may be recorded when, and which deadlines then apply.

Pure domain code. A case is its awareness date plus the milestones recorded against it; the
deadlines, and whether each is open, met, missed or no longer applicable, are derived from that
every time, so there is one way to get them and no stored state to drift. The store persists the
derived rows for queries and reminders; it never decides them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from bot.core.dates import DateError, check_date_range
from scheduler.calendar import WorkingCalendar
from scheduler.deadlines import ComputedDeadline, compute_deadlines
from scheduler.timescales import (
    AWAITED_BASES,
    Event,
    Milestone,
    StepCondition,
    Timescales,
)

# The criteria decision that rules a serious incident notification out, and the request type
# that is not one (bot/core/criteria.py and bot/core/referral.py name them).
DECISION_NOT_REQUIRED = "not_required"
DECISION_NOTIFY = "notify"
LEARNING_REQUEST = "learning_request"
SOS_OFSTED_BODIES = frozenset({"secretary_of_state", "ofsted"})

# The day the Children Act 2004 s16C duty to notify the Panel came into force.
EARLIEST_AWARENESS = date(2018, 6, 29)


class LifecycleError(ValueError):
    """A request that would make the case record wrong; the message says why, in one line."""


class DeadlineStatus(StrEnum):
    OPEN = "open"
    MET = "met"
    MISSED = "missed"
    NOT_APPLICABLE = "not_applicable"
    # Another body's aim (the Panel's response), not the partnership's duty: never missed.
    AWAITED = "awaited"


@dataclass(frozen=True)
class MilestoneRule:
    """What a milestone means and what must already be true to record it."""

    label: str
    sets_event: Event | None = None
    requires: tuple[Milestone, ...] = ()
    not_before: tuple[Milestone, ...] = ()
    excludes: tuple[Milestone, ...] = ()
    repeatable: bool = False
    future_allowed: bool = False
    not_before_aware: bool = True


M = Milestone
MILESTONE_RULES: dict[Milestone, MilestoneRule] = {
    M.PARTNERS_AWARE: MilestoneRule(
        "Safeguarding partners became aware",
        sets_event=Event.PARTNERS_AWARE,
        repeatable=True,
        not_before_aware=False,
        excludes=(M.RAPID_REVIEW_SENT,),
    ),
    M.PANEL_NOTIFIED: MilestoneRule(
        "Serious incident notification sent to the Panel",
        sets_event=Event.PANEL_NOTIFIED,
        excludes=(M.NOTIFICATION_NOT_REQUIRED,),
    ),
    M.PARTNERS_NOTIFIED: MilestoneRule("Incident reported to the safeguarding partners"),
    M.NOTIFICATION_NOT_REQUIRED: MilestoneRule(
        "Decided the incident does not meet the notification criteria",
        excludes=(M.PANEL_NOTIFIED, M.RAPID_REVIEW_SENT),
    ),
    M.RAPID_REVIEW_SENT: MilestoneRule(
        "Rapid review sent to the Panel",
        sets_event=Event.RAPID_REVIEW_SENT,
        requires=(M.PANEL_NOTIFIED,),
        not_before=(M.PANEL_NOTIFIED,),
        excludes=(M.NOTIFICATION_NOT_REQUIRED,),
    ),
    M.PANEL_RESPONDED: MilestoneRule(
        "Panel responded to the rapid review",
        requires=(M.RAPID_REVIEW_SENT,),
        not_before=(M.RAPID_REVIEW_SENT,),
    ),
    M.DECISION_LOCAL_REVIEW: MilestoneRule(
        "Decision to initiate a local child safeguarding practice review",
        sets_event=Event.DECISION_TO_INITIATE,
        excludes=(M.DECISION_NO_REVIEW,),
    ),
    M.DECISION_NO_REVIEW: MilestoneRule(
        "Decision not to undertake a local review",
        excludes=(M.DECISION_LOCAL_REVIEW,),
    ),
    M.DECISION_NATIONAL_REVIEW: MilestoneRule("National review recommended to the Panel"),
    M.PUBLICATION_PLANNED: MilestoneRule(
        "Publication date planned",
        sets_event=Event.PLANNED_PUBLICATION,
        requires=(M.DECISION_LOCAL_REVIEW,),
        not_before=(M.DECISION_LOCAL_REVIEW,),
        excludes=(M.PUBLISHED,),
        repeatable=True,
        future_allowed=True,
    ),
    M.FINAL_REPORT_SENT: MilestoneRule(
        "Final report sent to the Panel, the Secretary of State and Ofsted",
        requires=(M.DECISION_LOCAL_REVIEW,),
        not_before=(M.DECISION_LOCAL_REVIEW,),
    ),
    M.PUBLISHED: MilestoneRule(
        "Local review report published",
        requires=(M.DECISION_LOCAL_REVIEW, M.FINAL_REPORT_SENT),
        not_before=(M.DECISION_LOCAL_REVIEW, M.FINAL_REPORT_SENT),
    ),
    M.SOS_OFSTED_NOTIFIED: MilestoneRule("Secretary of State and Ofsted notified"),
    M.RAPID_REVIEW_DELAY_NOTIFIED: MilestoneRule(
        "Panel Secretariat told the rapid review cannot be completed in 15 working days",
        excludes=(M.RAPID_REVIEW_SENT, M.NOTIFICATION_NOT_REQUIRED),
    ),
    M.PANEL_REQUESTED_INFORMATION: MilestoneRule(
        "Panel asked for more information",
        requires=(M.RAPID_REVIEW_SENT,),
        not_before=(M.RAPID_REVIEW_SENT,),
        repeatable=True,
    ),
    M.PANEL_INFORMATION_SENT: MilestoneRule(
        "Further information sent to the Panel",
        requires=(M.PANEL_REQUESTED_INFORMATION,),
        not_before=(M.PANEL_REQUESTED_INFORMATION,),
        repeatable=True,
    ),
    M.PANEL_DECIDED_NATIONAL_REVIEW: MilestoneRule(
        "Panel decided to hold a national review",
        requires=(M.RAPID_REVIEW_SENT,),
        not_before=(M.RAPID_REVIEW_SENT,),
    ),
    M.LCSPR_COMMISSION_NOTIFIED: MilestoneRule(
        "Panel, Ofsted and DfE told of the local review and its reviewer",
        requires=(M.DECISION_LOCAL_REVIEW,),
        not_before=(M.DECISION_LOCAL_REVIEW,),
    ),
    M.PUBLICATION_DELAY_NOTIFIED: MilestoneRule(
        "Panel and Secretary of State told the reasons for a publication delay",
        requires=(M.DECISION_LOCAL_REVIEW,),
        not_before=(M.DECISION_LOCAL_REVIEW,),
    ),
    M.LEARNING_REQUEST_DECIDED: MilestoneRule("Partnership decided on the learning request"),
    M.PANEL_AGREED: MilestoneRule(
        "Panel responded, agreeing with the partnership's decision",
        requires=(M.RAPID_REVIEW_SENT,),
        not_before=(M.RAPID_REVIEW_SENT,),
        excludes=(M.PANEL_DISAGREED,),
    ),
    M.PANEL_DISAGREED: MilestoneRule(
        "Panel responded, not agreeing with the partnership's decision",
        requires=(M.RAPID_REVIEW_SENT,),
        not_before=(M.RAPID_REVIEW_SENT,),
        excludes=(M.PANEL_AGREED,),
    ),
}

# Milestones that do not meet a deadline but must be shown on one: (the milestone that meets
# the deadline to annotate, the note). The original due date stays as it was.
DEADLINE_NOTES: dict[Milestone, tuple[Milestone, str]] = {
    M.RAPID_REVIEW_DELAY_NOTIFIED: (
        M.RAPID_REVIEW_SENT,
        (
            "the Panel Secretariat was told on {on} that the rapid review cannot be completed "
        "within 15 working days; the original due date stands (BSCP notification and rapid "
        "review process, Oct 2024, timeline 'Day 15': 'If there are extenuating reasons why the "
        "rapid review cannot be completed within 15 working days, please notify the Secretariat')"
        ),
    ),
}


def parse_milestone(name: str) -> Milestone:
    """Accept ``panel-notified``, ``panel_notified`` or ``Panel Notified``; refuse anything else."""
    normalised = name.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return Milestone(normalised)
    except ValueError:
        known = ", ".join(m.value.replace("_", "-") for m in Milestone)
        raise LifecycleError(f"unknown milestone {name!r}; expected one of: {known}") from None


@dataclass(frozen=True)
class RecordedMilestone:
    kind: Milestone
    on: date


@dataclass(frozen=True)
class CaseFacts:
    """Everything the deadlines depend on: when the LA became aware, and what has happened."""

    la_aware: date
    milestones: tuple[RecordedMilestone, ...] = field(default_factory=tuple)
    # The case's criteria decision (notify / not_required / discuss / incomplete) and the other
    # bodies the evaluation says to notify, as bot/core/criteria.py gave them; None and () for
    # a case opened with no answers.
    decision: str | None = None
    also_notify: tuple[str, ...] = ()
    request_type: str | None = None

    def conditions(self) -> frozenset[StepCondition]:
        """Which steps' ``runs_when`` hold for this case (late publication is derived with the
        deadlines). ``discuss`` and ``incomplete`` keep the serious-incident steps: the decision
        is still open."""
        holding: set[StepCondition] = set()
        if self.decision == DECISION_NOTIFY or (
            self.decision != DECISION_NOT_REQUIRED and self.request_type != LEARNING_REQUEST
        ):
            holding.add(StepCondition.SERIOUS_INCIDENT)
        elif self.request_type == LEARNING_REQUEST:
            holding.add(StepCondition.LEARNING_REQUEST)
        if SOS_OFSTED_BODIES & set(self.also_notify):
            holding.add(StepCondition.SOS_OFSTED)
        return frozenset(holding)

    def latest(self, kind: Milestone) -> RecordedMilestone | None:
        """The most recent record of ``kind`` (a repeatable milestone's latest date wins)."""
        found = [m for m in self.milestones if m.kind == kind]
        return found[-1] if found else None

    def latest_dates(self) -> dict[Milestone, date]:
        """Each recorded milestone's latest date."""
        return {m.kind: m.on for m in self.milestones}

    def has(self, kind: Milestone) -> bool:
        return any(m.kind == kind for m in self.milestones)

    def events(self) -> dict[Event, date]:
        known: dict[Event, date] = {Event.LA_AWARE: self.la_aware}
        for milestone in self.milestones:
            event = MILESTONE_RULES[milestone.kind].sets_event
            if event is not None:
                known[event] = milestone.on
        return known


@dataclass(frozen=True)
class DeadlineState:
    deadline: ComputedDeadline
    status: DeadlineStatus
    completed_on: date | None = None

    def overdue_on(self, today: date) -> bool:
        return self.status is DeadlineStatus.OPEN and self.deadline.due < today


def future_warning(what: str, on: date, today: date | None) -> str | None:
    """A dated event in the future is suspicious but not impossible (a case keyed in ahead of
    a known date, a clock on the wrong day), so it is flagged, not refused."""
    if today is not None and on > today:
        return f"{what} date {on.isoformat()} is in the future (today is {today.isoformat()})"
    return None


def _in_range(day: date, what: str) -> None:
    """Every adapter's dates within bot.core.dates' range (the CLI's are already, via parse_date;
    a Slack date picker's are not), so no deadline arithmetic can overflow."""
    try:
        check_date_range(day, what)
    except DateError as exc:
        raise LifecycleError(str(exc)) from None


def check_awareness(la_aware: date, incident: date | None = None) -> None:
    """Refuse an awareness date that cannot be right."""
    _in_range(la_aware, "awareness date")
    if incident is not None:
        _in_range(incident, "incident date")
    if la_aware < EARLIEST_AWARENESS:
        raise LifecycleError(
            f"awareness date {la_aware.isoformat()} is before the notification duty began "
            f"({EARLIEST_AWARENESS.isoformat()})"
        )
    if incident is not None and incident > la_aware:
        raise LifecycleError(
            f"incident date {incident.isoformat()} is after the date the LA became aware "
            f"({la_aware.isoformat()})"
        )


def check_milestone(facts: CaseFacts, kind: Milestone, on: date) -> None:
    """Raise LifecycleError if ``kind`` on ``on`` is out of order or impossible for this case."""
    rule = MILESTONE_RULES[kind]
    name = kind.value.replace("_", "-")
    _in_range(on, f"{name} date")
    if not rule.repeatable and facts.has(kind):
        previous = facts.latest(kind)
        assert previous is not None
        raise LifecycleError(f"{name} is already recorded (on {previous.on.isoformat()})")
    for excluded in rule.excludes:
        if facts.has(excluded):
            raise LifecycleError(
                f"cannot record {name}: {excluded.value.replace('_', '-')} is already recorded"
            )
    for required in rule.requires:
        if not facts.has(required):
            raise LifecycleError(
                f"cannot record {name} before {required.value.replace('_', '-')} is recorded"
            )
    problems = out_of_order(kind, on, facts.la_aware, facts.latest_dates())
    if problems:
        # Awareness first: it is the date every other one counts from.
        earlier, earlier_on = next((p for p in problems if p[0] is None), problems[0])
        if earlier is None:
            raise LifecycleError(
                f"{name} date {on.isoformat()} is before the LA became aware "
                f"({earlier_on.isoformat()})"
            )
        raise LifecycleError(
            f"{name} date {on.isoformat()} is before {earlier.value.replace('_', '-')} "
            f"({earlier_on.isoformat()})"
        )


def out_of_order(
    kind: Milestone, on: date, la_aware: date, earlier: Mapping[Milestone, date]
) -> list[tuple[Milestone | None, date]]:
    """The dates ``kind`` on ``on`` may not precede but does: (milestone, its date) for each
    milestone it must follow, then (None, la_aware) if it may not precede awareness.

    The one ordering rule, used by recording (check_milestone) and by the ``deadlines``
    calculator, which has dates but no case.
    """
    rule = MILESTONE_RULES[kind]
    problems: list[tuple[Milestone | None, date]] = []
    for before in rule.not_before:
        previous = earlier.get(before)
        if previous is not None and on < previous:
            problems.append((before, previous))
    if rule.not_before_aware and on < la_aware:
        problems.append((None, la_aware))
    return problems


def milestone_warnings(kind: Milestone, on: date, today: date | None) -> tuple[str, ...]:
    """What to tell whoever records ``kind`` on ``on`` (accepted, but worth a second look):
    a date in the future, except for a milestone that is planned (publication-planned)."""
    if MILESTONE_RULES[kind].future_allowed:
        return ()
    warning = future_warning(kind.value.replace("_", "-"), on, today)
    return (warning,) if warning else ()


def awareness_warnings(la_aware: date, today: date | None) -> tuple[str, ...]:
    """What to tell whoever opens a case aware on ``la_aware``: a date in the future."""
    warning = future_warning("awareness", la_aware, today)
    return (warning,) if warning else ()


def record(facts: CaseFacts, kind: Milestone, on: date) -> CaseFacts:
    """The case after recording ``kind`` on ``on``, or LifecycleError."""
    check_milestone(facts, kind, on)
    return replace(facts, milestones=facts.milestones + (RecordedMilestone(kind, on),))


def derive_deadlines(
    facts: CaseFacts, timescales: Timescales, calendar: WorkingCalendar
) -> list[DeadlineState]:
    """Every deadline that applies to the case now, with its status.

    A deadline on an awaited basis (the Panel's aim) is ``awaited`` until met and ``met``
    whenever it is met: it is never the partnership's to miss.
    """
    states: list[DeadlineState] = []
    for deadline in compute_deadlines(facts.events(), timescales, calendar, facts.conditions()):
        timescale = timescales.get(deadline.key)
        notes = [
            DEADLINE_NOTES[m.kind][1].format(on=m.on.isoformat())
            for m in facts.milestones
            if m.kind in DEADLINE_NOTES and DEADLINE_NOTES[m.kind][0] is timescale.met_by
        ]
        if notes:
            deadline = replace(deadline, warnings=deadline.warnings + tuple(notes))
        met = [facts.latest(k) for k in (timescale.met_by, *timescale.met_by_any)]
        done = min((m for m in met if m is not None), key=lambda m: m.on, default=None)
        awaited = timescale.basis in AWAITED_BASES
        if done is not None:
            on_time = awaited or done.on <= deadline.due
            status = DeadlineStatus.MET if on_time else DeadlineStatus.MISSED
            states.append(DeadlineState(deadline, status, done.on))
        elif any(facts.has(kind) for kind in timescale.not_applicable_when):
            states.append(DeadlineState(deadline, DeadlineStatus.NOT_APPLICABLE))
        elif awaited:
            states.append(DeadlineState(deadline, DeadlineStatus.AWAITED))
        else:
            states.append(DeadlineState(deadline, DeadlineStatus.OPEN))
    return states


def next_open_deadline(states: Iterable[DeadlineState]) -> DeadlineState | None:
    """The open deadline that falls first: what a notice or App Home shows."""
    open_states = [s for s in states if s.status is DeadlineStatus.OPEN]
    return min(open_states, key=lambda s: s.deadline.due, default=None)


def result_deadlines(
    decision: str,
    also_notify: Iterable[str],
    aware: date,
    timescales: Timescales,
    calendar: WorkingCalendar,
) -> list[ComputedDeadline]:
    """The deadlines a criteria result starts, from the LA's awareness: the steps a case opened
    with those answers runs (the same conditions as CaseFacts), shown by every adapter beside
    the result. ``notify`` runs the Panel, partners and rapid-review steps; a looked-after
    child's or care leaver's death adds (or, not notified, is alone) the Secretary of State and
    Ofsted step; a result still open (discuss, incomplete) starts nothing yet."""
    bodies = tuple(also_notify)
    if decision != DECISION_NOTIFY and not SOS_OFSTED_BODIES & set(bodies):
        return []
    facts = CaseFacts(la_aware=aware, decision=decision, also_notify=bodies)
    return compute_deadlines(facts.events(), timescales, calendar, facts.conditions())

