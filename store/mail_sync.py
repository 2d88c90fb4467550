"""The Microsoft Graph delta link per mailbox (the ``mail_sync_state`` table in store/models.py).

Saved only at the end of a round in which every reported message reached an outcome, so a
restart replays from the last such point; replayed messages are recognised by the intake ledger
(store/intake.py) and only moved, never processed twice.
"""

from __future__ import annotations

from sqlmodel import Session

from store.models import MailSyncState, utcnow


def delta_link(session: Session, mailbox: str, folder: str) -> str | None:
    """The saved link for this mailbox's folder (None if never synced, or another folder)."""
    row = session.get(MailSyncState, mailbox)
    if row is None or row.folder != folder:
        return None
    return row.delta_link


def save_delta_link(session: Session, mailbox: str, folder: str, link: str | None) -> None:
    """Record where the next round starts; ``None`` forgets it (a full resync follows)."""
    row = session.get(MailSyncState, mailbox)
    if link is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        session.add(MailSyncState(mailbox=mailbox, folder=folder, delta_link=link))
        return
    row.folder, row.delta_link, row.updated_at = folder, link, utcnow()
    session.add(row)
