"""The weekly digest: open cases, what is overdue, due this week and in the next four weeks
(dates with their year). PII-free.

Plain text: each section is a heading and its lines. How it looks in Slack (bold headings,
bullets) is the Slack renderer's business (handlers/transports/slack.py), which escapes it.

Sent on the first working day of each ISO week at the policy's send time, to each partnership's
channel. The outbox dedupe key names the partnership and the week, so any number of workers,
restarts or repeated runs produce one digest per partnership per week.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from scheduler.calendar import LONDON, WorkingCalendar
from scheduler.reminders import ReminderPolicy
from scheduler.sweep import Router
from store import cases as case_store
from store import outbox
from store.db import session_scope
from store.models import Case, DeadlineRow, Partnership


LOOK_AHEAD_WEEKS = 4


def first_working_day_of_week(day: date, calendar: WorkingCalendar) -> date:
    """The week's first open working day: a closure day holds the digest like a bank holiday."""
    monday = day - timedelta(days=day.weekday())
    return calendar.next_open_day(monday)


@dataclass(frozen=True)
class DigestSection:
    """A heading and its lines, plain text (the Slack renderer bolds the heading)."""

    heading: str
    lines: tuple[str, ...] = ()

    def as_payload(self) -> dict[str, object]:
        return {"heading": self.heading, "lines": list(self.lines)}

    def as_text(self) -> str:
        return "\n".join([self.heading, *(f"• {line}" for line in self.lines)])


@dataclass(frozen=True)
class Digest:
    partnership: str
    week: str
    title: str
    sections: tuple[DigestSection, ...]
    text: str


def compose(session: Session, partnership: Partnership, today: date) -> Digest:
    monday = today - timedelta(days=today.weekday())
    sunday = monday + timedelta(days=6)
    assert partnership.id is not None
    rows = case_store.open_deadlines(session, partnership.id)
    open_cases = {case.reference for case, _ in rows}
    overdue = [(c, d) for c, d in rows if d.due < today]
    this_week = [(c, d) for c, d in rows if today <= d.due <= sunday]
    # Four weeks ahead: a rapid review (15 working days) or a final report due next month is
    # planned for now, not discovered the week it is due.
    horizon = today + timedelta(weeks=LOOK_AHEAD_WEEKS)
    coming = [(c, d) for c, d in rows if sunday < d.due <= horizon]

    def lines(items: list[tuple[Case, DeadlineRow]]) -> tuple[str, ...]:
        # With the year: a digest in late December lists January's deadlines.
        return tuple(f"{c.reference}: {d.label} (due {d.due:%a %d %b %Y})" for c, d in items) or ("none",)

    iso = today.isocalendar()
    week = f"{iso.year}-W{iso.week:02d}"
    title = f"{partnership.name}: week of {monday:%d %b %Y}"
    sections = (
        DigestSection(f"Open cases: {len(open_cases)}"),
        DigestSection(f"Overdue ({len(overdue)}):", lines(overdue)),
        DigestSection(f"Due this week ({len(this_week)}):", lines(this_week)),
        DigestSection(f"Due in the next {LOOK_AHEAD_WEEKS} weeks, up to {horizon:%a %d %b %Y} "
                      f"({len(coming)}):", lines(coming)),
    )
    reviews = _rapid_reviews(session, partnership.id)
    if reviews:
        sections += (DigestSection(f"Rapid reviews running ({len(reviews)}):", tuple(reviews)),)
    text = title + "\n\n" + "\n\n".join(section.as_text() for section in sections)
    return Digest(partnership.key, week, title, sections, text)


def _rapid_reviews(session: Session, partnership_id: int) -> list[str]:
    """Each running rapid review's progress line (issue 14), for the partnership's open cases."""
    from bot.core.rapid_review import progress_line
    from store import rapid_review as review_store

    lines = []
    for review in review_store.running(session):
        case = session.get(Case, review.case_id)
        if case is None or case.partnership_id != partnership_id or case.status != "open":
            continue
        agencies = review_store.agencies(session, review.id or 0)
        returned = sum(1 for a in agencies if a.returned_on)
        signed = len(review_store.signoffs(session, review.id or 0))
        lines.append(f"{case.reference}: {progress_line(returned, len(agencies), signed, review.meeting_on)}")
    return lines


def send_digests(
    engine: Engine,
    now: datetime,
    policy: ReminderPolicy,
    calendar_for: Callable[[str], WorkingCalendar],
    router: Router,
    *,
    force: bool = False,
) -> list[Digest]:
    """Queue this week's digest for every partnership whose digest is due at ``now``."""
    local = now.astimezone(LONDON)
    today = local.date()
    sent: list[Digest] = []
    with session_scope(engine) as session:
        for partnership in case_store.partnerships(session):
            calendar = calendar_for(partnership.key)
            due_today = first_working_day_of_week(today, calendar) == today
            if not force and (not due_today or local.time() < policy.send_time):
                continue
            digest = compose(session, partnership, today)
            # Closed and withdrawn cases are not in it (open_deadlines: open cases only).
            for transport, recipient in router(partnership.key, "channel", None):
                added = outbox.enqueue(
                    session,
                    transport=transport,
                    recipient=recipient,
                    subject=digest.title,
                    body=digest.text,
                    payload={"kind": "digest", "title": digest.title,
                             "sections": [section.as_payload() for section in digest.sections]},
                    dedupe_key=f"digest:{partnership.key}:{digest.week}:{transport}:{recipient}",
                    not_before=now,
                )
                if added and digest not in sent:
                    sent.append(digest)
    return sent
