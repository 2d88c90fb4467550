"""Putting a released message back where the intake watcher reads it (``intake release``).

The ledger side (the row marked released, the audit entry) is bot.intake_review's; this moves
the message itself: from ``<data dir>/inbox/quarantine/`` back into ``inbox/`` (a rename, so
the file keeps its modification time, which is when it first arrived: the awareness moment),
or, for an IMAP mailbox, from its quarantine folder back to the folder it watches (IMAP MOVE
keeps the message's INTERNALDATE). Nothing is deleted: the quarantine note is kept, renamed.
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.settings import MailboxSettings, Settings


class ReleaseFailed(RuntimeError):
    """The message could not be moved back (one line); the ledger says released, so running
    ``intake release`` again tries the move again."""


def return_to_inbox(settings: Settings, *, mailbox: str, quarantine_id: str, message_id: str) -> str:
    """Move the message back; returns where it now waits, in words."""
    if mailbox == "inbox":
        return _folder(settings.inbox_dir, quarantine_id)
    for box in settings.imap_mailboxes():
        if box.name == mailbox:
            return _imap(box, message_id)
    raise ReleaseFailed(f"mailbox {mailbox!r} of {quarantine_id} is not configured here")


def _folder(inbox: Path, quarantine_id: str) -> str:
    quarantine = inbox / "quarantine"
    for note in sorted(quarantine.glob("*.reason.txt")):
        lines = note.read_text(encoding="utf-8", errors="replace").splitlines()
        if f"quarantine id: {quarantine_id}" not in lines:
            continue
        message = quarantine / note.name.removesuffix(".reason.txt")
        if not message.exists():
            continue
        target = inbox / message.name
        n = 1
        while target.exists():
            target = inbox / f"{message.stem}-released-{n}{message.suffix}"
            n += 1
        os.replace(note, quarantine / f"{message.name}.{quarantine_id}.released.txt")
        os.replace(message, target)
        return f"back in {inbox}/"
    raise ReleaseFailed(f"{quarantine_id} is not in {quarantine}/ (moved by hand?)")


def _imap(config: MailboxSettings, message_id: str) -> str:
    from imap_tools import AND, H

    from handlers.mail.imap_watcher import connect

    try:
        with connect(config) as mail:
            mail.folder.set(config.quarantine_folder)
            uids = list(mail.uids(AND(header=H("Message-ID", message_id))))
            if not uids:
                raise ReleaseFailed(f"no message {message_id} in {config.quarantine_folder} of mailbox {config.name}")
            mail.move(uids, config.folder)
    except ReleaseFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - one line for the command line, whatever IMAP said
        raise ReleaseFailed(f"could not move it back over IMAP: {type(exc).__name__}: {exc}") from None
    return f"back in {config.folder} of mailbox {config.name}"
