"""Issue 10 item 4 in the case service (SQLite and PostgreSQL): a case keeps its criteria answers
and decision, its steps follow them, and assessing it again is audited and retires the steps
that no longer run (their reminders cancelled)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.cases import CaseService
from bot.core.criteria import CriteriaAnswerError
from store.models import AuditEntry, Case, DeadlineRow, ReminderRow

NOTIFY = {"age": "under_18", "abuse_or_neglect": "known", "harm": "died", "location": "in_area",
          "looked_after": "no", "care_leaver_under_25": "no"}


def keys(view) -> set[str]:  # type: ignore[no-untyped-def]
    return {s.deadline.key for s in view.deadlines}


def test_answers_and_decision_are_stored_with_the_case(cases: CaseService, engine: Engine) -> None:
    view = cases.open_case(la_aware=date(2026, 12, 22), actor="t", answers=NOTIFY)
    assert (view.decision, dict(view.answers)) == ("notify", NOTIFY)
    with Session(engine) as session:
        row = session.exec(select(Case)).one()
        assert (row.decision, row.criteria_answers, row.also_notify) == ("notify", NOTIFY, [])
        opened = session.exec(select(AuditEntry).where(AuditEntry.action == "case.opened")).one()
        assert opened.detail["decision"] == "notify" and opened.detail["answers"] == NOTIFY
    assert cases.get(view.reference).decision == "notify"


def test_a_care_leavers_death_adds_the_secretary_of_state_and_ofsted(cases: CaseService) -> None:
    view = cases.open_case(la_aware=date(2026, 12, 22), actor="t",
                           answers={"harm": "died", "care_leaver_under_25": "yes"})
    assert set(view.also_notify) == {"secretary_of_state", "ofsted"}
    assert "sos_ofsted_notification" in keys(view)
    if view.decision in {"incomplete", "discuss", "notify"}:
        assert "panel_notification" in keys(view)  # the decision is still open: today's steps


def test_assess_is_audited_and_retires_the_steps_that_stop(cases: CaseService, engine: Engine) -> None:
    ref = cases.open_case(la_aware=date(2026, 12, 22), actor="t").reference
    view = cases.assess(ref, {"harm": "not_serious"}, actor="officer")
    assert view.decision == "not_required" and keys(view) == set()
    with Session(engine) as session:
        rows = session.exec(select(DeadlineRow)).all()
        assert rows and {r.status for r in rows} == {"not_applicable"}
        pending = session.exec(select(ReminderRow).where(ReminderRow.status == "pending")).all()
        assert pending == []
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "case.assessed")).one()
        assert entry.actor == "officer"
        assert entry.detail["decision"] == "not_required" and entry.detail["previous_decision"] is None
    again = cases.assess(ref, NOTIFY, actor="officer")
    assert again.decision == "notify" and keys(again) >= {"panel_notification", "rapid_review"}
    with Session(engine) as session:
        statuses = {r.key: r.status for r in session.exec(select(DeadlineRow)).all()}
        assert statuses["panel_notification"] == "open"
        assert session.exec(select(ReminderRow).where(ReminderRow.status == "pending")).all()


def test_bad_answers_are_refused_and_change_nothing(cases: CaseService, engine: Engine) -> None:
    with pytest.raises(CriteriaAnswerError, match="unknown answer 'exploded' for harm"):
        cases.open_case(la_aware=date(2026, 12, 22), actor="t", answers={"harm": "exploded"})
    ref = cases.open_case(la_aware=date(2026, 12, 22), actor="t").reference
    with pytest.raises(CriteriaAnswerError, match="unknown question 'colour'"):
        cases.assess(ref, {"colour": "blue"}, actor="t")
    assert cases.get(ref).decision is None


def test_open_case_once_records_the_answers(cases: CaseService) -> None:
    view, opened = cases.open_case_once("a" * 32, la_aware=date(2026, 12, 22), actor="t",
                                        answers={"harm": "not_serious"})
    assert opened and view.decision == "not_required" and keys(view) == set()


def test_a_case_the_answers_settle_closes_once_nothing_is_left(cases: CaseService) -> None:
    """Not required by its answers is an end like the notification-not-required milestone: an
    adult's case with nothing to do closes when opened; a looked-after child's death stays
    open until the Secretary of State and Ofsted are notified, then closes (audited)."""
    adult = cases.open_case(la_aware=date(2026, 11, 23), actor="t",
                            answers={"age": "25_or_over", "harm": "died"})
    assert (adult.decision, adult.status) == ("not_required", "closed")
    assert not [s for s in adult.deadlines if s.status.value == "open"]
    lac = cases.open_case(la_aware=date(2026, 11, 23), actor="t",
                          answers={"age": "under_18", "harm": "died", "looked_after": "yes",
                                   "abuse_or_neglect": "not_suspected"})
    assert (lac.decision, lac.status) == ("not_required", "open")
    done = cases.record_milestone(lac.reference, "sos-ofsted-notified", on=date(2026, 11, 25), actor="t")
    assert done.status == "closed"
    assert [e["action"] for e in cases.history(lac.reference)][-1] == "case.closed"
