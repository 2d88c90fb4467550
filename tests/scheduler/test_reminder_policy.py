"""Reminder policy and planner (pure): which occasions, on which working days, at 09:00 London."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from scheduler.calendar import WorkingCalendar
from scheduler.reminders import (
    Occasion,
    ReminderConfigError,
    load_policy,
    next_overdue,
    parse_policy,
    plan_deadline,
    working_days_phrase,
)

CAL = WorkingCalendar()
POLICY = load_policy()


def slots(key: str, due: date) -> list[tuple[date, Occasion]]:
    return [(p.send_on, p.occasion) for p in plan_deadline(key, due, POLICY, CAL)]


def test_default_plan_across_christmas_2026() -> None:
    assert slots("panel_notification", date(2026, 12, 31)) == [
        (date(2026, 12, 29), Occasion.BEFORE),
        (date(2026, 12, 30), Occasion.BEFORE),
        (date(2026, 12, 31), Occasion.DUE),
        (date(2027, 1, 4), Occasion.OVERDUE),
    ]


def test_plan_skips_the_substitute_bank_holiday() -> None:
    # Due Tue 29 Dec 2026: 2 working days before is Thu 24 Dec (25 and 28 are holidays).
    assert slots("panel_notification", date(2026, 12, 29))[:2] == [
        (date(2026, 12, 23), Occasion.BEFORE),
        (date(2026, 12, 24), Occasion.BEFORE),
    ]


def test_rapid_review_reminded_10_5_and_2_working_days_before() -> None:
    """Issue 10: agency reports, a meeting and three sign-offs need more than 2 days' notice."""
    assert slots("rapid_review", date(2027, 1, 29))[:3] == [
        (date(2027, 1, 15), Occasion.BEFORE),
        (date(2027, 1, 22), Occasion.BEFORE),
        (date(2027, 1, 27), Occasion.BEFORE),
    ]


def test_publication_override_and_weekend_due_date() -> None:
    # 6 calendar months can land on a Saturday: the "due" reminder goes out on the Friday.
    plan = slots("lcspr_publication", date(2027, 7, 17))
    assert plan == [
        (date(2027, 6, 7), Occasion.BEFORE),
        (date(2027, 6, 21), Occasion.BEFORE),
        (date(2027, 7, 5), Occasion.BEFORE),
        (date(2027, 7, 16), Occasion.DUE),
        (date(2027, 7, 19), Occasion.OVERDUE),
    ]


def test_publication_reminders_never_after_the_final_report_date() -> None:
    """Issue 10: a reminder about publishing after the final report was due is too late."""
    final_report = date(2027, 7, 8)  # 7 working days before a planned Mon 19 Jul 2027
    capped = plan_deadline(
        "lcspr_publication", date(2027, 7, 19), POLICY, CAL, {"final_report_to_panel": final_report}
    )
    before = [p.send_on for p in capped if p.occasion is Occasion.BEFORE]
    assert before and max(before) <= final_report
    policy = parse_policy(
        'source = "Local policy"\n[overrides.lcspr_publication]\nbefore = [20, 5]\n'
        'not_after = "final_report_to_panel"\n'
    )
    plan = plan_deadline(
        "lcspr_publication", date(2027, 7, 19), policy, CAL, {"final_report_to_panel": final_report}
    )
    assert [p.send_on for p in plan if p.occasion is Occasion.BEFORE] == [
        date(2027, 6, 21), final_report
    ]


def test_send_time_is_nine_in_london_in_winter_and_summer() -> None:
    [winter, *_] = plan_deadline("panel_notification", date(2026, 12, 31), POLICY, CAL)
    assert winter.send_at == datetime(2026, 12, 29, 9, 0, tzinfo=UTC)
    [summer, *_] = plan_deadline("panel_notification", date(2027, 7, 9), POLICY, CAL)
    assert summer.send_at == datetime(2027, 7, 7, 8, 0, tzinfo=UTC)


def test_every_planned_day_is_a_working_day() -> None:
    day = date(2026, 1, 1)
    while day < date(2028, 3, 1):
        for key in ("panel_notification", "lcspr_publication", "panel_response"):
            for planned in plan_deadline(key, day, POLICY, CAL):
                assert CAL.is_working_day(planned.send_on)
        day = date.fromordinal(day.toordinal() + 3)


def test_next_overdue_is_the_next_working_day() -> None:
    follow = next_overdue("panel_notification", date(2026, 12, 24), POLICY, CAL)
    assert follow is not None and follow.send_on == date(2026, 12, 29)


def test_phrases() -> None:
    assert working_days_phrase(date(2026, 12, 31), date(2026, 12, 29), CAL) == "due in 2 working days"
    assert working_days_phrase(date(2026, 12, 31), date(2026, 12, 31), CAL) == "due today"
    assert working_days_phrase(date(2026, 12, 31), date(2027, 1, 5), CAL) == "2 working days overdue"


def test_policy_validation() -> None:
    with pytest.raises(ReminderConfigError, match="default.before"):
        parse_policy('source = "x y z"\n[default]\nbefore = [0]\n')
    with pytest.raises(ReminderConfigError, match="overdue"):
        parse_policy('source = "x y z"\n[default]\noverdue = "hourly"\n')
    policy = parse_policy('source = "Local policy"\nsend_time = "08:30"\n')
    assert policy.send_time == time(8, 30)
