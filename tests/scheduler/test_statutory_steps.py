"""Issue 10: closure days, awaited Panel steps, the steps a case's criteria decision runs, and the
steps the seeds name that had no deadline. Pure: the lifecycle over the shipped timescales."""

from __future__ import annotations

from datetime import date

from bot.core.lifecycle import CaseFacts, DeadlineStatus, derive_deadlines, record
from scheduler.calendar import WorkingCalendar
from scheduler.reminders import Occasion, load_policy, next_overdue, plan_deadline
from scheduler.timescales import Milestone as M
from scheduler.timescales import load_timescales

TS = load_timescales()
CAL = WorkingCalendar()
CLOSED = WorkingCalendar(closures=[date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31)])
POLICY = load_policy()
AWARE = date(2026, 12, 22)


def by_key(facts: CaseFacts, calendar: WorkingCalendar = CAL) -> dict:
    return {s.deadline.key: s for s in derive_deadlines(facts, TS, calendar)}


# Item 2 -----------------------------------------------------------------------------------------


def test_closure_days_never_move_a_due_date_and_warn() -> None:
    states = by_key(CaseFacts(AWARE), CLOSED)
    notify = states["panel_notification"].deadline
    assert notify.due == date(2026, 12, 31)
    assert len(notify.warnings) == 1 and "closure" in notify.warnings[0]
    assert notify.as_json()["warnings"] == list(notify.warnings)
    # A due date outside the closure carries an empty list.
    rapid = states["rapid_review"].deadline
    assert rapid.due == date(2027, 1, 15) and rapid.as_json()["warnings"] == []


def test_a_reminder_in_a_closure_is_sent_on_the_last_working_day_before() -> None:
    plan = plan_deadline("panel_notification", date(2026, 12, 31), POLICY, CLOSED)
    before_due = [p for p in plan if p.occasion is not Occasion.OVERDUE]
    # 29-31 Dec closed, 25 and 28 Dec bank holidays: everything before the due date moves to 24 Dec.
    assert {p.send_on for p in before_due} == {date(2026, 12, 24)}
    assert [p.occasion for p in before_due] == [Occasion.DUE]
    overdue = [p for p in plan if p.occasion is Occasion.OVERDUE]
    assert [p.send_on for p in overdue] == [date(2027, 1, 4)]
    assert all(CLOSED.is_open_day(p.send_on) for p in plan)


# Item 3 -----------------------------------------------------------------------------------------


def test_partners_report_not_applicable_once_notification_not_required() -> None:
    facts = record(CaseFacts(AWARE), M.NOTIFICATION_NOT_REQUIRED, date(2026, 12, 23))
    assert by_key(facts)["partners_notification"].status is DeadlineStatus.NOT_APPLICABLE


# Item 8 -----------------------------------------------------------------------------------------


def sent_review() -> CaseFacts:
    facts = record(CaseFacts(AWARE), M.PANEL_NOTIFIED, date(2026, 12, 23))
    return record(facts, M.RAPID_REVIEW_SENT, date(2027, 1, 8))


def test_panel_response_is_awaited_never_missed_or_overdue() -> None:
    state = by_key(sent_review())["panel_response"]
    assert state.status is DeadlineStatus.AWAITED
    assert not state.overdue_on(date(2027, 6, 1))
    late = record(sent_review(), M.PANEL_RESPONDED, date(2027, 3, 1))
    assert by_key(late)["panel_response"].status is DeadlineStatus.MET


def test_panel_asking_for_information_or_a_national_review_is_its_response() -> None:
    for kind in (M.PANEL_REQUESTED_INFORMATION, M.PANEL_DECIDED_NATIONAL_REVIEW):
        facts = record(sent_review(), kind, date(2027, 1, 20))
        state = by_key(facts)["panel_response"]
        assert (state.status, state.completed_on) == (DeadlineStatus.MET, date(2027, 1, 20))
    facts = record(sent_review(), M.PANEL_REQUESTED_INFORMATION, date(2027, 1, 20))
    record(facts, M.PANEL_INFORMATION_SENT, date(2027, 1, 22))


