"""Case service: opening cases and recording milestones, atomically and with an audit trail.

This is where the pure lifecycle meets the store. Every change runs in one transaction: the
case (locked against concurrent edits), its milestones, its re-derived deadlines and the audit
entry commit together. Adapters (CLI, Slack, mail) call this and nothing below it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.core.criteria import CriteriaTree
from bot.core.closing import CaseStatus, closes_itself, open_steps, with_status
from bot.core.corrections import (
    Entry,
    amended,
    check_reason,
    correction_warnings,
    find,
    replay,
    without,
)
from bot.core.lifecycle import (
    MILESTONE_RULES,
    CaseFacts,
    DeadlineState,
    DeadlineStatus,
    LifecycleError,
    RecordedMilestone,
    awareness_warnings,
    check_awareness,
    derive_deadlines,
    milestone_warnings,
    next_open_deadline,
    parse_milestone,
    record,
)
from bot.core.owners import InvalidOwner, check_owner
from bot.core.rapid_review import RapidReviewError, check_sent
from bot.core.text import fmt_day, initials
from bot.routing import Router
from bot.settings import PartnershipSettings, Settings, SettingsError
from scheduler.calendar import WorkingCalendar, today_in_london
from scheduler.reminders import ReminderPolicy, plan_deadline
from scheduler.timescales import Milestone, Timescales
from store import case_subjects as subject_repo
from store import cases as repo
from store import outbox as outbox_repo
from store import rapid_review as rapid_repo
from store import reminders as reminder_repo
from store.db import session_scope
from store.models import Case, MilestoneRow


class CaseNotFound(LookupError):
    pass


class StepClosed(LifecycleError):
    """The step is no longer open (met, missed or not applicable): nothing left to record."""

    def __init__(self, message: str, reference: str, step_label: str, completed_on: date | None) -> None:
        super().__init__(message)
        self.reference, self.step_label, self.completed_on = reference, step_label, completed_on


@dataclass(frozen=True)
class RecordPlan:
    """What recording one step as done will do: record ``milestone`` on the case."""

    reference: str
    deadline_key: str
    step_label: str
    due: date
    milestone: Milestone

    @property
    def milestone_label(self) -> str:
        return MILESTONE_RULES[self.milestone].label


# Partnership scoping (issue 16): the one rule, asked by every Slack and Teams entry point that
# takes a case reference (the CLI is the server operator's tool and is not scoped).
OUT_OF_SCOPE = (
    "That case belongs to another partnership, or there is no such case: you can see and act on "
    "your own partnerships' cases only."
)


class CaseOutOfScope(CaseNotFound):
    """Refused by partnership scoping. The same words whether the case exists or not, so a
    refusal tells nothing of another partnership's case; nothing is audited."""

    def __init__(self) -> None:
        super().__init__(OUT_OF_SCOPE)


def _identities(identity: str | Sequence[str] | None) -> set[str]:
    if identity is None:
        return set()
    items = [identity] if isinstance(identity, str) else list(identity)
    return {str(i).strip().lower() for i in items if i and str(i).strip()}


def may_act(partnership: PartnershipSettings, identity: str | Sequence[str] | None, *,
            installation_officer: bool) -> bool:
    """May ``identity`` (a Slack user id, a Teams Entra object id or an e-mail; several forms
    of one person may be given) act on a case of ``partnership``?

    When the partnership lists ``case_officers``, exactly those may (compared case-blind).
    When it lists none, the installation-wide officer lists apply: ``installation_officer`` is
    the adapter's own officer check (SAFEGUARD_SLACK_/TEAMS_CASE_OFFICERS) for this identity.
    """
    listed = _identities(partnership.case_officers)
    if listed:
        return bool(listed & _identities(identity))
    return installation_officer


def lists_officer(settings: Any, identity: str | Sequence[str] | None) -> bool:
    """Is ``identity`` named in some partnership's ``case_officers``? (Such a person is a case
    officer for the adapters' officer gate, though not in the installation-wide list.)"""
    wanted = _identities(identity)
    return any(wanted & _identities(p.case_officers) for p in settings.partnerships)


# How the closing rule marks a case it closed (so a correction that undoes the end reopens it,
# while a case a person closed stays closed).
_AUTO_CLOSED = "end reached: "
_STATUS_AUDITS = "safeguard_status_audits"  # Session.info key: see CaseService._set_status


def _require_open(case: Case, doing: str) -> None:
    """Milestones are recorded on open cases only: a closed or withdrawn one is reopened first."""
    if case.status != CaseStatus.OPEN:
        raise LifecycleError(
            f"{case.reference} is {case.status}: cannot {doing} it (reopen it first: case reopen)"
        )


class UnknownPartnership(LifecycleError):
    """A case cannot be opened for a partnership that is not configured; the one line names
    the partnerships that are."""


@dataclass(frozen=True)
class MilestoneView:
    kind: str
    on: date
    recorded_by: str
    note: str | None
    # A milestone recorded in error stays in the record, voided (it counts for nothing).
    voided: bool = False
    void_reason: str | None = None
    # The date first recorded, when the date was amended.
    amended_from: date | None = None

    @property
    def key(self) -> str:
        """The milestone as the command line takes it (``panel-notified``)."""
        return self.kind.replace("_", "-")

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "milestone": self.kind,
            "on": self.on.isoformat(),
            "recorded_by": self.recorded_by,
            "note": self.note,
            "voided": self.voided,
            "void_reason": self.void_reason,
            "amended_from": self.amended_from.isoformat() if self.amended_from else None,
        }


@dataclass(frozen=True)
class CaseView:
    """A case as every adapter shows it. ``summary`` is free text and may hold PII: adapters
    that post to shared channels must not include it."""

    reference: str
    partnership: str
    status: str
    la_aware: date
    incident_date: date | None
    summary: str | None
    request_type: str | None
    owner: str | None
    opened_by: str
    opened_at: datetime
    milestones: tuple[MilestoneView, ...]
    deadlines: tuple[DeadlineState, ...]
    # Things the person who made this change should be told (not part of the case record, not
    # in as_json): e.g. an owner whose reminders cannot reach them where expected.
    warnings: tuple[str, ...] = ()
    # The criteria answers the case was opened or assessed with, the core's decision and the
    # other bodies to notify (empty / None when it has none), and the notifying LA.
    answers: Mapping[str, str] = dataclass_field(default_factory=dict)
    decision: str | None = None
    also_notify: tuple[str, ...] = ()
    local_authority: str | None = None
    # Why the status last changed (closed, withdrawn, reopened), and when.
    status_reason: str | None = None
    status_changed_at: datetime | None = None
    # The children the case is about, as initials only (see CaseService.details for more).
    children: tuple[str, ...] = ()
    # Where the case came from: the referral's type and how it arrived (no child details).
    referral: dict[str, Any] | None = None

    @property
    def next_deadline(self) -> DeadlineState | None:
        return next_open_deadline(self.deadlines)

    def as_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "partnership": self.partnership,
            "status": self.status,
            "la_aware": self.la_aware.isoformat(),
            "incident_date": self.incident_date.isoformat() if self.incident_date else None,
            "summary": self.summary,
            "request_type": self.request_type,
            "owner": self.owner,
            "opened_by": self.opened_by,
            "opened_at": self.opened_at.isoformat(),
            "milestones": [m.as_json() for m in self.milestones],
            "deadlines": [deadline_json(d) for d in self.deadlines],
            "answers": dict(self.answers),
            "decision": self.decision,
            "also_notify": list(self.also_notify),
            "local_authority": self.local_authority,
            "status_reason": self.status_reason,
            "status_changed_at": self.status_changed_at.isoformat() if self.status_changed_at else None,
            "children": list(self.children),
            "referral": self.referral,
        }


