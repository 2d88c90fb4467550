"""The closing rule and corrections: pure domain rules (bot/core/closing.py, corrections.py)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.core.closing import CaseStatus, closes_itself, end_reached, with_status
from bot.core.corrections import Entry, amended, check_reason, find, replay, without
from bot.core.lifecycle import (
    CaseFacts,
    DeadlineStatus,
    LifecycleError,
    RecordedMilestone,
    derive_deadlines,
)
from scheduler.calendar import WorkingCalendar
from scheduler.timescales import Milestone, load_timescales

M = Milestone
AWARE = date(2026, 11, 2)
TIMESCALES = load_timescales()
CALENDAR = WorkingCalendar()


def facts(*kinds: Milestone, on: date = date(2026, 11, 4)) -> CaseFacts:
    return CaseFacts(AWARE, tuple(RecordedMilestone(k, on) for k in kinds))


@pytest.mark.parametrize(("kinds", "end"), [
    ((), None),
    ((M.NOTIFICATION_NOT_REQUIRED,), "notification not required"),
    ((M.PANEL_NOTIFIED, M.RAPID_REVIEW_SENT, M.DECISION_NO_REVIEW), None),  # the Panel has not responded
    ((M.PANEL_NOTIFIED, M.RAPID_REVIEW_SENT, M.PANEL_RESPONDED, M.DECISION_NO_REVIEW),
     "no local review decided and the Panel has responded"),
    ((M.PANEL_NOTIFIED, M.RAPID_REVIEW_SENT, M.PANEL_AGREED, M.DECISION_NO_REVIEW),
     "no local review decided and the Panel has responded"),
    ((M.PANEL_NOTIFIED, M.RAPID_REVIEW_SENT, M.PANEL_REQUESTED_INFORMATION, M.DECISION_NO_REVIEW), None),
    ((M.DECISION_LOCAL_REVIEW, M.FINAL_REPORT_SENT, M.PUBLISHED), "local review published"),
])
def test_the_ends_a_case_can_reach(kinds: tuple[Milestone, ...], end: str | None) -> None:
    assert end_reached(facts(*kinds)) == end


def test_a_case_closes_itself_only_when_nothing_is_open() -> None:
    running = facts(M.PANEL_NOTIFIED)
    assert closes_itself(running, derive_deadlines(running, TIMESCALES, CALENDAR)) is None
    # Notification not required: no step runs any more (the partners' report included, issue
    # 10), so the case has reached its end.
    ended = facts(M.NOTIFICATION_NOT_REQUIRED)
    states = derive_deadlines(ended, TIMESCALES, CALENDAR)
    assert closes_itself(ended, states) == "notification not required"
    published = facts(M.PANEL_NOTIFIED, M.PARTNERS_NOTIFIED, M.RAPID_REVIEW_SENT,
                      M.DECISION_LOCAL_REVIEW, M.FINAL_REPORT_SENT)
    assert closes_itself(published, derive_deadlines(published, TIMESCALES, CALENDAR)) is None


def test_closed_and_withdrawn_cases_run_no_deadline() -> None:
    states = derive_deadlines(facts(M.PANEL_NOTIFIED), TIMESCALES, CALENDAR)
    assert any(s.status is DeadlineStatus.OPEN for s in states)
    for status in (CaseStatus.CLOSED, CaseStatus.WITHDRAWN):
        shown = with_status(states, status)
        assert not any(s.status is DeadlineStatus.OPEN for s in shown)
        assert [s.status for s in shown if s.deadline.key == "panel_notification"] == [DeadlineStatus.MET]
    assert with_status(states, CaseStatus.OPEN) == states


def test_corrections_are_replayed_through_the_recording_rules() -> None:
    entries = [Entry(1, M.PANEL_NOTIFIED, date(2026, 11, 4)), Entry(2, M.RAPID_REVIEW_SENT, date(2026, 11, 10))]
    assert replay(AWARE, entries).latest(M.PANEL_NOTIFIED) == RecordedMilestone(M.PANEL_NOTIFIED, date(2026, 11, 4))
    with pytest.raises(LifecycleError, match="before panel-notified"):
        replay(AWARE, amended(entries, 1, date(2026, 11, 12)))
    with pytest.raises(LifecycleError, match="before panel-notified is recorded"):
        replay(AWARE, without(entries, 1))
    with pytest.raises(LifecycleError, match="before the LA became aware"):
        replay(date(2026, 11, 5), entries)
    assert not replay(AWARE, without(entries, 2)).has(M.RAPID_REVIEW_SENT)
    assert find(entries, M.RAPID_REVIEW_SENT, "SG-1").id == 2
    with pytest.raises(LifecycleError, match="no published recorded"):
        find(entries, M.PUBLISHED, "SG-1")


@pytest.mark.parametrize("reason", [None, "", "   ", "x" * 501])
def test_every_correction_needs_a_reason(reason: str | None) -> None:
    with pytest.raises(LifecycleError):
        check_reason(reason)
    assert check_reason("  typed the wrong year ") == "typed the wrong year"
