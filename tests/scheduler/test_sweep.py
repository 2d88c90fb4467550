"""The reminder sweep with injected time, across Christmas 2026, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.cases import CaseService
from scheduler.calendar import LONDON, WorkingCalendar
from scheduler.digest import send_digests
from scheduler.reminders import load_policy
from scheduler.sweep import Sweeper
from store.models import OutboxMessage, ReminderRow

POLICY = load_policy()


def london(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON)


def router(partnership: str, audience: str, owner: str | None) -> list[tuple[str, str]]:
    if audience == "channel":
        return [("console", f"#{partnership}")]
    if audience == "owner":
        return [("console", owner)] if owner else []
    return [("console", "manager@example.org")]


def sweeper(engine: Engine) -> Sweeper:
    return Sweeper(engine, POLICY, lambda key: WorkingCalendar(), router)


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def test_christmas_2026_reminders_on_the_right_days(cases: CaseService, engine: Engine) -> None:
    ref = cases.open_case(la_aware=date(2026, 12, 22), actor="t", owner="U0OWNER01").reference
    sweep = sweeper(engine)
    sent: list[tuple[date, str, str]] = []
    for day in days(date(2026, 12, 22), date(2027, 1, 8)):
        for hour, minute in ((0, 0), (8, 59), (9, 0), (9, 1), (13, 0), (23, 59)):
            if day == date(2027, 1, 4) and hour == 13:
                cases.record_milestone(ref, "panel-notified", on=day, actor="officer")
            for item in sweep.sweep(london(day, hour, minute)).sent:
                sent.append((item.send_on, item.deadline, item.occasion))
                assert london(day, hour, minute).time() >= time(9, 0)
    assert sent == [
        (date(2026, 12, 29), "panel_notification", "before"),
        (date(2026, 12, 29), "partners_notification", "before"),
        (date(2026, 12, 30), "panel_notification", "before"),
        (date(2026, 12, 30), "partners_notification", "before"),
        (date(2026, 12, 31), "panel_notification", "due"),
        (date(2026, 12, 31), "partners_notification", "due"),
        # The rapid review is reminded 10, 5 and 2 working days ahead (issue 10).
        (date(2026, 12, 31), "rapid_review", "before"),
        (date(2027, 1, 4), "panel_notification", "overdue"),
        (date(2027, 1, 4), "partners_notification", "overdue"),
        (date(2027, 1, 5), "partners_notification", "overdue"),
        (date(2027, 1, 6), "partners_notification", "overdue"),
        (date(2027, 1, 7), "partners_notification", "overdue"),
        (date(2027, 1, 8), "partners_notification", "overdue"),
        (date(2027, 1, 8), "rapid_review", "before"),
    ]
    with Session(engine) as session:
        messages = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    # before/due go to the channel and the owner; overdue escalates to owner, manager, channel.
    first = [m.recipient for m in messages if m.payload["occasion"] == "before"][:2]
    assert first == ["#default", "U0OWNER01"]
    overdue = {m.recipient for m in messages if m.payload["occasion"] == "overdue"}
    assert overdue == {"U0OWNER01", "manager@example.org", "#default"}
    assert all(m.dedupe_key.startswith("reminder:") for m in messages)


def test_after_downtime_only_the_latest_occasion_is_sent(cases: CaseService, engine: Engine) -> None:
    cases.open_case(la_aware=date(2026, 12, 22), actor="t")
    result = sweeper(engine).sweep(london(date(2027, 1, 6), 11))
    sent = [(r.deadline, r.occasion) for r in result.sent if r.deadline != "rapid_review"]
    assert sent == [
        ("panel_notification", "overdue"),
        ("partners_notification", "overdue"),
    ]
    # Per deadline: 2 before + due are superseded; the first overdue row is the one sent today.
    assert result.superseded == 6
    with Session(engine) as session:
        pending = session.exec(select(ReminderRow).where(ReminderRow.status == "pending")).all()
    next_overdue = sorted(r.send_on for r in pending if r.deadline_key == "panel_notification")
    assert next_overdue[0] == date(2027, 1, 7)
    # And a second sweep the same day sends nothing.
    assert sweeper(engine).sweep(london(date(2027, 1, 6), 15)).sent == []


def test_no_reminders_on_weekends_or_bank_holidays(cases: CaseService, engine: Engine) -> None:
    cases.open_case(la_aware=date(2026, 12, 17), actor="t")  # due Thu 24 Dec, overdue from 29 Dec
    sweep = sweeper(engine)
    for day in (date(2026, 12, 25), date(2026, 12, 26), date(2026, 12, 27), date(2026, 12, 28)):
        result = sweep.sweep(london(day, 10))
        assert result.sent == [] and result.held
    sent = sweep.sweep(london(date(2026, 12, 29), 9)).sent
    assert [r.occasion for r in sent if r.deadline != "rapid_review"] == ["overdue", "overdue"]


def test_recording_the_milestone_cancels_its_reminders(cases: CaseService, engine: Engine) -> None:
    ref = cases.open_case(la_aware=date(2026, 12, 22), actor="t").reference
    cases.record_milestone(ref, "panel-notified", on=date(2026, 12, 23), actor="o")
    cases.record_milestone(ref, "partners-notified", on=date(2026, 12, 23), actor="o")
    result = sweeper(engine).sweep(london(date(2026, 12, 30)))
    assert result.sent == []
    with Session(engine) as session:
        rows = session.exec(select(ReminderRow)).all()
    panel = [r for r in rows if r.deadline_key == "panel_notification"]
    assert panel and all(r.status == "cancelled" for r in panel)
    rapid = [r for r in rows if r.deadline_key == "rapid_review"]
    assert rapid and all(r.status == "pending" for r in rapid)


def test_new_deadlines_get_reminders_and_snooze(cases: CaseService, engine: Engine) -> None:
    ref = cases.open_case(la_aware=date(2026, 12, 22), actor="t").reference
    cases.record_milestone(ref, "panel-notified", on=date(2026, 12, 23), actor="o")
    cases.record_milestone(ref, "partners-notified", on=date(2026, 12, 23), actor="o")
    cases.record_milestone(ref, "rapid-review-sent", on=date(2027, 1, 8), actor="o")
    sweep = sweeper(engine)
    # panel_response due Fri 29 Jan 2027: reminded on the day only (policy override).
    assert sweep.sweep(london(date(2027, 1, 28))).sent == []
    until = cases.snooze(ref, "panel_response", now=london(date(2027, 1, 29), 9, 30), actor="o")
    assert until == date(2027, 2, 1)
    assert sweep.sweep(london(date(2027, 1, 29), 10)).sent == []
    [item] = sweep.sweep(london(date(2027, 2, 1), 9)).sent
    assert (item.deadline, item.occasion) == ("panel_response", "overdue")


def test_weekly_digest_once_per_week(cases: CaseService, engine: Engine) -> None:
    cases.open_case(la_aware=date(2026, 12, 22), actor="t", summary="Name Surname, fictional")
    cal = lambda key: WorkingCalendar()  # noqa: E731
    # Mon 28 Dec 2026 is a bank holiday: the digest goes on Tue 29 Dec at 09:00.
    assert send_digests(engine, london(date(2026, 12, 28), 10), POLICY, cal, router) == []
    assert send_digests(engine, london(date(2026, 12, 29), 8), POLICY, cal, router) == []
    [digest] = send_digests(engine, london(date(2026, 12, 29), 9), POLICY, cal, router)
    assert "Due this week (2)" in digest.text and "SG-2026-0001" in digest.text
    assert "Name Surname" not in digest.text
    assert send_digests(engine, london(date(2026, 12, 29), 12), POLICY, cal, router) == []
    [later] = send_digests(engine, london(date(2027, 1, 4), 9), POLICY, cal, router)
    assert "Overdue (2)" in later.text


def test_digest_shows_years_and_four_weeks_ahead(cases: CaseService, engine: Engine) -> None:
    cal = WorkingCalendar()
    ref = cases.open_case(la_aware=date(2026, 12, 14), actor="t").reference
    cases.record_milestone(ref, "panel-notified", on=date(2026, 12, 15), actor="t")
    cases.record_milestone(ref, "partners-notified", on=date(2026, 12, 15), actor="t")
    withdrawn = cases.open_case(la_aware=date(2026, 12, 14), actor="t").reference
    cases.withdraw(withdrawn, reason="duplicate", actor="t")
    # Tue 29 Dec 2026: the rapid review (due Thu 07 Jan 2027) is next week, within four weeks.
    [digest] = send_digests(engine, london(date(2026, 12, 29), 9), POLICY, lambda key: cal, router)
    assert "Due in the next 4 weeks, up to Tue 26 Jan 2027 (1):" in digest.text
    assert f"{ref}: Complete the rapid review and send it to the Panel (due Thu 07 Jan 2027)" in digest.text
    assert "Open cases: 1" in digest.text and withdrawn not in digest.text
