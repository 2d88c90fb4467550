"""Case service: opening cases and recording milestones, atomically and with an audit trail.

This is where the pure lifecycle meets the store. Every change runs in one transaction: the
case (locked against concurrent edits), its milestones, its re-derived deadlines and the audit
entry commit together. Adapters (CLI, Slack, mail) call this and nothing below it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.core.criteria import CriteriaTree
from bot.core.lifecycle import (
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
from bot.routing import Router
from bot.settings import PartnershipSettings, Settings, SettingsError
from scheduler.calendar import WorkingCalendar, today_in_london
from scheduler.reminders import ReminderPolicy, plan_deadline
from scheduler.timescales import Milestone, Timescales
from store import case_subjects as subject_repo
from store import cases as repo
from store import reminders as reminder_repo
from store.db import session_scope
from store.models import Case, MilestoneRow


class CaseNotFound(LookupError):
    pass


class InvalidOwner(ValueError):
    """A case owner that is neither a Slack user ID nor an e-mail address; one line."""


class UnknownPartnership(LifecycleError):
    """A case cannot be opened for a partnership that is not configured; the one line names
    the partnerships that are."""


# Slack user IDs: U (or W, Enterprise Grid) and at least 8 capitals and digits. Anything else
# (U123, a channel, "<!channel>") would be routed as a name nobody receives.
_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{8,}")
# A plain, ASCII addr-spec with a dotted domain: what SMTP and the folder transport can use.
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_OWNER_MAX = 320  # the column's width, and RFC 5321's longest address


def check_owner(owner: str | None) -> str | None:
    """The owner cleaned of surrounding spaces, or InvalidOwner.

    The one rule for every adapter (CLI, Slack, mail): reminders and escalations go to the
    owner, so an owner that cannot be routed would make them vanish into the local outbox.
    """
    if owner is None:
        return None
    cleaned = owner.strip()
    if len(cleaned) <= _OWNER_MAX and (
        _SLACK_USER_ID.fullmatch(cleaned) or _EMAIL.fullmatch(cleaned)
    ):
        return cleaned
    raise InvalidOwner(
        f"owner {owner!r} is neither a Slack user ID (U or W and 8 or more capitals and digits, "
        "e.g. U0123ABCD) nor an e-mail address"
    )


@dataclass(frozen=True)
class MilestoneView:
    kind: str
    on: date
    recorded_by: str
    note: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "milestone": self.kind,
            "on": self.on.isoformat(),
            "recorded_by": self.recorded_by,
            "note": self.note,
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
        }


def deadline_json(state: DeadlineState) -> dict[str, Any]:
    data: dict[str, Any] = state.deadline.as_json()
    data["status"] = state.status.value
    data["completed_on"] = state.completed_on.isoformat() if state.completed_on else None
    return data


def _facts(case: Case, milestones: list[MilestoneRow]) -> CaseFacts:
    return CaseFacts(
        la_aware=case.la_aware_on,
        milestones=tuple(RecordedMilestone(Milestone(m.kind), m.occurred_on) for m in milestones),
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
        owner = check_owner(owner)
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
    ) -> CaseView:
        kind = milestone if isinstance(milestone, Milestone) else parse_milestone(milestone)
        with session_scope(self.engine) as session:
            case = repo.get_case(session, reference, for_update=True)
            if case is None:
                raise CaseNotFound(f"no case with reference {reference!r}")
            assert case.id is not None
            partnership = repo.get_partnership(session, case.partnership_id)
            settings, fallback = self.partnership_of_case(partnership.key)
            timescales, calendar = self.rules_for(settings)
            facts = _facts(case, list(repo.milestones_for(session, case.id)))
            updated = record(facts, kind, on)
            warnings = milestone_warnings(kind, on, self.today()) + ((fallback,) if fallback else ())
            repo.add_milestone(
                session, case, kind=kind.value, occurred_on=on, recorded_by=actor, note=note
            )
            states = derive_deadlines(updated, timescales, calendar)
            changed = repo.save_deadlines(session, case.id, _to_data(states))
            self._sync_reminders(session, case.id, states, calendar, changed)
            repo.audit(
                session,
                actor=actor,
                action="milestone.recorded",
                case_id=case.id,
                detail={
                    "reference": case.reference,
                    "milestone": kind.value,
                    "on": on.isoformat(),
                    "deadlines_changed": changed,
                },
            )
            return replace(self._view(session, case, states), warnings=warnings)

    def record_decision(
        self,
        reference: str,
        milestones: Sequence[str | Milestone],
        *,
        on: date,
        actor: str,
        note: str | None = None,
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
            partnership = repo.get_partnership(session, case.partnership_id)
            settings, fallback = self.partnership_of_case(partnership.key)
            timescales, calendar = self.rules_for(settings)
            updated = _facts(case, list(repo.milestones_for(session, case.id)))
            warnings: tuple[str, ...] = ()
            for kind in kinds:
                updated = record(updated, kind, on)
                warnings += milestone_warnings(kind, on, self.today())
                repo.add_milestone(
                    session, case, kind=kind.value, occurred_on=on, recorded_by=actor, note=note
                )
            states = derive_deadlines(updated, timescales, calendar)
            changed = repo.save_deadlines(session, case.id, _to_data(states))
            self._sync_reminders(session, case.id, states, calendar, changed)
            repo.audit(
                session,
                actor=actor,
                action="decision.recorded",
                case_id=case.id,
                detail={
                    "reference": case.reference,
                    "milestones": [k.value for k in kinds],
                    "on": on.isoformat(),
                    "deadlines_changed": changed,
                },
            )
            warnings += (fallback,) if fallback else ()
            return replace(self._view(session, case, states), warnings=tuple(dict.fromkeys(warnings)))

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
            timescales, calendar = self.rules_for(settings)
            states = derive_deadlines(
                _facts(case, list(repo.milestones_for(session, case.id))), timescales, calendar
            )
            changed = repo.save_deadlines(session, case.id, _to_data(states))
            self._sync_reminders(session, case.id, states, calendar, changed)
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
            return details

    def get(self, reference: str) -> CaseView:
        with Session(self.engine) as session:
            case = repo.get_case(session, reference)
            if case is None:
                raise CaseNotFound(f"no case with reference {reference!r}")
            return self._view(session, case)

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
                MilestoneView(m.kind, m.occurred_on, m.recorded_by, m.note) for m in milestone_rows
            ),
            deadlines=tuple(states),
            answers=dict(case.criteria_answers or {}),
            decision=case.decision,
            also_notify=tuple(case.also_notify or ()),
            local_authority=case.local_authority,
        )


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
