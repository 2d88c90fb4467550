"""Quarantined mail made workable: list, show, release, open a case by hand (issue 11 item 7).

The mail intake (handlers/mail/intake.py) quarantines what it cannot or must not read; this is
what a person does with it afterwards. Every decision is audited and nothing is ever deleted:
the ledger row stays, a release only marks it so the next fetch processes the message again
(after the allow-list or the label synonyms were fixed), and a case opened by hand is linked
to it. Moving the message itself back into the watched mailbox is the mail adapter's part
(handlers/mail/release.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from bot.cases import CaseNotFound, CaseService, CaseView, LifecycleError
from store import cases as case_repo
from store import intake as ledger
from store.db import session_scope
from store.models import IntakeMessage


class IntakeNotFound(CaseNotFound):
    """No ledger row with that id (one line)."""


@dataclass(frozen=True)
class IntakeItem:
    id: str  # "Q-12": how notices and the quarantine folder name it
    row_id: int
    received_at: datetime
    sender_domain: str | None
    status: str
    reason: str | None
    mailbox: str
    message_id: str
    reference: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "received_at": self.received_at.isoformat(),
            "sender_domain": self.sender_domain,
            "status": self.status,
            "reason": self.reason,
            "mailbox": self.mailbox,
            "message_id": self.message_id,
            "reference": self.reference,
        }


def parse_id(text: str) -> int:
    """``Q-12``, ``q12`` or ``12``."""
    cleaned = text.strip().upper().removeprefix("Q").lstrip("-")
    if not cleaned.isdigit():
        raise IntakeNotFound(f"{text!r} is not an intake id (Q-12, as `intake list` shows)")
    return int(cleaned)


class IntakeReview:
    """The ledger as a person works it; one transaction per call."""

    # What a person may act on: held for a human, or released and not yet fetched again.
    HELD = (ledger.QUARANTINED, ledger.IGNORED, ledger.RELEASED)

    def __init__(self, engine: Engine, cases: CaseService) -> None:
        self.engine = engine
        self.cases = cases

    def _item(self, session: Session, row: IntakeMessage) -> IntakeItem:
        assert row.id is not None
        received = row.received_at if row.received_at.tzinfo else row.received_at.replace(tzinfo=UTC)
        return IntakeItem(
            id=f"Q-{row.id}", row_id=row.id, received_at=received, sender_domain=row.sender_domain,
            status=row.status, reason=row.reason, mailbox=row.mailbox, message_id=row.message_id,
            reference=case_repo.reference_of(session, row.case_id) if row.case_id else None,
        )

    def _row(self, session: Session, text: str, *, for_update: bool = False) -> IntakeMessage:
        row = ledger.get(session, parse_id(text), for_update=for_update)
        if row is None:
            raise IntakeNotFound(f"no intake message {text!r} (see `safeguard-bot intake list`)")
        return row

    def list(self, *, status: str | None = None) -> list[IntakeItem]:
        with Session(self.engine) as session:
            return [self._item(session, r) for r in ledger.messages(session, status=status)]

    def show(self, text: str) -> tuple[IntakeItem, list[dict[str, Any]]]:
        """The message's ledger entry and every audit entry that names it."""
        with Session(self.engine) as session:
            item = self._item(session, self._row(session, text))
            trail = [
                {"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "detail": e.detail}
                for e in case_repo.audit_naming(session, "quarantine_id", item.id)
            ]
            return item, trail

    def original_of(self, text: str) -> tuple[IntakeItem, str | None]:
        """The message and its ledger hash, which names its archived original (store/originals.py)."""
        with Session(self.engine) as session:
            row = self._row(session, text)
            return self._item(session, row), row.message_sha256

    def original_saved(self, text: str, *, actor: str) -> None:
        """Audit a copy of a message's original taken out to read (it names the child): who,
        when, which message, and its case if it has one (so ``case history`` shows it too)."""
        with session_scope(self.engine) as session:
            row = self._row(session, text)
            case_repo.audit(session, actor=actor, action="intake.original_saved", case_id=row.case_id,
                            detail={"quarantine_id": f"Q-{row.id}", "mailbox": row.mailbox})

    def release(self, text: str, *, actor: str) -> IntakeItem:
        """Mark a held message for processing again (audited). The mail adapter then moves it
        back into the watched mailbox; a released message may be released again (if that move
        failed, it is tried again)."""
        with session_scope(self.engine) as session:
            row = self._row(session, text, for_update=True)
            if row.status not in self.HELD:
                raise LifecycleError(f"Q-{row.id} is {row.status}, not held: nothing to release")
            previous = row.status
            ledger.set_status(session, row, ledger.RELEASED)
            case_repo.audit(session, actor=actor, action="intake.released",
                            detail={"quarantine_id": f"Q-{row.id}", "from": previous,
                                    "mailbox": row.mailbox})
            return self._item(session, row)

    def open_case(self, text: str, *, aware: date, actor: str, owner: str | None = None) -> CaseView:
        """Open a case by hand from a held message (its form could not be read, say): the case
        and the ledger link commit together, audited on both sides."""
        with session_scope(self.engine) as session:
            row = self._row(session, text, for_update=True)
            if row.case_id is not None:
                reference = case_repo.reference_of(session, row.case_id)
                raise LifecycleError(f"Q-{row.id} already has case {reference}")
            if row.status not in self.HELD:
                raise LifecycleError(f"Q-{row.id} is {row.status}, not held")
            partnership = self.cases.settings.partnership_for_mailbox(row.mailbox)
            view = self.cases.open_case(
                la_aware=aware, actor=actor, session=session, owner=owner, partnership_key=partnership,
                summary=f"Opened by hand from quarantined e-mail Q-{row.id} (from {row.sender_domain or 'unknown sender'})",
                details={"intake": {"message_id": row.message_id, "mailbox": row.mailbox,
                                    "received_at": row.received_at.isoformat(),
                                    "sender_domain": row.sender_domain, "quarantine_id": f"Q-{row.id}"}},
            )
            case_id = self.cases.case_id(session, view.reference)
            ledger.set_status(session, row, ledger.OPENED, case_id=case_id)
            case_repo.audit(session, actor=actor, action="intake.case_opened", case_id=case_id,
                            detail={"quarantine_id": f"Q-{row.id}", "reference": view.reference})
            return view
