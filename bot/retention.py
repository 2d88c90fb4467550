"""Retention (issue 16): erase the identifying details of cases closed longer ago than their
partnership's ``retention_years_after_close``, never a case under a legal hold.

Erasure removes the children's details, the summary and milestone notes, the text and
attachments of the messages sent about the case (the outbox keeps them; who was written to
and when stay), and the referral originals the embedded mailbox archived for the case (store/originals.py: found by the ledger's
message hashes); the case's reference, dates, milestones and deadlines stay for the yearly
figures, and each erasure is audited (``case.erased``, with no detail that identifies the
child). ``--dry-run`` says what would go and deletes nothing. The originals of mail that never
became a case follow the same period from their arrival (``review_messages``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from bot.cases import CaseNotFound
from bot.core.retention import erase_after, is_due
from bot.settings import Settings
from store import cases as case_repo
from store import originals
from store import retention as repo
from store.db import session_scope


@dataclass(frozen=True)
class RetentionItem:
    reference: str
    partnership: str
    closed_on: date
    erase_on: date
    held: bool

    def as_json(self) -> dict[str, object]:
        return {"reference": self.reference, "partnership": self.partnership,
                "closed_on": self.closed_on.isoformat(), "erase_on": self.erase_on.isoformat(),
                "held": self.held}


def review(engine: Engine, settings: Settings, today: date, *, apply: bool, actor: str) -> list[RetentionItem]:
    """Cases past their retention period (held ones too, marked held); with ``apply`` the
    unheld ones are erased, each in the same transaction as its audit entry."""
    items: list[RetentionItem] = []
    with session_scope(engine) as session:
        for partnership in case_repo.partnerships(session):
            try:
                years = settings.partnership(partnership.key).retention_years_after_close
            except ValueError:
                continue  # a partnership no longer configured: nobody has set its schedule
            if years is None or partnership.id is None:
                continue
            for case in repo.ended_cases(session, partnership.id):
                closed = case.status_changed_at.date() if case.status_changed_at else None
                held = case.legal_hold is not None
                if closed is None or not (is_due(closed, years, today, held=False, erased=False)):
                    continue
                items.append(RetentionItem(case.reference, partnership.key, closed, erase_after(closed, years), held))
                if apply and not held and is_due(closed, years, today, held=held, erased=False):
                    children = repo.erase_case(session, case)
                    removed = _erase_originals(session, settings, case.id)
                    blanked = repo.erase_messages(session, case.id) if case.id is not None else 0
                    case_repo.audit(session, actor=actor, action="case.erased", case_id=case.id,
                                    detail={"reference": case.reference, "policy_years": years,
                                            "closed_on": closed.isoformat(), "children_removed": children,
                                            "originals_removed": removed, "messages_erased": blanked})
    return items


@dataclass(frozen=True)
class HeldMessageItem:
    """A message never linked to a case whose archived original is past the period."""

    id: str  # "Q-12", as `intake list` shows it
    received_on: date
    erase_on: date

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "received_on": self.received_on.isoformat(), "erase_on": self.erase_on.isoformat()}


def review_messages(engine: Engine, settings: Settings, today: date, *, apply: bool,
                    actor: str) -> list[HeldMessageItem]:
    """The inbox folder's originals of mail that never became a case (a quarantined message
    nobody opened a case from: a misdirected referral, spam) follow the same period, counted
    from when the message arrived, under the partnership that folder serves. With ``apply``
    the encrypted original is deleted (the ledger row, identifiers only, stays), audited as
    ``intake.original_erased``. To keep one longer, open its case (``intake open-case``) and
    hold the case."""
    try:
        partnership = settings.partnership(settings.partnership_for_mailbox(originals.FOLDER_MAILBOX))
    except ValueError:
        return []
    years = partnership.retention_years_after_close
    if years is None:
        return []
    folders = originals.folders_of(settings.inbox_dir)
    items: list[HeldMessageItem] = []
    with session_scope(engine) as session:
        for row in repo.unlinked_messages(session, originals.FOLDER_MAILBOX):
            received = row.received_at.date()
            sha256 = row.message_sha256 or ""
            if not is_due(received, years, today, held=False, erased=False):
                continue
            if originals.find(folders, sha256) is None:
                continue  # erased before, or waiting in the inbox after a release
            items.append(HeldMessageItem(f"Q-{row.id}", received, erase_after(received, years)))
            if apply:
                originals.erase_all(folders, sha256)
                case_repo.audit(session, actor=actor, action="intake.original_erased",
                                detail={"quarantine_id": f"Q-{row.id}", "policy_years": years,
                                        "received_on": received.isoformat()})
    return items


def _erase_originals(session: Session, settings: Settings, case_id: int | None) -> int:
    """Delete the case's archived referral originals; how many went. Inside the erasure's
    transaction, before it commits: if the commit then failed, the case would be erased at the
    next run, its originals already gone, rather than erased with its originals left behind."""
    if case_id is None:
        return 0
    return sum(originals.erase_all(_original_folders(settings, mailbox), sha256)
               for sha256, mailbox in repo.case_messages(session, case_id))


def _original_folders(settings: Settings, mailbox: str) -> tuple[Path, ...]:
    """Where a mailbox's originals are archived: the embedded inbox folder's; an IMAP or Graph
    mailbox keeps its own (on the mail server), none here."""
    return originals.folders_of(settings.inbox_dir) if mailbox == originals.FOLDER_MAILBOX else ()


def hold(engine: Engine, reference: str, *, reason: str | None, actor: str) -> None:
    """Put a legal hold on a case (``reason``), or lift it (None); audited either way."""
    with session_scope(engine) as session:
        case = case_repo.get_case(session, reference, for_update=True)
        if case is None or case.id is None:
            raise CaseNotFound(f"no case with reference {reference!r}")
        repo.set_hold(session, case, reason)
        case_repo.audit(session, actor=actor, action="case.hold" if reason else "case.hold_lifted",
                        case_id=case.id, detail={"reference": case.reference, **({"reason": reason} if reason else {})})
