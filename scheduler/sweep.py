"""The reminder sweep: turn due reminder rows into outbox messages, exactly once.

One transaction per batch: lock a batch of deadlines that have due reminders (other workers
skip them), pick for each deadline the latest due occasion (after downtime that is the one that
matters; the stale ones are marked superseded, never sent as a burst), write one outbox message
per recipient, mark the reminder sent and, for an escalation, plan the next working day's. If the
worker dies before the commit, nothing happened and the next sweep does it all again.

Reminders go out only on working days at or after the policy's send time (Europe/London).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine
from sqlmodel import Session

from scheduler.calendar import LONDON, WorkingCalendar
from scheduler.reminders import URGENCY, Occasion, ReminderPolicy, next_overdue, working_days_phrase
from store import outbox
from store import reminders as reminder_store
from store.db import session_scope
from store.models import Case, DeadlineRow, Partnership, ReminderRow

log = logging.getLogger(__name__)

# (partnership key, audience, case owner) -> [(transport kind, recipient)]
Router = Callable[[str, str, str | None], list[tuple[str, str]]]


@dataclass(frozen=True)
class SentReminder:
    case: str
    deadline: str
    label: str
    occasion: str
    due: date
    send_on: date
    recipients: tuple[tuple[str, str], ...]
    why: str = ""  # "due in 2 working days", "overdue by 1 working day": why it goes out now

    def as_json(self) -> dict[str, object]:
        return {
            "case": self.case,
            "deadline": self.deadline,
            "label": self.label,
            "occasion": self.occasion,
            "due": self.due.isoformat(),
            "sent_on": self.send_on.isoformat(),
            "recipients": [{"transport": t, "recipient": r} for t, r in self.recipients],
            "why": self.why,
        }


@dataclass
class SweepResult:
    sent: list[SentReminder] = field(default_factory=list)
    superseded: int = 0
    cancelled: int = 0
    held: str | None = None  # why nothing was sent (a weekend, before the send time)


def _audiences(occasion: Occasion, policy: ReminderPolicy, key: str) -> list[str]:
    if occasion is Occasion.OVERDUE:
        return ["owner", *policy.for_key(key).escalate_to]
    return ["channel", "owner"]


# Deadline statuses that still want reminders: a duty not yet met ("open") and something the
# partnership waits for from someone else ("awaited": the Panel's response), which is chased,
# never escalated as the partnership's failure.
REMINDED_STATUSES = ("open", "awaited")


def _message_text(case: Case, deadline: DeadlineRow, occasion: Occasion, phrase: str) -> str:
    """Plain text: the case reference and the step, never the child."""
    if deadline.status == "awaited":
        return (
            f"Chase: {case.reference} — {deadline.label}: still awaited "
            f"(expected by {deadline.due.strftime('%a %d %b %Y')}; this is the other body's aim, "
            "not a deadline the partnership has missed).\n"
            f"Rule: {deadline.rule}.\nSource: {deadline.source}."
        )
    title = "Escalation" if occasion is Occasion.OVERDUE else "Reminder"
    return (
        f"{title}: {case.reference} — {deadline.label} is {phrase} "
        f"(due {deadline.due.strftime('%a %d %b %Y')}).\n"
        f"Rule: {deadline.rule}.\nSource: {deadline.source}."
    )


class Sweeper:
    """Runs sweeps against one database with one policy; calendars and routes per partnership."""

    def __init__(
        self,
        engine: Engine,
        policy: ReminderPolicy,
        calendar_for: Callable[[str], WorkingCalendar],
        router: Router,
        *,
        batch_size: int = 200,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.calendar_for = calendar_for
        self.router = router
        self.batch_size = batch_size

    def preview(self, now: datetime) -> SweepResult:
        """What a sweep at ``now`` would send, to whom and why, without sending, writing or
        consuming anything: the same sweep, in one transaction that is rolled back."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                return self.sweep(now, session=session)
            finally:
                session.rollback()

    def sweep(self, now: datetime, *, session: Session | None = None) -> SweepResult:
        """Send what is due at ``now``: one committed transaction per batch, or everything in
        ``session`` (the caller's transaction; preview rolls it back)."""
        result = SweepResult()
        local = now.astimezone(LONDON)
        today = local.date()
        if not WorkingCalendar().is_working_day(today):
            result.held = f"{today.isoformat()} is not a working day in England"
            return result
        if local.time() < self.policy.send_time:
            result.held = f"before the send time ({self.policy.send_time:%H:%M} Europe/London)"
            return result
        held_back: set[int] = set()
        while True:
            with nullcontext(session) if session is not None else session_scope(self.engine) as batch:
                if not self._batch(batch, now, today, held_back, result):
                    break
        return result

    def _batch(
        self, session: Session, now: datetime, today: date, held_back: set[int], result: SweepResult
    ) -> bool:
        """One batch of due deadlines; False when there were none left."""
        ids = reminder_store.claim_due_deadlines(session, now, self.batch_size + len(held_back))
        fresh = [i for i in ids if i not in held_back]
        if not fresh:
            return False
        rows = reminder_store.due_reminders(session, fresh, now)
        loaded = reminder_store.preload(session, fresh)
        groups: dict[int, list[ReminderRow]] = defaultdict(list)
        for row in rows:
            groups[row.deadline_id].append(row)
        for deadline_id in fresh:
            group = groups.get(deadline_id)
            if not group:  # handled by another worker between our two reads
                continue
            deadline, case, partnership = loaded[deadline_id]
            if not self._handle(session, deadline, case, partnership, group, now, today, result):
                held_back.add(deadline_id)
        return True

    def _handle(
        self,
        session: Session,
        deadline: DeadlineRow,
        case: Case,
        partnership: Partnership,
        group: list[ReminderRow],
        now: datetime,
        today: date,
        result: SweepResult,
    ) -> bool:
        """Send the latest due occasion of one deadline; False if held (a closure day)."""
        deadline_id = deadline.id or 0
        if deadline.status not in REMINDED_STATUSES or case.status != "open":
            reminder_store.mark(session, group, reminder_store.CANCELLED)
            result.cancelled += len(group)
            return True
        calendar = self.calendar_for(partnership.key)
        if not calendar.is_open_day(today):  # a closure day: held until the office reopens
            return False

        latest = max(group, key=lambda r: (r.send_at, URGENCY[Occasion(r.occasion)]))
        occasion = Occasion(latest.occasion)
        stale = {r.id: r for r in group if r is not latest}
        if today > deadline.due:
            if self.policy.for_key(deadline.key).overdue == "none":
                reminder_store.mark(session, group, reminder_store.SUPERSEDED)
                result.superseded += len(group)
                return True
            occasion = Occasion.OVERDUE
            # Today's escalation (and any planned for today but not yet due) is this one.
            for row in reminder_store.pending_up_to(session, deadline_id, today):
                if row.id != latest.id:
                    stale[row.id] = row
        phrase = working_days_phrase(deadline.due, today, calendar)
        if deadline.status == "awaited" and today > deadline.due:
            phrase = "still awaited"
        recipients: list[tuple[str, str]] = []
        for audience in _audiences(occasion, self.policy, deadline.key):
            for route in self.router(partnership.key, audience, case.owner):
                if route not in recipients:
                    recipients.append(route)
        text = _message_text(case, deadline, occasion, phrase)
        payload = {
            "kind": "reminder",
            "reference": case.reference,
            "deadline": deadline.key,
            "label": deadline.label,
            # A chase for something awaited is not an escalation of a missed duty.
            "occasion": "chase" if deadline.status == "awaited" else occasion.value,
            "phrase": phrase,
            "due": deadline.due.isoformat(),
            "due_text": deadline.due.strftime("%a %d %b %Y"),
            "rule": deadline.rule,
            "source": deadline.source,
        }
        subject = f"[{case.reference}] {deadline.label}: {phrase}"
        for transport, recipient in recipients:
            outbox.enqueue(
                session,
                transport=transport,
                recipient=recipient,
                subject=subject,
                body=text,
                payload=payload,
                dedupe_key=f"reminder:{latest.id}:{transport}:{recipient}"[:200],
                case_id=case.id,
                not_before=now,
            )
        reminder_store.mark(session, [latest], reminder_store.SENT, at=now)
        if stale:
            reminder_store.mark(session, stale.values(), reminder_store.SUPERSEDED)
            result.superseded += len(stale)
        if occasion is Occasion.OVERDUE:
            follow_up = next_overdue(deadline.key, today, self.policy, calendar)
            if follow_up is not None:
                reminder_store.add_reminder(
                    session, deadline, follow_up.occasion.value, follow_up.send_on, follow_up.send_at
                )
        result.sent.append(
            SentReminder(
                case=case.reference,
                deadline=deadline.key,
                label=deadline.label,
                occasion=occasion.value,
                due=deadline.due,
                send_on=today,
                recipients=tuple(recipients),
                why=f"{deadline.label} is {phrase}",
            )
        )
        log.info("reminder %s for %s/%s sent to %d recipient(s)", occasion.value, case.reference, deadline.key, len(recipients))
        return True
