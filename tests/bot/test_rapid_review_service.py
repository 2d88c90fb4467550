"""The rapid review inside the running service: every sweep chases late agencies on the chase
step's day and escalates on the escalation step's day (once each); the weekly digest shows each
running review's progress. In-process, on SQLite (the rows are tested on both databases in
tests/cli/test_rapid_review_cli.py)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time
from pathlib import Path

from sqlmodel import Session, select

from bot.rapid_review import RapidReviewService
from bot.runtime import open_runtime
from bot.service import Service
from bot.settings import load_settings
from scheduler.calendar import LONDON
from scheduler.digest import compose
from store import cases as case_repo
from store.models import OutboxMessage


def _kinds(session: Session, kind: str) -> list[OutboxMessage]:
    return [m for m in session.exec(select(OutboxMessage)).all() if m.payload.get("kind") == kind]


def test_sweeps_chase_then_escalate_once_and_the_digest_shows_progress(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "var", partnerships=[{
        "key": "tees", "name": "Tees SCP", "reference_prefix": "TS", "team_email": "team@tees.gov.uk",
        "escalation_contact": "head@tees.gov.uk",
        "agencies": [{"key": "police", "name": "Cleveland Police", "email": "lead@cleveland.police.uk"},
                     {"key": "health", "name": "North Tees NHS Trust", "email": "safeguarding@nhs.net"}]}])
    runtime = open_runtime(settings)
    ref = runtime.cases.open_case(la_aware=date(2026, 11, 30), actor="t").reference
    rapid = RapidReviewService(runtime.cases)
    rapid.start(ref, agencies=None, actor="t", on=date(2026, 12, 1))
    rapid.record_return(ref, "police", files=[("s.docx", "application/octet-stream", b"PK")], actor="t",
                        on=date(2026, 12, 9))

    def sweep_on(day: date) -> None:
        service = Service(runtime, transports={}, clock=lambda: datetime.combine(day, time(10), tzinfo=LONDON))
        asyncio.run(service.sweep())

    sweep_on(date(2026, 12, 10))  # due today: nobody is late
    with Session(runtime.engine) as session:
        assert _kinds(session, "rapid_review_chase") == []
    sweep_on(date(2026, 12, 11))  # the chase step's day (day 8)
    sweep_on(date(2026, 12, 11))
    with Session(runtime.engine) as session:
        [chase] = _kinds(session, "rapid_review_chase")
        assert chase.recipient == "safeguarding@nhs.net" and ref in chase.subject
        assert not [m for m in _kinds(session, "rapid_review_notice") if "still no summary" in m.body]
    sweep_on(date(2026, 12, 14))  # the escalation step's day (day 9)
    sweep_on(date(2026, 12, 15))
    with Session(runtime.engine) as session:
        escalations = [m for m in _kinds(session, "rapid_review_notice") if "still no summary" in m.body]
        assert sorted(m.recipient for m in escalations) == ["head@tees.gov.uk", "team@tees.gov.uk"]
        assert "North Tees NHS Trust" in escalations[0].body and "Cleveland Police" not in escalations[0].body
        partnership = next(p for p in case_repo.partnerships(session) if p.key == "tees")
        digest = compose(session, partnership, date(2026, 12, 15))
    assert "Rapid reviews running (1):" in digest.text
    assert f"{ref}: 1 of 2 agencies returned, 0 of 3 sign-offs, no meeting set" in digest.text
    done = {s.key: s.done_on for s in rapid.status(ref).steps}
    assert done["chase_late"] == date(2026, 12, 11) and done["escalate_late"] == date(2026, 12, 14)
    runtime.engine.dispose()


def test_every_path_that_records_sent_keeps_the_sign_off_rule(tmp_path: Path) -> None:
    """The case service itself refuses rapid-review-sent with fewer than three sign-offs and no
    reason, so a Slack "Record as done" or any other adapter cannot go round the rule; with a
    reason, the milestone and the review's last step are recorded together."""
    import pytest

    from bot.core.lifecycle import LifecycleError

    settings = load_settings(data_dir=tmp_path / "var", partnerships=[{
        "key": "tees", "name": "Tees SCP", "reference_prefix": "TS",
        "agencies": [{"key": "police", "name": "Cleveland Police", "email": "lead@cleveland.police.uk"}]}])
    runtime = open_runtime(settings)
    cases = runtime.cases
    ref = cases.open_case(la_aware=date(2026, 11, 30), actor="t").reference
    cases.record_milestone(ref, "panel-notified", on=date(2026, 11, 30), actor="t")
    rapid = RapidReviewService(cases)
    rapid.start(ref, agencies=None, actor="t", on=date(2026, 12, 1))
    with pytest.raises(LifecycleError, match="only 0 of 3 safeguarding partners have signed off"):
        cases.record_milestone(ref, "rapid-review-sent", on=date(2026, 12, 18), actor="slack:U1")
    assert "rapid_review_sent" not in {m.kind for m in cases.get(ref).milestones}
    view = cases.record_milestone(ref, "rapid-review-sent", on=date(2026, 12, 18), actor="slack:U1",
                                  reason="partners sign on return from leave")
    [sent] = [m for m in view.milestones if m.kind == "rapid_review_sent"]
    assert sent.note == "sent with 0 of 3 sign-offs: partners sign on return from leave"
    assert rapid.status(ref).as_json()["steps"][-1]["done_on"] == "2026-12-18"
