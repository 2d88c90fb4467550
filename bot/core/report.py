"""The yearly report's figures: timeliness of each statutory step over a reporting period.

Every safeguarding partnership publishes a yearly report, and regulation 14 of SI 2018/789 asks
the partners to monitor the time their reviews take (not in the seeds: shared/domain-facts.md
cites legislation.gov.uk; seed 000 lists "Safeguarding partner yearly reports" among the
expectations the joint note reiterates). The limits each figure is measured against are the
timescales' own, with their sources (config/timescales.toml, which quotes the seeds); nothing
here restates a limit.

Pure: the cases come in as plain values (store/report.py loads them), the working days are
counted on scheduler/calendar.py's statutory calendar (weekends and England bank holidays only:
a partnership's closure days never count against a statutory limit, as issue 10 settled), and
the renderers (handlers/report/) only lay the result out.

Counting rules, as of the report's end date (``period.end``):

- a case belongs to the period when the LA became aware in it; withdrawn cases (opened by
  mistake, duplicates) are counted apart and nowhere else;
- a step belongs to the period when it fell due in it (``due`` in the JSON); it is ``on_time``
  when completed on or before its due date, ``late`` when completed after it, and
  ``open_overdue`` when not completed by the end date. Completion after the end date is not
  known "as of" the end date, so such a step counts as open and overdue;
- steps marked not applicable (notification not required, a closed case's open steps) do not
  count; a withdrawn case's steps never do;
- working days taken run from the step's anchor (day 0) to its completion; for a step counted
  backwards from its anchor (the final report, 7 working days *before* publication) they are
  the working days it was sent ahead of the planned publication.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from scheduler.calendar import WorkingCalendar, add_calendar_months

# The steps the JSON contract reports (issue 15), in the order a reader meets them.
REPORTED_STEPS: tuple[str, ...] = (
    "panel_notification",
    "rapid_review",
    "lcspr_publication",
    "final_report_to_panel",
    "sos_ofsted_notification",
)
# Steps whose clock runs backwards from their anchor (``working_days_before``).
BACKWARD_RULES = frozenset({"working_days_before"})
# Bases that are another body's aim, not the partnership's duty: never late (lifecycle.py).
AWAITED_BASES = frozenset({"panel_aim"})
# The milestones that say why a step is late, for the step they explain.
DELAY_MILESTONES: dict[str, str] = {
    "rapid_review": "rapid_review_delay_notified",
    "lcspr_publication": "publication_delay_notified",
}
PANEL_RESPONSES = ("panel_responded", "panel_requested_information", "panel_decided_national_review",
                   "panel_agreed", "panel_disagreed")
NO_REASON = "no reason recorded"
REDACTED = "[child's details removed]"


class ReportPeriodError(ValueError):
    """A period that cannot be reported on; the message says why, in one line."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ReportPeriodError(
                f"the report's end date {self.end.isoformat()} is before its start date "
                f"{self.start.isoformat()}"
            )

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def as_json(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def default_period(today: date) -> Period:
    """The last complete reporting year, 1 April to 31 March (the DfE's reporting year for
    serious incident notifications, shared/domain-facts.md): on 31 March the year ending that
    day is not complete yet."""
    last_end_year = today.year if today >= date(today.year, 4, 1) else today.year - 1
    return Period(date(last_end_year - 1, 4, 1), date(last_end_year, 3, 31))


def period_from(start: date | None, end: date | None, today: date) -> Period:
    """The period the options ask for: both dates as given; one of them makes a year with it;
    neither gives the last complete reporting year."""
    if start is None and end is None:
        return default_period(today)
    if start is None:
        assert end is not None
        start = add_calendar_months(end + timedelta(days=1), -12)
    if end is None:
        end = add_calendar_months(start, 12) - timedelta(days=1)
    return Period(start, end)


@dataclass(frozen=True)
class Quarter:
    """A quarter of the reporting year (Q1 is April to June), clipped to the period."""

    label: str
    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def quarters(period: Period) -> list[Quarter]:
    """The reporting-year quarters the period touches, each clipped to it."""
    result: list[Quarter] = []
    first_month = ((period.start.month - 1) // 3) * 3 + 1
    cursor = date(period.start.year, first_month, 1)
    while cursor <= period.end:
        following = add_calendar_months(cursor, 3)
        number = {4: 1, 7: 2, 10: 3, 1: 4}[cursor.month]
        year = cursor.year if cursor.month >= 4 else cursor.year - 1
        label = f"Q{number} {year}-{(year + 1) % 100:02d}"
        result.append(Quarter(label, max(cursor, period.start),
                              min(following - timedelta(days=1), period.end)))
        cursor = following
    return result


@dataclass(frozen=True)
class ReportMilestone:
    kind: str
    on: date
    note: str | None = None


@dataclass(frozen=True)
class ReportStep:
    """One deadline of one case as stored (store/models.py DeadlineRow)."""

    key: str
    label: str
    due: date
    status: str
    counts_from: str
    anchor_on: date
    completed_on: date | None = None
    source: str = ""


@dataclass(frozen=True)
class ReportCase:
    """What the report needs of a case: never a child's details. ``private_terms`` are the
    child's recorded identifiers, used only to strip them from a recorded reason."""

    reference: str
    partnership: str
    status: str
    la_aware: date
    decision: str | None
    request_type: str | None
    milestones: tuple[ReportMilestone, ...] = ()
    steps: tuple[ReportStep, ...] = ()
    private_terms: tuple[str, ...] = field(default=(), repr=False)

    def milestone(self, kind: str) -> ReportMilestone | None:
        found = [m for m in self.milestones if m.kind == kind]
        return found[-1] if found else None

    def first_of(self, kinds: Iterable[str]) -> ReportMilestone | None:
        found = [m for m in self.milestones if m.kind in set(kinds)]
        return min(found, key=lambda m: m.on, default=None)


@dataclass(frozen=True)
class StepRule:
    """What the report needs of a timescale: its rule kind, limit and source."""

    key: str
    label: str
    kind: str
    amount: int
    basis: str
    source: str
    # The milestones that complete the step (met_by, then met_by_any): whose note says why.
    met_by: tuple[str, ...] = ()

    @property
    def backward(self) -> bool:
        return self.kind in BACKWARD_RULES

    def describe(self) -> str:
        unit = "calendar months" if self.kind == "calendar_months_after" else "working days"
        direction = "before" if self.backward else "after"
        return f"{self.amount} {unit} {direction}"


@dataclass(frozen=True)
class StepOutcome:
    """One step of one case, classified as of the end date."""

    reference: str
    key: str
    label: str
    due: date
    anchor_on: date
    counts_from: str
    completed_on: date | None
    outcome: str  # on_time | late | open_overdue | not_yet_due
    working_days: int | None  # taken (or sent ahead, for a backward rule), when completed
    working_days_late: int | None  # past the due date (completed late, or still open)
    reason: str | None  # for a late or overdue step: what was recorded, child's details removed


@dataclass(frozen=True)
class StepFigures:
    due: int = 0
    on_time: int = 0
    late: int = 0
    open_overdue: int = 0
    median_working_days: float | int | None = None
    working_days: tuple[int, ...] = ()
    working_days_late: tuple[int, ...] = ()

    def as_json(self) -> dict[str, object]:
        """Exactly the issue's contract keys."""
        return {
            "due": self.due,
            "on_time": self.on_time,
            "late": self.late,
            "open_overdue": self.open_overdue,
            "median_working_days": self.median_working_days,
        }


@dataclass(frozen=True)
class CaseFigures:
    considered: int = 0
    notified: int = 0
    not_required: int = 0
    learning_requests: int = 0
    withdrawn: int = 0

    def as_json(self) -> dict[str, int]:
        return {
            "considered": self.considered,
            "notified": self.notified,
            "not_required": self.not_required,
            "learning_requests": self.learning_requests,
            "withdrawn": self.withdrawn,
        }


@dataclass(frozen=True)
class Figures:
    """The figures for one span (a quarter, or the whole period)."""

    label: str
    start: date
    end: date
    cases: CaseFigures
    steps: dict[str, StepFigures]
    rapid_review_extensions: int
    panel_responses: int
    panel_responses_within_aim: int
    lcspr_commissioned: int
    lcspr_published: int
    lcspr_published_within_6_months: int
    final_reports_7_days_before: int
    national_reviews_recommended: int
    panel_national_reviews: int
    # The Panel's agreement with the partnership's decision (panel-agreed / panel-disagreed
    # milestones dated in the period); None when no response in the period records either.
    panel_agreed: int
    panel_disagreed: int
    open_not_yet_due: int
    open_overdue: int

    def extra_json(self) -> dict[str, object]:
        return {
            "rapid_review_extensions_notified": self.rapid_review_extensions,
            "panel_responses_received": self.panel_responses,
            "panel_responses_within_aim": self.panel_responses_within_aim,
            "panel_agreement": (
                {"agreed": self.panel_agreed, "not_agreed": self.panel_disagreed}
                if self.panel_agreed or self.panel_disagreed else None
            ),
            "lcspr_commissioned": self.lcspr_commissioned,
            "lcspr_published": self.lcspr_published,
            "lcspr_published_within_6_months": self.lcspr_published_within_6_months,
            "final_reports_7_working_days_before": self.final_reports_7_days_before,
            "national_reviews_recommended": self.national_reviews_recommended,
            "panel_decided_national_review": self.panel_national_reviews,
            "open_cases": {"not_yet_due": self.open_not_yet_due, "overdue": self.open_overdue},
        }


@dataclass(frozen=True)
class Report:
    period: Period
    partnership: str | None
    total: Figures
    by_quarter: tuple[Figures, ...]
    rules: dict[str, StepRule]
    outcomes: tuple[StepOutcome, ...]
    rapid_review_anchors: tuple[str, ...]

    def within(self, key: str) -> str:
        """How a reader says "on time" for ``key``, from the partnership's own rule: "within 5
        working days", "7 working days before", "within 6 calendar months"."""
        rule = self.rules.get(key)
        if rule is None:
            return "on time"
        if rule.backward:
            return f"{rule.amount} working days before"
        unit = "calendar months" if rule.kind == "calendar_months_after" else "working days"
        return f"within {rule.amount} {unit}"

    @property
    def late_steps(self) -> list[StepOutcome]:
        """Every late or overdue step, by case reference: what the report lists with reasons."""
        return sorted((o for o in self.outcomes if o.outcome in ("late", "open_overdue")),
                      key=lambda o: (o.reference, o.due, o.key))

    def as_json(self) -> dict[str, object]:
        """The issue's JSON contract (``period``, ``cases`` and one object per reported step,
        each with exactly its five keys), then the rest under keys of their own."""
        data: dict[str, object] = {
            "period": self.period.as_json(),
            "cases": self.total.cases.as_json(),
        }
        for key in REPORTED_STEPS:
            data[key] = self.total.steps[key].as_json()
        data["partnership"] = self.partnership
        data["other_figures"] = self.total.extra_json()
        data["quarters"] = [
            {
                "label": q.label,
                "from": q.start.isoformat(),
                "to": q.end.isoformat(),
                "cases": q.cases.as_json(),
                **{key: q.steps[key].as_json() for key in REPORTED_STEPS},
                "other_figures": q.extra_json(),
            }
            for q in self.by_quarter
        ]
        data["late_steps"] = [
            {
                "reference": o.reference,
                "step": o.key,
                "label": o.label,
                "due": o.due.isoformat(),
                "completed_on": o.completed_on.isoformat() if o.completed_on else None,
                "working_days_late": o.working_days_late,
                "reason": o.reason,
            }
            for o in self.late_steps
        ]
        data["limits"] = {
            key: {"rule": rule.describe(), "basis": rule.basis, "source": rule.source}
            for key, rule in self.rules.items()
            if key in REPORTED_STEPS or key == "panel_response"  # the Panel's aim, for its figure
        }
        data["rapid_review_counts_from"] = list(self.rapid_review_anchors)
        return data


def redact(text: str, terms: Sequence[str]) -> str:
    """``text`` without any of the child's recorded identifiers (name parts of three letters or
    more, date of birth, NHS number), case-insensitively: a reason typed by a person may name
    the child, and the report is published."""
    result = text
    for term in sorted({t for t in terms if len(t.strip()) >= 3}, key=len, reverse=True):
        lowered = result.lower()
        needle = term.strip().lower()
        pieces: list[str] = []
        cursor = 0
        while (found := lowered.find(needle, cursor)) >= 0:
            pieces.append(result[cursor:found])
            pieces.append(REDACTED)
            cursor = found + len(needle)
        pieces.append(result[cursor:])
        result = "".join(pieces)
    return result


def _median(values: Sequence[int]) -> float | int | None:
    if not values:
        return None
    middle = statistics.median(values)
    return int(middle) if float(middle).is_integer() else float(middle)


def _reason(case: ReportCase, step: ReportStep, completing: ReportMilestone | None) -> str:
    notes: list[str] = []
    delay = DELAY_MILESTONES.get(step.key)
    if delay and (told := case.milestone(delay)) is not None:
        notes.append(f"delay notified {told.on.isoformat()}" + (f": {told.note}" if told.note else ""))
    if completing is not None and completing.note:
        notes.append(completing.note)
    if not notes:
        return NO_REASON
    return redact("; ".join(notes), case.private_terms)


def classify(
    case: ReportCase, step: ReportStep, rule: StepRule | None, end: date, calendar: WorkingCalendar
) -> StepOutcome:
    """One step as of ``end``: on time, late, open and overdue, or not yet due."""
    completed = step.completed_on if step.completed_on is not None and step.completed_on <= end else None
    backward = rule.backward if rule is not None else False
    taken: int | None = None
    late_by: int | None = None
    if completed is not None:
        taken = (calendar.working_days_between(completed, step.anchor_on) if backward
                 else calendar.working_days_between(step.anchor_on, completed))
        outcome = "on_time" if completed <= step.due else "late"
        if outcome == "late":
            late_by = calendar.working_days_between(step.due, completed)
    elif step.due <= end:
        outcome = "open_overdue"
        late_by = calendar.working_days_between(step.due, end)
    else:
        outcome = "not_yet_due"
    reason = None
    if outcome in ("late", "open_overdue"):
        kinds = rule.met_by if rule is not None else ()
        completing = next((m for m in case.milestones if m.kind in kinds and m.on == completed), None)
        reason = _reason(case, step, completing)
    return StepOutcome(case.reference, step.key, step.label, step.due, step.anchor_on,
                       step.counts_from, completed, outcome, taken, late_by, reason)


def _step_figures(outcomes: Sequence[StepOutcome]) -> StepFigures:
    done = [o.working_days for o in outcomes if o.outcome in ("on_time", "late") and o.working_days is not None]
    return StepFigures(
        due=len(outcomes),
        on_time=sum(o.outcome == "on_time" for o in outcomes),
        late=sum(o.outcome == "late" for o in outcomes),
        open_overdue=sum(o.outcome == "open_overdue" for o in outcomes),
        median_working_days=_median(done),
        working_days=tuple(done),
        working_days_late=tuple(o.working_days_late for o in outcomes
                                if o.outcome == "late" and o.working_days_late is not None),
    )


def _case_figures(cases: Sequence[ReportCase], withdrawn: Sequence[ReportCase], end: date) -> CaseFigures:
    def has(case: ReportCase, kind: str) -> bool:
        m = case.milestone(kind)
        return m is not None and m.on <= end

    notified = {c.reference for c in cases if has(c, "panel_notified")}
    not_required = [
        c for c in cases
        if c.reference not in notified
        and (has(c, "notification_not_required") or c.decision == "not_required")
    ]
    return CaseFigures(
        considered=len(cases),
        notified=len(notified),
        not_required=len(not_required),
        learning_requests=sum(c.request_type == "learning_request" for c in cases),
        withdrawn=len(withdrawn),
    )


def _figures(
    label: str, start: date, end: date, report_end: date, cases: Sequence[ReportCase],
    outcomes: Sequence[StepOutcome], rules: dict[str, StepRule], calendar: WorkingCalendar,
) -> Figures:
    span = Period(start, end)
    live = [c for c in cases if c.status != "withdrawn"]
    considered = [c for c in live if c.la_aware in span]
    withdrawn = [c for c in cases if c.status == "withdrawn" and c.la_aware in span]
    due_here = [o for o in outcomes if o.due in span]
    by_key = {key: [o for o in due_here if o.key == key] for key in REPORTED_STEPS}

    def dated(kind: str) -> list[tuple[ReportCase, ReportMilestone]]:
        return [(c, m) for c in live for m in c.milestones
                if m.kind == kind and m.on in span and m.on <= report_end]

    rr_cases = {o.reference for o in by_key["rapid_review"]}
    extensions = sum(
        1 for c in live
        if c.reference in rr_cases and (m := c.milestone("rapid_review_delay_notified")) is not None
        and m.on <= report_end
    )
    responses = []
    for case in live:
        first = case.first_of(PANEL_RESPONSES)
        sent = case.milestone("rapid_review_sent")
        if first is not None and first.on in span and first.on <= report_end:
            responses.append((case, first, sent))
    aim = rules.get("panel_response")
    within_aim = sum(
        1 for _, first, sent in responses
        if sent is not None and aim is not None
        and calendar.working_days_between(sent.on, first.on) <= aim.amount
    )
    published = dated("published")
    by_ref = {o.reference: o for o in outcomes if o.key == "lcspr_publication"}
    finals = {o.reference: o for o in outcomes if o.key == "final_report_to_panel"}
    open_cases = [c for c in considered if c.status == "open"]
    overdue_refs = {o.reference for o in outcomes if o.outcome == "open_overdue"}
    return Figures(
        label=label, start=start, end=end,
        cases=_case_figures(considered, withdrawn, report_end),
        steps={key: _step_figures(items) for key, items in by_key.items()},
        rapid_review_extensions=extensions,
        panel_responses=len(responses),
        panel_responses_within_aim=within_aim,
        lcspr_commissioned=len(dated("decision_local_review")),
        lcspr_published=len(published),
        lcspr_published_within_6_months=sum(
            1 for c, m in published if c.reference in by_ref and m.on <= by_ref[c.reference].due
        ),
        final_reports_7_days_before=sum(
            1 for c, _ in published if c.reference in finals and finals[c.reference].outcome == "on_time"
        ),
        national_reviews_recommended=len(dated("decision_national_review")),
        panel_national_reviews=len(dated("panel_decided_national_review")),
        panel_agreed=len(dated("panel_agreed")),
        panel_disagreed=len(dated("panel_disagreed")),
        open_not_yet_due=sum(c.reference not in overdue_refs for c in open_cases),
        open_overdue=sum(c.reference in overdue_refs for c in open_cases),
    )


def compute_report(
    cases: Iterable[ReportCase],
    period: Period,
    rules: Iterable[StepRule],
    calendar: WorkingCalendar,
    partnership: str | None = None,
) -> Report:
    """Every figure of the yearly report for ``period``, by quarter and in total."""
    all_cases = list(cases)
    rule_map = {rule.key: rule for rule in rules}
    outcomes: list[StepOutcome] = []
    for case in all_cases:
        if case.status == "withdrawn":
            continue
        for step in case.steps:
            rule = rule_map.get(step.key)
            if step.status == "not_applicable" or (rule is not None and rule.basis in AWAITED_BASES):
                continue
            if step.due > period.end and step.completed_on is None:
                continue
            outcomes.append(classify(case, step, rule, period.end, calendar))
    in_period = [o for o in outcomes if o.due in period]
    anchors = tuple(sorted({o.counts_from for o in in_period if o.key == "rapid_review"}))
    total = _figures("Total", period.start, period.end, period.end, all_cases, in_period, rule_map, calendar)
    by_quarter = tuple(
        _figures(q.label, q.start, q.end, period.end, all_cases, in_period, rule_map, calendar)
        for q in quarters(period)
    )
    return Report(period, partnership, total, by_quarter, rule_map, tuple(in_period), anchors)
