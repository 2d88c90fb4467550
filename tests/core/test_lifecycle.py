"""Case lifecycle (pure): milestones meet deadlines, add new ones, and refuse the impossible."""

from __future__ import annotations

from datetime import date

import pytest

from bot.core.lifecycle import (
    CaseFacts,
    DeadlineStatus,
    LifecycleError,
    check_awareness,
    derive_deadlines,
    future_warning,
    next_open_deadline,
    parse_milestone,
    record,
)
from scheduler.calendar import WorkingCalendar
from scheduler.timescales import Milestone as M
from scheduler.timescales import load_timescales

TS = load_timescales()
CAL = WorkingCalendar()
AWARE = date(2026, 12, 22)


def states(facts: CaseFacts) -> dict[str, tuple[date, DeadlineStatus]]:
    return {s.deadline.key: (s.deadline.due, s.status) for s in derive_deadlines(facts, TS, CAL)}


def test_opening_creates_the_first_three_deadlines() -> None:
    assert states(CaseFacts(AWARE)) == {
        "panel_notification": (date(2026, 12, 31), DeadlineStatus.OPEN),
        "partners_notification": (date(2026, 12, 31), DeadlineStatus.OPEN),
        "rapid_review": (date(2027, 1, 15), DeadlineStatus.OPEN),
    }


def test_full_lifecycle_through_publication() -> None:
    facts = CaseFacts(AWARE)
    facts = record(facts, M.PANEL_NOTIFIED, date(2026, 12, 30))
    facts = record(facts, M.PARTNERS_NOTIFIED, date(2027, 1, 4))  # late
    facts = record(facts, M.RAPID_REVIEW_SENT, date(2027, 1, 14))
    result = states(facts)
    assert result["panel_notification"][1] is DeadlineStatus.MET
    assert result["partners_notification"][1] is DeadlineStatus.MISSED
    assert result["rapid_review"][1] is DeadlineStatus.MET
    # The Panel's aim, not the partnership's duty: awaited, never open/overdue (issue 10 item 8).
    assert result["panel_response"] == (date(2027, 2, 4), DeadlineStatus.AWAITED)

    facts = record(facts, M.DECISION_LOCAL_REVIEW, date(2027, 1, 14))
    assert states(facts)["lcspr_publication"] == (date(2027, 7, 14), DeadlineStatus.OPEN)
    facts = record(facts, M.PUBLICATION_PLANNED, date(2027, 7, 12))
    assert states(facts)["final_report_to_panel"] == (date(2027, 7, 1), DeadlineStatus.OPEN)
    # A replanned publication moves the final-report deadline.
    facts = record(facts, M.PUBLICATION_PLANNED, date(2027, 7, 14))
    assert states(facts)["final_report_to_panel"][0] == date(2027, 7, 5)
    facts = record(facts, M.PANEL_RESPONDED, date(2027, 2, 1))
    facts = record(facts, M.LCSPR_COMMISSION_NOTIFIED, date(2027, 1, 14))
    facts = record(facts, M.FINAL_REPORT_SENT, date(2027, 7, 2))
    facts = record(facts, M.PUBLISHED, date(2027, 7, 14))
    final = states(facts)
    assert all(status is not DeadlineStatus.OPEN for _, status in final.values())
    assert len(final) == 7  # with the Panel/Ofsted/DfE notice of the local review
    assert next_open_deadline(derive_deadlines(facts, TS, CAL)) is None


def test_notification_not_required_makes_panel_steps_not_applicable() -> None:
    facts = record(CaseFacts(AWARE), M.NOTIFICATION_NOT_REQUIRED, date(2026, 12, 23))
    result = states(facts)
    assert result["panel_notification"][1] is DeadlineStatus.NOT_APPLICABLE
    assert result["rapid_review"][1] is DeadlineStatus.NOT_APPLICABLE
    # The partners' report concerns an event that meets the criteria (issue 10 item 3).
    assert result["partners_notification"][1] is DeadlineStatus.NOT_APPLICABLE


def test_partners_awareness_moves_the_rapid_review() -> None:
    facts = record(CaseFacts(AWARE), M.PARTNERS_AWARE, date(2026, 12, 18))
    assert states(facts)["rapid_review"][0] == date(2027, 1, 13)