def deadline_json(state: DeadlineState) -> dict[str, Any]:
    data: dict[str, Any] = state.deadline.as_json()
    data["status"] = state.status.value
    data["completed_on"] = state.completed_on.isoformat() if state.completed_on else None
    return data


def _facts(case: Case, milestones: list[MilestoneRow]) -> CaseFacts:
    return CaseFacts(
        la_aware=case.la_aware_on,
        milestones=tuple(
            RecordedMilestone(Milestone(m.kind), m.occurred_on)
            for m in milestones
            if m.voided_at is None  # recorded in error: counts for nothing
        ),
        decision=case.decision,
        also_notify=tuple(case.also_notify or ()),
        request_type=case.request_type,
    )


@dataclass(frozen=True)
class Assessment:
    """A case's criteria answers and what the core (bot/core/criteria.py) made of them."""

    answers: dict[str, str]
    decision: str
    also_notify: tuple[str, ...]


def _to_data(states: list[DeadlineState]) -> list[repo.DeadlineData]:
    return [
        repo.DeadlineData(
            key=s.deadline.key,
            label=s.deadline.label,
            due=s.deadline.due,
            status=s.status.value,
            counts_from=s.deadline.counts_from.value,
            anchor_on=s.deadline.anchor_date,
            rule=s.deadline.rule,
            source=s.deadline.source,
            completed_on=s.completed_on,
        )
        for s in states
    ]