def test_panel_response_one_chase_then_weekly_to_the_owner_only() -> None:
    rules = POLICY.for_key("panel_response")
    assert rules.overdue == "once_then_weekly" and rules.escalate_to == ()
    plan = plan_deadline("panel_response", date(2027, 1, 29), POLICY, CAL)
    assert [(p.send_on, p.occasion) for p in plan] == [(date(2027, 2, 1), Occasion.OVERDUE)]
    follow = next_overdue("panel_response", date(2027, 2, 1), POLICY, CAL)
    assert follow is not None and follow.send_on == date(2027, 2, 8)


# Item 4: the steps the case's criteria decision runs ---------------------------------------------


SERIOUS = {"panel_notification", "partners_notification", "rapid_review"}


def test_no_decision_keeps_todays_steps() -> None:
    assert set(by_key(CaseFacts(AWARE))) == SERIOUS


def test_notify_runs_the_panel_steps_and_not_required_none() -> None:
    assert set(by_key(CaseFacts(AWARE, decision="notify"))) == SERIOUS
    assert set(by_key(CaseFacts(AWARE, decision="discuss"))) == SERIOUS
    assert set(by_key(CaseFacts(AWARE, decision="incomplete"))) == SERIOUS
    assert by_key(CaseFacts(AWARE, decision="not_required")) == {}


def test_also_notify_adds_the_secretary_of_state_and_ofsted_step() -> None:
    facts = CaseFacts(AWARE, decision="not_required", also_notify=("secretary_of_state", "ofsted"))
    states = by_key(facts)
    assert set(states) == {"sos_ofsted_notification"}
    step = states["sos_ofsted_notification"]
    assert step.deadline.due == date(2026, 12, 31)
    assert "seed 001" in step.deadline.source
    done = record(facts, M.SOS_OFSTED_NOTIFIED, date(2026, 12, 24))
    assert by_key(done)["sos_ofsted_notification"].status is DeadlineStatus.MET


# Missing steps ----------------------------------------------------------------------------------


def test_learning_request_runs_no_panel_clock_but_the_partnership_decision() -> None:
    facts = CaseFacts(AWARE, request_type="learning_request")
    states = by_key(facts)
    assert set(states) == {"learning_request_decision"}
    assert states["learning_request_decision"].deadline.basis == "local_practice"
    assert "not in the seeds" in states["learning_request_decision"].deadline.source


def test_local_review_brings_the_commission_notice_and_a_provisional_final_report() -> None:
    facts = record(sent_review(), M.DECISION_LOCAL_REVIEW, date(2027, 1, 14))
    states = by_key(facts)
    commission = states["lcspr_commission_notification"]
    assert commission.deadline.due == date(2027, 1, 14)
    assert "name of any reviewer" in commission.deadline.source
    final = states["final_report_to_panel"].deadline
    assert states["lcspr_publication"].deadline.due == date(2027, 7, 14)
    assert final.provisional and final.due == date(2027, 7, 5)  # 7 working days before 14 Jul
    assert final.as_json()["provisional"] is True
    planned = record(facts, M.PUBLICATION_PLANNED, date(2027, 7, 12))
    assert not by_key(planned)["final_report_to_panel"].deadline.provisional


def test_late_publication_warns_and_asks_for_the_reasons() -> None:
    facts = record(sent_review(), M.DECISION_LOCAL_REVIEW, date(2027, 1, 14))
    assert "publication_delay_notification" not in by_key(facts)
    late = record(facts, M.PUBLICATION_PLANNED, date(2027, 9, 1))
    states = by_key(late)
    assert any("later than" in w for w in states["lcspr_publication"].deadline.warnings)
    step = states["publication_delay_notification"]
    assert step.status is DeadlineStatus.OPEN and step.deadline.due == date(2027, 7, 14)
    assert "reasons for any delays" in step.deadline.source
    told = record(late, M.PUBLICATION_DELAY_NOTIFIED, date(2027, 6, 1))
    assert by_key(told)["publication_delay_notification"].status is DeadlineStatus.MET


def test_rapid_review_delay_is_recorded_and_the_original_date_kept() -> None:
    facts = record(CaseFacts(AWARE), M.PANEL_NOTIFIED, date(2026, 12, 23))
    facts = record(facts, M.RAPID_REVIEW_DELAY_NOTIFIED, date(2027, 1, 12))
    rapid = by_key(facts)["rapid_review"]
    assert rapid.deadline.due == date(2027, 1, 15)
    assert any("Secretariat" in w and "2027-01-12" in w for w in rapid.deadline.warnings)