@pytest.mark.parametrize(
    ("steps", "kind", "on", "message"),
    [
        ([], M.RAPID_REVIEW_SENT, date(2027, 1, 5), "before panel-notified is recorded"),
        ([], M.PANEL_RESPONDED, date(2027, 1, 5), "before rapid-review-sent is recorded"),
        ([], M.PUBLICATION_PLANNED, date(2027, 6, 1), "before decision-local-review"),
        ([], M.PANEL_NOTIFIED, date(2026, 12, 21), "before the LA became aware"),
        ([(M.PANEL_NOTIFIED, date(2026, 12, 30))], M.PANEL_NOTIFIED, date(2026, 12, 31), "already recorded"),
        ([(M.PANEL_NOTIFIED, date(2026, 12, 30))], M.RAPID_REVIEW_SENT, date(2026, 12, 29), "is before panel-notified"),
        ([(M.PANEL_NOTIFIED, date(2026, 12, 30))], M.NOTIFICATION_NOT_REQUIRED, date(2026, 12, 31), "panel-notified is already recorded"),
        ([(M.DECISION_NO_REVIEW, date(2027, 1, 5))], M.DECISION_LOCAL_REVIEW, date(2027, 1, 6), "decision-no-review is already recorded"),
        ([(M.DECISION_LOCAL_REVIEW, date(2027, 1, 5))], M.PUBLISHED, date(2027, 6, 1), "before final-report-sent"),
        ([(M.DECISION_LOCAL_REVIEW, date(2027, 1, 5))], M.PUBLICATION_PLANNED, date(2027, 1, 4), "before decision-local-review"),
    ],
)
def test_out_of_order_or_impossible_milestones_are_refused(
    steps: list[tuple[M, date]], kind: M, on: date, message: str
) -> None:
    facts = CaseFacts(AWARE)
    for step, when in steps:
        facts = record(facts, step, when)
    with pytest.raises(LifecycleError, match=message):
        record(facts, kind, on)


def test_awareness_checks() -> None:
    with pytest.raises(LifecycleError, match="before the notification duty began"):
        check_awareness(date(2017, 1, 1))
    with pytest.raises(LifecycleError, match="after the date the LA became aware"):
        check_awareness(AWARE, incident=date(2026, 12, 23))
    check_awareness(AWARE, incident=date(2026, 12, 20))


def test_future_dates_are_flagged_not_refused() -> None:
    assert future_warning("awareness", date(2026, 12, 1), date(2026, 11, 25))
    assert future_warning("awareness", date(2026, 11, 25), date(2026, 11, 25)) is None


@pytest.mark.parametrize("name", ["panel-notified", "panel_notified", " Panel Notified "])
def test_milestone_names_are_forgiving(name: str) -> None:
    assert parse_milestone(name) is M.PANEL_NOTIFIED


def test_unknown_milestone_lists_the_known_ones() -> None:
    with pytest.raises(LifecycleError, match="unknown milestone 'teleported'.*panel-notified"):
        parse_milestone("teleported")


@pytest.mark.parametrize(("decision", "also", "keys"), [
    ("notify", (), ["panel_notification", "partners_notification", "rapid_review"]),
    ("notify", ("secretary_of_state", "ofsted"),
     ["panel_notification", "partners_notification", "rapid_review", "sos_ofsted_notification"]),
    ("not_required", ("secretary_of_state", "ofsted"), ["sos_ofsted_notification"]),
    ("not_required", (), []),
    ("discuss", (), []),
    ("incomplete", (), []),
])
def test_a_results_deadlines_are_the_steps_its_case_would_run(
        decision: str, also: tuple[str, ...], keys: list[str]) -> None:
    """What every adapter shows beside a criteria result: the same steps a case opened with
    those answers runs (a looked-after death without abuse: the SoS/Ofsted step alone)."""
    from bot.core.lifecycle import result_deadlines

    shown = result_deadlines(decision, also, date(2026, 11, 30), load_timescales(), WorkingCalendar())
    assert [d.key for d in shown] == keys