def _iso_or_none(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _aware_utc(moment: datetime) -> datetime:
    """SQLite hands back naive timestamps; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class CaseService:
    """Open cases, record milestones, read them back; one transaction per call."""

    def __init__(
        self, engine: Engine, settings: Settings, *, today: Callable[[], date] | None = None
    ) -> None:
        self.engine = engine
        self.settings = settings
        # The day "in the future" is measured from (Europe/London); injectable for tests.
        self.today: Callable[[], date] = today or today_in_london
        self._rules: dict[str, tuple[Timescales, WorkingCalendar]] = {}
        self._policy: ReminderPolicy | None = None
        self._criteria: CriteriaTree | None = None

    @property
    def policy(self) -> ReminderPolicy:
        if self._policy is None:
            self._policy = self.settings.reminder_policy()
        return self._policy

    def _sync_reminders(
        self,
        session: Session,
        case_id: int,
        states: list[DeadlineState],
        calendar: WorkingCalendar,
        changed: list[str],
    ) -> None:
        """Plan reminders for open and awaited deadlines; cancel them for met or inapplicable
        ones, and for steps that no longer run on the case (retired)."""
        dues = {s.deadline.key: s.deadline.due for s in states}
        plan = {
            s.deadline.key: (
                [
                    (p.occasion.value, p.send_on, p.send_at)
                    for p in plan_deadline(
                        s.deadline.key, s.deadline.due, self.policy, calendar, dues
                    )
                ]
                if s.status in (DeadlineStatus.OPEN, DeadlineStatus.AWAITED)
                else []
            )
            for s in states
        }
        retired = repo.retire_deadlines(session, case_id, set(plan))
        retired += [key for key in changed if key not in plan]  # retired by the caller (_replan)
        plan.update({key: [] for key in retired})
        reminder_repo.sync_plan(session, case_id, plan, changed + retired)

    def rules_for(self, partnership: PartnershipSettings) -> tuple[Timescales, WorkingCalendar]:
        """The partnership's timescales and calendar (validated once, then cached)."""
        if partnership.key not in self._rules:
            self._rules[partnership.key] = (
                self.settings.timescales_for(partnership),
                self.settings.calendar_for(partnership),
            )
        return self._rules[partnership.key]

    # Partnerships: the one fallback ------------------------------------------------------------

    def partnership_to_open(self, key: str | None) -> PartnershipSettings:
        """The partnership a new case is opened for (the first configured when ``key`` is None).

        An unknown key is refused (UnknownPartnership, one line listing the configured keys):
        a new case must run on rules somebody configured for it.
        """
        if key is None:
            return self.settings.partnership()
        for partnership in self.settings.partnerships:
            if partnership.key == key:
                return partnership
        known = ", ".join(p.key for p in self.settings.partnerships)
        raise UnknownPartnership(f"unknown partnership {key!r}; configured: {known}")

    def partnership_of_case(self, key: str) -> tuple[PartnershipSettings, str | None]:
        """The settings an existing case runs on, and a warning when they are not its own.

        A case whose partnership is no longer configured keeps running (its deadlines are
        statutory) on the default rules: the national timescales and the installation's
        closure days. The warning says so to whoever changes the case.
        """
        for partnership in self.settings.partnerships:
            if partnership.key == key:
                return partnership, None
        return PartnershipSettings(key=key), (
            f"partnership {key!r} is no longer configured: this case runs on the default rules"
        )

    def _partnership_settings(self, key: str) -> PartnershipSettings:
        return self.partnership_of_case(key)[0]

    def milestone_meeting(self, partnership_key: str, deadline_key: str) -> Milestone:
        """The milestone that meets ``deadline_key`` on a case of this partnership (a partnership
        may edit its timescales, so this is the case's own rule)."""
        timescales, _ = self.rules_for(self._partnership_settings(partnership_key))
        return timescales.get(deadline_key).met_by

    def plan_step(self, reference: str, deadline_key: str) -> RecordPlan:
        """Which milestone meets this step, checked against the case as it is now: what a
        reminder's "Record as done" (Slack, Teams) offers to record. The ``met_by`` milestone
        is the case's own partnership's (a partnership may edit its timescales). StepClosed if
        the step is not (or no longer) open, so a second click on an old reminder says so
        instead of offering to record it twice; LifecycleError for a step the case lacks."""
        case = self.get(reference)
        state = next((s for s in case.deadlines if s.deadline.key == deadline_key), None)
        if state is None:
            raise LifecycleError(f"{case.reference} has no step {deadline_key!r}")
        if state.status is not DeadlineStatus.OPEN:
            done = f" on {fmt_day(state.completed_on)}" if state.completed_on else ""
            what = "no longer applies" if state.status is DeadlineStatus.NOT_APPLICABLE else f"was done{done}"
            raise StepClosed(
                f"{case.reference}: {state.deadline.label} {what}; nothing to record.",
                case.reference, state.deadline.label, state.completed_on,
            )
        return RecordPlan(
            reference=case.reference,
            deadline_key=deadline_key,
            step_label=state.deadline.label,
            due=state.deadline.due,
            milestone=self.milestone_meeting(case.partnership, deadline_key),
        )

    def assessment(self, answers: Mapping[str, str]) -> Assessment:
        """The notification flow's decision for ``answers`` (CriteriaAnswerError, one line, for
        an unknown key or value: the same check as ``safeguard-bot criteria``)."""
        if self._criteria is None:
            self._criteria = self.settings.criteria()
        evaluation = self._criteria.flow("notification").evaluate(dict(answers))
        return Assessment(
            dict(evaluation.answers), evaluation.decision, tuple(evaluation.also_notify)
        )

    def _local_authority(
        self,
        partnership: PartnershipSettings,
        name: str | None,
        details: Mapping[str, Any] | None = None,
    ) -> str | None:
        """The case's notifying LA: the one named (validated against the partnership's list),
        else the one the referral names if it is on the list, else the partnership's only one."""
        if name is not None:
            return partnership.local_authority(name)
        named = (details or {}).get("local_authority")
        if isinstance(named, str) and named.strip():
            try:
                return partnership.local_authority(named)
            except SettingsError:
                pass
        if len(partnership.local_authorities) == 1:
            return partnership.local_authorities[0]
        return None

    def open_case(
        self,
        *,
        la_aware: date,
        actor: str,
        summary: str | None = None,
        incident_date: date | None = None,
        request_type: str | None = None,
        partnership_key: str | None = None,
        owner: str | None = None,
        details: dict[str, Any] | None = None,
        session: Session | None = None,
        submission_id: str | None = None,
        answers: Mapping[str, str] | None = None,
        local_authority: str | None = None,
    ) -> CaseView:
        """Open a case with its deadlines and reminders, in one transaction.

        With ``session`` the work joins the caller's transaction (the caller commits), so an
        adapter can write its own rows with the case: the mail intake's ledger entry and the
        acknowledgement in the outbox commit together with the case or not at all.
        ``submission_id`` is stored with the case under a unique index (see open_case_once).
        ``answers`` (the criteria keys) are evaluated by the core and stored with its decision:
        the steps that run follow from them. ``local_authority`` must be one of the
        partnership's ``local_authorities``.
        """
        partnership_settings = self.partnership_to_open(partnership_key)
        # Nobody named: the partnership's default owner (cases from e-mail get one this way).
        owner = check_owner(owner) or partnership_settings.default_owner
        check_awareness(la_aware, incident_date)
        assessed = self.assessment(answers) if answers else None
        authority = self._local_authority(partnership_settings, local_authority, details)
        timescales, calendar = self.rules_for(partnership_settings)
        facts = CaseFacts(
            la_aware=la_aware,
            decision=assessed.decision if assessed else None,
            also_notify=assessed.also_notify if assessed else (),
            request_type=request_type,
        )
        states = derive_deadlines(facts, timescales, calendar)
        extra = {"assessed": assessed, "local_authority": authority}
        if session is not None:
            view = self._open(session, partnership_settings, states, calendar, la_aware=la_aware,
                              actor=actor, summary=summary, incident_date=incident_date,
                              request_type=request_type, owner=owner, details=details,
                              submission_id=submission_id, **extra)
        else:
            with session_scope(self.engine) as own:
                view = self._open(own, partnership_settings, states, calendar, la_aware=la_aware,
                                  actor=actor, summary=summary, incident_date=incident_date,
                                  request_type=request_type, owner=owner, details=details,
                                  submission_id=submission_id, **extra)
        warnings = awareness_warnings(la_aware, self.today())
        reason = Router(self.settings).fallback_reason(owner) if owner else None
        if reason:
            warnings += (f"owner {reason}",)
        return replace(view, warnings=warnings) if warnings else view

    def open_case_once(
        self,
        submission_id: str,
        *,
        la_aware: date,
        actor: str,
        summary: str | None = None,
        request_type: str | None = None,
        partnership_key: str | None = None,
        owner: str | None = None,
        details: dict[str, Any] | None = None,
        answers: Mapping[str, str] | None = None,
        local_authority: str | None = None,
    ) -> tuple[CaseView, bool]:
        """Open a case for one form submission: (the case, True) the first time, and (the case
        that submission opened, False) every time after: a replayed request, a double click, a
        retry. The id is stored with the case under a unique index, so two workers handling
        the same submission at once still open one case: the second commit fails on the index,
        its whole transaction (reference, deadlines, reminders) rolls back, and it returns the
        first one's case."""
        existing = self.case_for_submission(submission_id)
        if existing is not None:
            return existing, False
        try:
            case = self.open_case(
                la_aware=la_aware, actor=actor, summary=summary, request_type=request_type,
                partnership_key=partnership_key, owner=owner, details=details,
                submission_id=submission_id, answers=answers, local_authority=local_authority,
            )
        except IntegrityError:
            existing = self.case_for_submission(submission_id)
            if existing is None:
                raise
            return existing, False
        return case, True

    def case_for_submission(self, submission_id: str) -> CaseView | None:
        """The case a form submission opened, if it opened one."""
        with Session(self.engine) as session:
            case = repo.case_by_submission(session, submission_id)
            return None if case is None else self._view(session, case)

    def _open(
        self,
        session: Session,
        partnership_settings: PartnershipSettings,
        states: list[DeadlineState],
        calendar: WorkingCalendar,
        *,
        la_aware: date,
        actor: str,
        summary: str | None,
        incident_date: date | None,
        request_type: str | None,
        owner: str | None,
        details: dict[str, Any] | None,
        submission_id: str | None = None,
        assessed: Assessment | None = None,
        local_authority: str | None = None,
    ) -> CaseView:
        partnership = repo.ensure_partnership(
            session,
            partnership_settings.key,
            partnership_settings.name,
            partnership_settings.reference_prefix,
        )
        case = repo.add_case(
            session,
            partnership,
            la_aware_on=la_aware,
            opened_by=actor,
            summary=summary,
            incident_on=incident_date,
            request_type=request_type,
            owner=owner,
        )
        assert case.id is not None
        if submission_id is not None:
            repo.set_submission(session, case, submission_id)  # IntegrityError for a second opening
        if assessed is not None or local_authority is not None:
            repo.set_assessment(
                session,
                case,
                answers=assessed.answers if assessed else None,
                decision=assessed.decision if assessed else None,
                also_notify=list(assessed.also_notify) if assessed else None,
                local_authority=local_authority,
            )
        if details:
            self._save_details(session, case.id, details, actor)
        changed = repo.save_deadlines(session, case.id, _to_data(states))
        self._sync_reminders(session, case.id, states, calendar, changed)
        repo.audit(
            session,
            actor=actor,
            action="case.opened",
            case_id=case.id,
            detail={
                "reference": case.reference,
                "la_aware": la_aware.isoformat(),
                "deadlines": {s.deadline.key: s.deadline.due.isoformat() for s in states},
                **(
                    {"answers": assessed.answers, "decision": assessed.decision,
                     "also_notify": list(assessed.also_notify)}
                    if assessed else {}
                ),
                **({"local_authority": local_authority} if local_authority else {}),
            },
        )
        # A case whose answers already settle it with nothing left to do (an adult's death,
        # say) is closed by the same rule as any other, audited after its opening.
        self._apply_closing_rule(session, case, _facts(case, []), states, actor)
        self._audit_status(session)
        return self._view(session, case, states)

    @staticmethod
    def _save_details(session: Session, case_id: int, details: dict[str, Any], actor: str) -> None:
        child = details.get("child") or {}
        subject_repo.save_subject(
            session,
            case_id,
            name=child.get("name"),
            date_of_birth=_iso_or_none(child.get("date_of_birth")),
            nhs_number=child.get("nhs_number"),
            recorded_by=actor,
            details=details,
        )

    def refresh_details(
        self,
        session: Session,
        case_id: int,
        details: dict[str, Any],
        *,
        actor: str,
        audit_detail: dict[str, Any] | None = None,
    ) -> CaseView:
        """Replace what is stored about the child (a re-sent form), in the caller's transaction.

        The deadlines do not move: the awareness date is when the first copy arrived. The audit
        entry names the change, never the details themselves.
        """
        case = repo.lock_case(session, case_id)
        if case is None:
            raise CaseNotFound(f"no case with id {case_id}")
        self._save_details(session, case_id, details, actor)
        repo.touch(session, case)
        repo.audit(
            session,
            actor=actor,
            action="case.details_refreshed",
            case_id=case_id,
            detail={"reference": case.reference, **(audit_detail or {})},
        )
        return self._view(session, case)

    def case_id(self, session: Session, reference: str) -> int:
        case = repo.get_case(session, reference)
        if case is None or case.id is None:
            raise CaseNotFound(f"no case with reference {reference!r}")
        return case.id

    def record_milestone(
        self,
        reference: str,
        milestone: str | Milestone,
        *,
        on: date,
        actor: str,
        note: str | None = None,
        reason: str | None = None,
    ) -> CaseView:
        """Record one milestone: checked by the lifecycle, deadlines and reminders re-planned,
        the closing rule applied, audited (``milestone.recorded``). ``reason``: why a rapid
        review is sent with fewer than three sign-offs (see _rapid_review_sent)."""
        return self.record_decision(reference, [milestone], on=on, actor=actor, note=note, reason=reason)

    def record_decision(
        self,
        reference: str,
        milestones: Sequence[str | Milestone],
        *,
        on: date,
        actor: str,
        note: str | None = None,
        reason: str | None = None,
    ) -> CaseView:
        """Record every milestone of one decision (a rapid review's: a national-review
        recommendation and the local decision it still concludes with) in one transaction:
        all or none, each checked by the lifecycle as record_milestone checks one."""
        kinds = [m if isinstance(m, Milestone) else parse_milestone(m) for m in milestones]
        if not kinds:
            raise LifecycleError("no milestone to record")
        with session_scope(self.engine) as session:
            case = repo.get_case(session, reference, for_update=True)
            if case is None:
                raise CaseNotFound(f"no case with reference {reference!r}")
            assert case.id is not None
            _require_open(case, "record a milestone on" if len(kinds) == 1 else "record a decision on")
            partnership = repo.get_partnership(session, case.partnership_id)
            _, fallback = self.partnership_of_case(partnership.key)
            updated = _facts(case, list(repo.milestones_for(session, case.id)))
            if Milestone.RAPID_REVIEW_SENT in kinds:
                note = self._rapid_review_sent(session, case, on=on, actor=actor, reason=reason, note=note)
            warnings: tuple[str, ...] = ()
            for kind in kinds:
                updated = record(updated, kind, on)
                warnings += milestone_warnings(kind, on, self.today())
                repo.add_milestone(
                    session, case, kind=kind.value, occurred_on=on, recorded_by=actor, note=note
                )
            states, changed = self._replan(session, case, updated, actor=actor)
            # One milestone is audited as it always was; a decision of several as one entry.
            which = {"milestone": kinds[0].value} if len(kinds) == 1 else {"milestones": [k.value for k in kinds]}
            repo.audit(
                session,
                actor=actor,
                action="milestone.recorded" if len(kinds) == 1 else "decision.recorded",
                case_id=case.id,
                detail={
                    "reference": case.reference,
                    **which,
                    "on": on.isoformat(),
                    "deadlines_changed": changed,
                },
            )
            self._audit_status(session)
            warnings += (fallback,) if fallback else ()
            return replace(self._view(session, case, states), warnings=tuple(dict.fromkeys(warnings)))

    @staticmethod
    def _rapid_review_sent(
        session: Session, case: Case, *, on: date, actor: str, reason: str | None, note: str | None
    ) -> str | None:
        """The rapid review's sign-off rule, on every path that records rapid-review-sent (CLI,
        Slack, ``rapid-review sent``): with a rapid review running, fewer than three partners'
        sign-offs need a reason (seed 002: "Signed by the three safeguarding partners"); the
        review's last step is marked sent in the same transaction. Returns the note to keep."""
        assert case.id is not None
        review = rapid_repo.for_case(session, case.id, for_update=True)
        if review is None:
            return note
        if review.sent_on is not None:
            raise LifecycleError(f"{case.reference}'s rapid review was sent on {review.sent_on.isoformat()}")
        count = len(rapid_repo.signoffs(session, review.id or 0))
        try:
            cleaned = check_sent(count, reason)
        except RapidReviewError as exc:
            raise LifecycleError(str(exc)) from None
        review.sent_on, review.sent_reason = on, cleaned
        rapid_repo.save(session, review)
        repo.audit(session, actor=actor, action="rapid_review.sent", case_id=case.id,
                   detail={"reference": case.reference, "on": on.isoformat(), "signoffs": count,
                           "reason": cleaned})
        if cleaned and count < 3:
            return f"sent with {count} of 3 sign-offs: {cleaned}" + (f"; {note}" if note else "")
        return note

    def assess(
        self,
        reference: str,
        answers: Mapping[str, str],
        *,
        actor: str,
        local_authority: str | None = None,
    ) -> CaseView:
        """Record criteria answers on a case (over the ones it has) and the core's decision for
        them, and re-derive its steps: ``notify`` runs the Panel, partners and rapid-review
        steps, ``not_required`` none of them; the evaluation's also_notify brings the Secretary
        of State and Ofsted step. Audited, in one transaction."""
        with session_scope(self.engine) as session:
            case = repo.get_case(session, reference, for_update=True)
            if case is None:
                raise CaseNotFound(f"no case with reference {reference!r}")
            assert case.id is not None
            if not (case.status == CaseStatus.CLOSED
                    and (case.status_reason or "").startswith(_AUTO_CLOSED)):
                # A case the rule closed on its answers may be re-assessed (the rule reopens it
                # if the new answers leave work to do); one a person closed or withdrew may not.
                _require_open(case, "assess")
            partnership = repo.get_partnership(session, case.partnership_id)
            settings, fallback = self.partnership_of_case(partnership.key)
            assessed = self.assessment({**(case.criteria_answers or {}), **answers})
            authority = (
                settings.local_authority(local_authority) if local_authority is not None else None
            )
            before = case.decision
            repo.set_assessment(
                session, case, answers=assessed.answers, decision=assessed.decision,
                also_notify=list(assessed.also_notify), local_authority=authority,
            )
            states, changed = self._replan(
                session, case, _facts(case, list(repo.milestones_for(session, case.id))), actor=actor
            )
            repo.touch(session, case)
            repo.audit(
                session,
                actor=actor,
                action="case.assessed",
                case_id=case.id,
                detail={
                    "reference": case.reference,
                    "answers": assessed.answers,
                    "decision": assessed.decision,
                    "previous_decision": before,
                    "also_notify": list(assessed.also_notify),
                    "deadlines_changed": changed,
                    **({"local_authority": authority} if authority else {}),
                },
            )
            self._audit_status(session)
            view = self._view(session, case, states)
            return replace(view, warnings=(fallback,)) if fallback else view

    def snooze(self, reference: str, deadline_key: str, *, now: datetime, actor: str) -> date:
        """Quieten a deadline's reminders until the next working day at the send time.

        Returns the day the next reminder goes out. The deadline itself does not move.
        """
        from scheduler.calendar import today_in_london
        from scheduler.reminders import Occasion

        with session_scope(self.engine) as session:
            case = repo.get_case(session, reference, for_update=True)
            if case is None:
                raise CaseNotFound(f"no case with reference {reference!r}")
            assert case.id is not None
            deadline = repo.deadline_row(session, case.id, deadline_key)
            if deadline is None or deadline.status not in (
                DeadlineStatus.OPEN.value, DeadlineStatus.AWAITED.value
            ):
                raise LifecycleError(f"{reference} has no open deadline {deadline_key!r}")
            partnership = repo.get_partnership(session, case.partnership_id)
            _, calendar = self.rules_for(self._partnership_settings(partnership.key))
            day = calendar.next_open_day(calendar.add_working_days(today_in_london(now), 1))
            send_at = self.policy.send_at(day)
            if day > deadline.due:
                occasion = Occasion.OVERDUE
            elif day >= calendar.previous_open_day(deadline.due):
                occasion = Occasion.DUE
            else:
                occasion = Occasion.BEFORE
            reminder_repo.cancel_pending_before(session, deadline.id or 0, send_at)
            reminder_repo.add_reminder(session, deadline, occasion.value, day, send_at)
            repo.audit(
                session,
                actor=actor,
                action="reminder.snoozed",
                case_id=case.id,
                detail={"reference": case.reference, "deadline": deadline_key, "until": day.isoformat()},
            )
            return day

    def details(self, reference: str) -> dict[str, Any]:
        """What is known about the child (personal data: for case officers' eyes only)."""
        with Session(self.engine) as session:
            case = repo.get_case(session, reference)
            if case is None:
                raise CaseNotFound(f"no case with reference {reference!r}")
            assert case.id is not None
            subject = subject_repo.subject_for(session, case.id)
            if subject is None:
                return {}
            details: dict[str, Any] = dict(subject.details or {})
            child = dict(details.get("child") or {})
            child.setdefault("name", subject.name)
            if subject.date_of_birth:
                child.setdefault("date_of_birth", subject.date_of_birth.isoformat())
            child.setdefault("nhs_number", subject.nhs_number)
            details["child"] = child
            # Every child in the incident (siblings): the first is the referral's.
            details["children"] = [child] + [
                {"name": other.name,
                 "date_of_birth": other.date_of_birth.isoformat() if other.date_of_birth else None,
                 "nhs_number": other.nhs_number}
                for other in subject_repo.subjects_for(session, case.id)[1:]
            ]
            return details

    def get(self, reference: str) -> CaseView:
        with Session(self.engine) as session:
            case = repo.get_case(session, reference)
            if case is None:
                raise CaseNotFound(f"no case with reference {reference!r}")
            return self._view(session, case)

    def check_scope(self, reference: str, identity: str | Sequence[str] | None, *,
                    installation_officer: bool) -> None:
        """CaseOutOfScope unless ``identity`` may act on case ``reference`` (``may_act``); a
        reference with no case is refused in the same words. Reads only, writes nothing."""
        with Session(self.engine) as session:
            case = repo.get_case(session, str(reference or ""))
            key = repo.get_partnership(session, case.partnership_id).key if case is not None else None
        if key is None or not may_act(self._partnership_settings(key), identity,
                                      installation_officer=installation_officer):
            raise CaseOutOfScope()

    def in_scope(self, partnership_key: str, identity: str | Sequence[str] | None, *,
                 installation_officer: bool) -> bool:
        """May ``identity`` act on (and so open) cases of the partnership ``partnership_key``?"""
        return may_act(self._partnership_settings(partnership_key), identity,
                       installation_officer=installation_officer)

    def list(self, *, include_closed: bool = False) -> list[CaseView]:
        with Session(self.engine) as session:
            rows = repo.list_cases(session, status=None if include_closed else "open")
            return [self._view(session, case) for case in rows]

    def _view(
        self, session: Session, case: Case, states: list[DeadlineState] | None = None
    ) -> CaseView:
        """The case as adapters show it. Deadlines are derived from the stored facts (so what is
        shown is always current) unless the caller has just derived them in this transaction."""
        assert case.id is not None
        partnership = repo.get_partnership(session, case.partnership_id)
        milestone_rows = list(repo.milestones_for(session, case.id))
        if states is None:
            timescales, calendar = self.rules_for(self._partnership_settings(partnership.key))
            states = derive_deadlines(_facts(case, milestone_rows), timescales, calendar)
        return CaseView(
            reference=case.reference,
            partnership=partnership.key,
            status=case.status,
            la_aware=case.la_aware_on,
            incident_date=case.incident_on,
            summary=case.summary,
            request_type=case.request_type,
            owner=case.owner,
            opened_by=case.opened_by,
            opened_at=_aware_utc(case.opened_at),
            milestones=tuple(
                MilestoneView(m.kind, m.occurred_on, m.recorded_by, m.note,
                              voided=m.voided_at is not None, void_reason=m.void_reason,
                              amended_from=m.amended_from)
                for m in milestone_rows
            ),
            answers=dict(case.criteria_answers or {}),
            decision=case.decision,
            also_notify=tuple(case.also_notify or ()),
            local_authority=case.local_authority,
            deadlines=tuple(with_status(states, case.status)),
            status_reason=case.status_reason,
            status_changed_at=_aware_utc(case.status_changed_at) if case.status_changed_at else None,
            children=self._children(session, case.id),
            referral=self._referral(session, case),
        )


    # Case management (issue 11): corrections, ends, ownership, history ----------------------
    # Every operation here runs in one transaction that locks the case, re-plans its deadlines
    # and reminders through _replan (the same path recording takes) and writes one audit entry.

    def _replan(
        self, session: Session, case: Case, facts: CaseFacts, *, actor: str, closing_rule: bool = True
    ) -> tuple[list[DeadlineState], list[str]]:
        """Derive the deadlines from ``facts``, apply the closing rule (unless ``closing_rule``
        is False: a case just reopened by hand stays open), and bring the stored deadlines and
        reminders in step. Deadlines that no longer apply at all (a voided decision) are kept,
        marked not applicable, and their reminders cancelled. Returns (derived, changed keys)."""
        assert case.id is not None
        partnership = repo.get_partnership(session, case.partnership_id)
        timescales, calendar = self.rules_for(self._partnership_settings(partnership.key))
        states = derive_deadlines(facts, timescales, calendar)
        if closing_rule:
            self._apply_closing_rule(session, case, facts, states, actor)
        shown = with_status(states, case.status)
        changed = repo.save_deadlines(session, case.id, _to_data(shown))
        changed += repo.retire_deadlines(session, case.id, {s.deadline.key for s in shown})
        self._sync_reminders(session, case.id, shown, calendar, changed)
        return states, changed

    def _apply_closing_rule(
        self, session: Session, case: Case, facts: CaseFacts, states: list[DeadlineState], actor: str
    ) -> None:
        """bot.core.closing's rule: an open case that reached its end is closed; a case the rule
        closed whose end was corrected away (voided, amended) is open again."""
        end = closes_itself(facts, states)
        if case.status == CaseStatus.OPEN and end:
            self._set_status(session, case, CaseStatus.CLOSED, f"{_AUTO_CLOSED}{end}", actor, later=True)
        elif (
            case.status == CaseStatus.CLOSED
            and (case.status_reason or "").startswith(_AUTO_CLOSED)
            and not end
        ):
            self._set_status(session, case, CaseStatus.OPEN, "its end was corrected", actor, later=True)

    @staticmethod
    def _set_status(
        session: Session, case: Case, status: str, reason: str, actor: str, *, later: bool = False
    ) -> None:
        """Change the status, audited. ``later``: the audit entry waits for the change that
        caused it (written by _audit_status), so the history reads "recorded, then closed"."""
        action = {"open": "case.reopened", "closed": "case.closed", "withdrawn": "case.withdrawn"}
        previous = case.status
        case.status = str(status)
        case.status_reason = reason[:500]
        case.status_changed_at = datetime.now(tz=UTC)
        repo.touch(session, case)
        entry = {
            "actor": actor,
            "action": action[str(status)],
            "case_id": case.id,
            "detail": {"reference": case.reference, "from": previous, "to": str(status), "reason": reason},
        }
        if later:
            session.info.setdefault(_STATUS_AUDITS, []).append(entry)
        else:
            repo.audit(session, **entry)

    @staticmethod
    def _audit_status(session: Session) -> None:
        """Write the status changes the closing rule made in this transaction (see _set_status)."""
        for entry in session.info.pop(_STATUS_AUDITS, []):
            repo.audit(session, **entry)

    def _locked(self, session: Session, reference: str) -> Case:
        case = repo.get_case(session, reference, for_update=True)
        if case is None or case.id is None:
            raise CaseNotFound(f"no case with reference {reference!r}")
        return case

    @staticmethod
    def _entries(session: Session, case: Case) -> tuple[dict[int, MilestoneRow], list[Entry]]:
        """The case's milestones that count (not voided), as rows by id and as core entries."""
        assert case.id is not None
        rows = {
            m.id: m for m in repo.milestones_for(session, case.id) if m.voided_at is None and m.id
        }
        return rows, [Entry(i, Milestone(m.kind), m.occurred_on) for i, m in rows.items()]

    def _corrected(
        self, reference: str, reason: str, actor: str, change: Callable[[Session, Case], tuple[CaseFacts, str, dict[str, Any], tuple[str, ...]]]
    ) -> CaseView:
        """The frame every correction shares: a reason, the case locked and not withdrawn, the
        change (which returns the corrected facts, its audit action, detail and warnings), the
        re-plan, the audit entry."""
        reason = check_reason(reason)
        with session_scope(self.engine) as session:
            case = self._locked(session, reference)
            if case.status == CaseStatus.WITHDRAWN:
                raise LifecycleError(f"{case.reference} is withdrawn: reopen it first (case reopen)")
            facts, action, detail, warnings = change(session, case)
            states, changed = self._replan(session, case, facts, actor=actor)
            repo.touch(session, case)
            repo.audit(
                session,
                actor=actor,
                action=action,
                case_id=case.id,
                detail={"reference": case.reference, **detail, "reason": reason,
                        "deadlines_changed": changed},
            )
            self._audit_status(session)
            return replace(self._view(session, case, states), warnings=warnings)

    def amend_milestone(
        self, reference: str, milestone: str | Milestone, *, on: date, reason: str, actor: str
    ) -> CaseView:
        """A recorded milestone's date was wrong: it is re-dated (the first date is kept as
        ``amended_from``), checked by the recording rules as if recorded on ``on``."""
        kind = milestone if isinstance(milestone, Milestone) else parse_milestone(milestone)

        def change(session: Session, case: Case) -> tuple[CaseFacts, str, dict[str, Any], tuple[str, ...]]:
            rows, entries = self._entries(session, case)
            target = find(entries, kind, case.reference)
            if target.on == on:
                raise LifecycleError(f"{kind.value.replace('_', '-')} is already recorded on {on.isoformat()}")
            facts = replay(case.la_aware_on, amended(entries, target.id, on), incident=case.incident_on)
            repo.amend_milestone(session, rows[target.id], on)
            detail = {"milestone": kind.value, "from": target.on.isoformat(), "to": on.isoformat()}
            return facts, "milestone.amended", detail, correction_warnings(kind, on, self.today())

        return self._corrected(reference, reason, actor, change)

    def void_milestone(
        self, reference: str, milestone: str | Milestone, *, reason: str, actor: str
    ) -> CaseView:
        """A milestone was recorded in error: it stays in the record, voided, and counts for
        nothing (the deadlines it met reopen; those it started no longer apply). Refused when
        a later milestone depends on it (void that one first)."""
        kind = milestone if isinstance(milestone, Milestone) else parse_milestone(milestone)

        def change(session: Session, case: Case) -> tuple[CaseFacts, str, dict[str, Any], tuple[str, ...]]:
            rows, entries = self._entries(session, case)
            target = find(entries, kind, case.reference)
            try:
                facts = replay(case.la_aware_on, without(entries, target.id), incident=case.incident_on)
            except LifecycleError as exc:
                raise LifecycleError(
                    f"cannot void {kind.value.replace('_', '-')}: without it, {exc}"
                ) from None
            repo.void_milestone(session, rows[target.id], reason.strip())
            return facts, "milestone.voided", {"milestone": kind.value, "on": target.on.isoformat()}, ()

        return self._corrected(reference, reason, actor, change)

    def correct_awareness(self, reference: str, *, aware: date, reason: str, actor: str) -> CaseView:
        """The LA-aware date was wrong: every deadline counted from it moves; every milestone
        must still fit (not before awareness). The reference does not change."""

        def change(session: Session, case: Case) -> tuple[CaseFacts, str, dict[str, Any], tuple[str, ...]]:
            _, entries = self._entries(session, case)
            if case.la_aware_on == aware:
                raise LifecycleError(f"{case.reference} already has LA-aware date {aware.isoformat()}")
            facts = replay(aware, entries, incident=case.incident_on)
            detail = {"from": case.la_aware_on.isoformat(), "to": aware.isoformat()}
            case.la_aware_on = aware
            return facts, "case.aware_corrected", detail, correction_warnings(None, aware, self.today())

        return self._corrected(reference, reason, actor, change)

    def _change_status(
        self, reference: str, status: CaseStatus, reason: str, actor: str, *, allowed_from: tuple[CaseStatus, ...]
    ) -> CaseView:
        reason = check_reason(reason)
        with session_scope(self.engine) as session:
            case = self._locked(session, reference)
            if case.status not in allowed_from:
                raise LifecycleError(f"{case.reference} is {case.status}: cannot make it {status}")
            facts = _facts(case, list(repo.milestones_for(session, case.id or 0)))
            before = self._replan(session, case, facts, actor=actor, closing_rule=False)[0]
            still_open = open_steps(before)
            self._set_status(session, case, status, reason, actor)
            states, _ = self._replan(session, case, facts, actor=actor, closing_rule=False)
            warnings: tuple[str, ...] = ()
            if status == CaseStatus.CLOSED and still_open:
                labels = "; ".join(s.deadline.label for s in still_open)
                warnings = (f"{len(still_open)} step(s) still open marked not applicable: {labels}",)
            return replace(self._view(session, case, states), warnings=warnings)

    def withdraw(self, reference: str, *, reason: str, actor: str) -> CaseView:
        """Opened by mistake or a duplicate: status withdrawn, no deadlines run, pending reminders
        are cancelled; the record and its audit trail stay."""
        return self._change_status(reference, CaseStatus.WITHDRAWN, reason, actor,
                                   allowed_from=(CaseStatus.OPEN, CaseStatus.CLOSED))

    def close(self, reference: str, *, reason: str, actor: str) -> CaseView:
        """The partnership closes the case. Steps still open are marked not applicable (the
        warning names them) and their reminders cancelled; ``reopen`` brings them back."""
        return self._change_status(reference, CaseStatus.CLOSED, reason, actor,
                                   allowed_from=(CaseStatus.OPEN,))

    def reopen(self, reference: str, *, reason: str, actor: str) -> CaseView:
        """A closed or withdrawn case runs again: its open deadlines and reminders return."""
        return self._change_status(reference, CaseStatus.OPEN, reason, actor,
                                   allowed_from=(CaseStatus.CLOSED, CaseStatus.WITHDRAWN))

    def assign(self, reference: str, *, owner: str, actor: str) -> CaseView:
        """Give the case an owner (reminders and escalations go to them)."""
        cleaned = check_owner(owner)
        assert cleaned is not None
        with session_scope(self.engine) as session:
            case = self._locked(session, reference)
            previous = case.owner
            case.owner = cleaned
            repo.touch(session, case)
            repo.audit(session, actor=actor, action="case.assigned", case_id=case.id,
                       detail={"reference": case.reference, "from": previous, "to": cleaned})
            view = self._view(session, case)
        reason = Router(self.settings).fallback_reason(cleaned)
        return replace(view, warnings=(f"owner {reason}",)) if reason else view

    def list_cases(self, *, status: str = "open", partnership: str | None = None) -> list[CaseView]:
        """Cases of one status (``all`` for every one), optionally of one partnership."""
        from bot.core.closing import check_status

        wanted = check_status(status)
        with Session(self.engine) as session:
            partnership_id = None
            if partnership is not None:
                known = {p.key: p.id for p in repo.partnerships(session)}
                configured = {p.key for p in self.settings.partnerships}
                if partnership not in known and partnership not in configured:
                    raise UnknownPartnership(
                        f"unknown partnership {partnership!r}; configured: {', '.join(sorted(configured))}"
                    )
                partnership_id = known.get(partnership, -1)
            rows = repo.list_cases(session, status=None if wanted == "all" else wanted,
                                   partnership_id=partnership_id)
            return [self._view(session, case) for case in rows]

    def history(self, reference: str) -> list[dict[str, Any]]:
        """The case's audit trail, oldest first: when, who, what, and the detail recorded."""
        with Session(self.engine) as session:
            case = repo.get_case(session, reference)
            if case is None or case.id is None:
                raise CaseNotFound(f"no case with reference {reference!r}")
            return [
                {"at": _aware_utc(e.at).isoformat(), "actor": e.actor, "action": e.action,
                 "detail": dict(e.detail or {})}
                for e in repo.audit_for(session, case.id)
            ]

    def child_details(self, reference: str, *, actor: str, via: str = "cli") -> dict[str, Any]:
        """What is known about the children (personal data), for a case officer who asked to
        see it: the look is audited (who, when, which case, through what: ``via`` names the
        view, e.g. "case show", "pack", "slack case view"; never what was seen)."""
        details = self.details(reference)
        self.record_details_view(reference, actor=actor, via=via)
        return details

    def record_details_view(self, reference: str, *, actor: str, via: str) -> None:
        """Audit a look at the children's details (``case.child_details_viewed``) by a view
        that reads them itself, e.g. the rapid-review draft, which prints them."""
        with session_scope(self.engine) as session:
            case = self._locked(session, reference)
            repo.audit(session, actor=actor, action="case.child_details_viewed", case_id=case.id,
                       detail={"reference": case.reference, "via": via})

    def add_child(
        self,
        reference: str,
        *,
        name: str | None,
        date_of_birth: date | None = None,
        nhs_number: str | None = None,
        actor: str,
    ) -> CaseView:
        """Another child in the same incident (siblings): one case, several children."""
        if not (name or date_of_birth or nhs_number):
            raise LifecycleError("a child needs a name, a date of birth or an NHS number")
        with session_scope(self.engine) as session:
            case = self._locked(session, reference)
            assert case.id is not None
            count = subject_repo.add_subject(
                session, case.id, name=name, date_of_birth=date_of_birth, nhs_number=nhs_number,
                recorded_by=actor,
            )
            repo.touch(session, case)
            repo.audit(session, actor=actor, action="subject.added", case_id=case.id,
                       detail={"reference": case.reference, "children": count})
            return self._view(session, case)

    def resolve_step(self, reference: str, text: str) -> str:
        """The deadline key a person means by ``text``: the step's key, the milestone that meets
        it, or its label, as ``case show`` displays them (case, spaces, - and _ do not matter).
        LifecycleError lists the valid ones otherwise."""
        view = self.get(reference)

        def norm(value: str) -> str:
            return " ".join(value.lower().replace("-", " ").replace("_", " ").split())

        wanted = norm(text)
        choices: list[str] = []
        for state in view.deadlines:
            key = state.deadline.key
            met_by = self.milestone_meeting(view.partnership, key).value
            if wanted in {norm(key), norm(met_by), norm(state.deadline.label)}:
                return key
            if state.status is DeadlineStatus.OPEN:
                choices.append(f"{key} ({met_by.replace('_', '-')}, \"{state.deadline.label}\")")
        listed = "; ".join(choices) or "none: the case has no open step"
        raise LifecycleError(f"{view.reference} has no open deadline {text!r}; open steps: {listed}")

    @staticmethod
    def _children(session: Session, case_id: int) -> tuple[str, ...]:
        return tuple(
            initials(s.name)
            for s in subject_repo.subjects_for(session, case_id)
            if s.name or s.date_of_birth or s.nhs_number  # a row of referral details only
        )

    @staticmethod
    def _referral(session: Session, case: Case) -> dict[str, Any]:
        """The referral's type and origin: how the case arrived (no child details)."""
        assert case.id is not None
        subject = subject_repo.subject_for(session, case.id)
        intake = dict((subject.details or {}).get("intake") or {}) if subject else {}
        channel = case.opened_by.split(":", 1)[0] if ":" in case.opened_by else "person"
        origin: dict[str, Any] = {"channel": "e-mail" if intake else channel, "opened_by": case.opened_by}
        for key in ("mailbox", "sender_domain", "received_at"):
            if intake.get(key):
                origin[key] = intake[key]
        return {"type": case.request_type, "origin": origin}

    def open_case_from_answers(
        self, *, la_aware: date, answers: dict[str, str], actor: str, partnership_key: str | None = None
    ) -> CaseView:
        """A case opened at the end of a criteria chat whose result was "notify": the answers
        (option values only, never free text) are stored on the case, and its steps follow
        from them as for ``case open --answer``."""
        return self.open_case(la_aware=la_aware, actor=actor, partnership_key=partnership_key,
                              summary="Opened from the criteria chat (notify)", answers=answers)

    def notify_team(self, reference: str, *, subject: str, text: str, event: str,
                    besides: tuple[str, ...] = ("slack",)) -> int:
        """Tell the partnership's team about the case through its routes other than ``besides``
        (the ones the calling adapter posts to itself): e.g. the Slack "Open a case" form posts
        its notice to the channel and this queues the same notice for ``team_email``. Through
        the outbox, once per case, event and recipient. Returns how many were queued."""
        with session_scope(self.engine) as session:
            case = self._locked(session, reference)
            partnership = self._partnership_settings(repo.get_partnership(session, case.partnership_id).key)
            queued = 0
            for transport, recipient in Router(self.settings).team(partnership):
                if transport in besides:
                    continue
                queued += outbox_repo.enqueue(
                    session, transport=transport, recipient=recipient, subject=subject, body=text,
                    payload={"kind": "case_notice", "reference": case.reference, "event": event},
                    dedupe_key=f"team:{event}:{case.reference}:{transport}:{recipient}"[:200],
                    case_id=case.id,
                )
            return queued

    def yearly_report(self, period: Any, *, partnership: str | None = None) -> Any:
        """The yearly report's figures for ``period`` (bot.core.report.Period), of one
        partnership or all: the cases as store/report.py reads them, counted by the pure core
        on the partnership's (or the default) timescales and statutory calendar."""
        from bot.core.report import StepRule, compute_report
        from store.report import report_cases

        settings = (self.partnership_to_open(partnership) if partnership is not None
                    else self.settings.partnership())
        timescales, calendar = self.rules_for(settings)
        rules = [StepRule(t.key, t.label, t.rule.kind, t.rule.amount, t.basis.value, t.source.cite(),
                          tuple(m.value for m in (t.met_by, *t.met_by_any)))
                 for t in timescales]
        with Session(self.engine) as session:
            cases = report_cases(session, until=period.end, partnership_key=partnership)
        return compute_report(cases, period, rules, calendar, partnership=partnership)

__all__ = [
    "CaseNotFound",
    "CaseService",
    "CaseView",
    "DeadlineStatus",
    "InvalidOwner",
    "LifecycleError",
    "UnknownPartnership",
    "deadline_json",
]
