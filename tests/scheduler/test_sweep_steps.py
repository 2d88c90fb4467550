"""Issue 10 through the real sweep (SQLite and PostgreSQL): the Panel's response is chased, once
then weekly, to the owner only; reminders never go out on a closure day."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.cases import CaseService
from bot.settings import load_settings
from scheduler.calendar import WorkingCalendar
from scheduler.sweep import Sweeper
from store.models import OutboxMessage, ReminderRow
from tests.scheduler.test_sweep import POLICY, london, router

CLOSURES = [date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31)]


def test_panel_response_chased_once_then_weekly_never_escalated(cases: CaseService, engine: Engine) -> None:
    ref = cases.open_case(la_aware=date(2026, 12, 22), actor="t", owner="U0OWNER01").reference
    for milestone, on in (("panel-notified", date(2026, 12, 23)), ("partners-notified", date(2026, 12, 23)),
                          ("rapid-review-sent", date(2027, 1, 8))):
        cases.record_milestone(ref, milestone, on=on, actor="o")
    sweep = Sweeper(engine, POLICY, lambda key: WorkingCalendar(), router)
    assert sweep.sweep(london(date(2027, 1, 29))).sent == []  # expected by Fri 29 Jan: no reminder
    [chase] = sweep.sweep(london(date(2027, 2, 1))).sent
    assert chase.deadline == "panel_response" and chase.recipients == (("console", "U0OWNER01"),)
    for day in (date(2027, 2, 2), date(2027, 2, 3), date(2027, 2, 4), date(2027, 2, 5)):
        assert sweep.sweep(london(day)).sent == []
    [weekly] = sweep.sweep(london(date(2027, 2, 8))).sent
    assert weekly.deadline == "panel_response"
    with Session(engine) as session:
        messages = session.exec(select(OutboxMessage)).all()
    texts = [m.body for m in messages if m.payload["deadline"] == "panel_response"]
    assert len(texts) == 2 and all("still awaited" in t and "overdue" not in t for t in texts)
    assert all(m.payload["occasion"] == "chase" for m in messages if m.payload["deadline"] == "panel_response")
    assert cases.get(ref).deadlines[-1].status.value == "awaited"


def test_no_reminder_is_sent_on_a_closure_day(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(data_dir=tmp_path / "var", closure_days=CLOSURES)
    service = CaseService(engine, settings)
    service.open_case(la_aware=date(2026, 12, 22), actor="t", owner="U0OWNER01")
    with Session(engine) as session:
        planned = session.exec(select(ReminderRow)).all()
    assert planned and not any(r.send_on in CLOSURES for r in planned)
    sweep = Sweeper(engine, POLICY, lambda key: settings.calendar_for(None), router)
    sent = sweep.sweep(london(date(2026, 12, 24))).sent
    assert {(s.deadline, s.occasion) for s in sent} >= {("panel_notification", "due")}
    for day in CLOSURES:
        assert sweep.sweep(london(day, 10)).sent == []
