"""Putting a released message back where the intake watcher reads it (``intake release``), and
a copy of an original for a person to read (``intake show ID --save-original FILE``).

The ledger side (the row marked released, the audit entry) is bot.intake_review's; this puts
the message itself back. For the ``<data dir>/inbox/`` folder: the encrypted original in
``inbox/quarantine/`` is decrypted to a hidden file in ``inbox/``, given the archive's
modification time (when the message first arrived: the awareness moment), and renamed to
``inbox/released-<Q-id>.eml`` (never the name it came with, which may name the child); then
its note is renamed ``<...>.<Q-id>.released.txt`` and the encrypted copy removed (the message
is in the inbox by then, and the watcher archives it again once it is processed). A plain-text
original an older version quarantined is renamed the same way. For an IMAP mailbox: moved from
its quarantine folder back to the folder it watches (IMAP MOVE keeps the INTERNALDATE).
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.settings import MailboxSettings, Settings
from handlers.mail.folder_watcher import NOTE_SUFFIX, quarantine_id_in
from store import crypto, originals


class OriginalUnavailable(RuntimeError):
    """The original cannot be copied out here (one line saying where it is instead)."""


def save_original(settings: Settings, *, mailbox: str, quarantine_id: str, message_sha256: str | None,
                  target: Path) -> None:
    """Decrypt the inbox folder's archived original of a message to ``target`` (mode 0600,
    its arrival time as the file's modification time), for a person to read: a form the intake
    could not read, before opening its case by hand. An IMAP or Graph mailbox keeps its
    originals on the mail server, where the officers read them; nothing is copied then."""
    if mailbox != originals.FOLDER_MAILBOX:
        box = next((b for b in settings.imap_mailboxes() if b.name == mailbox), None)
        where = (f"folder {box.quarantine_folder} (or {box.processed_folder}) of mailbox {mailbox}" if box
                 else f"mailbox {mailbox}")
        raise OriginalUnavailable(f"{quarantine_id} came from {mailbox}: its original is in the {where}, "
                                  "on the mail server; read it there")
    if target.exists():
        raise OriginalUnavailable(f"{target} exists: name a new file (nothing is overwritten)")
    if not target.parent.is_dir():
        raise OriginalUnavailable(f"{target.parent} is not a folder")
    stored = originals.find(originals.folders_of(settings.inbox_dir), message_sha256) if message_sha256 else None
    if stored is None:
        raise OriginalUnavailable(f"the original of {quarantine_id} is not kept in {settings.inbox_dir}/ "
                                  "(erased by retention, still waiting in the inbox, or moved by hand)")
    try:
        originals.restore(stored, target)
    except (crypto.DataKeyMissing, crypto.DataKeyInvalid) as exc:
        raise OriginalUnavailable(str(exc)) from None
    except OSError as exc:
        raise OriginalUnavailable(f"{target}: cannot write: {exc.strerror or exc}") from None


class ReleaseFailed(RuntimeError):
    """The message could not be moved back (one line); the ledger says released, so running
    ``intake release`` again tries the move again."""


def return_to_inbox(settings: Settings, *, mailbox: str, quarantine_id: str, message_id: str) -> str:
    """Move the message back; returns where it now waits, in words."""
    if mailbox == originals.FOLDER_MAILBOX:
        return _folder(settings.inbox_dir, quarantine_id)
    for box in settings.imap_mailboxes():
        if box.name == mailbox:
            return _imap(box, message_id)
    raise ReleaseFailed(f"mailbox {mailbox!r} of {quarantine_id} is not configured here")


def _folder(inbox: Path, quarantine_id: str) -> str:
    quarantine = inbox / "quarantine"
    for note in sorted(quarantine.glob("*" + NOTE_SUFFIX)):
        if quarantine_id_in(note) != quarantine_id:
            continue
        stored = quarantine / note.name.removesuffix(NOTE_SUFFIX)
        if not stored.exists():
            continue
        target = _free_name(inbox, f"released-{quarantine_id}.eml")
        if originals.is_archive(stored):
            try:
                originals.restore(stored, target)
            except (crypto.DataKeyMissing, crypto.DataKeyInvalid) as exc:
                raise ReleaseFailed(str(exc)) from None
            kept_as = stored.name
        else:  # a plain-text original of an older version: a rename keeps its mtime; its name goes
            os.replace(stored, target)
            kept_as = "legacy"
        os.replace(note, _free_name(quarantine, f"{kept_as}.{quarantine_id}.released.txt"))
        stored.unlink(missing_ok=True)
        return f"back in {inbox}/"
    raise ReleaseFailed(f"{quarantine_id} is not in {quarantine}/ (moved by hand?)")


def _free_name(folder: Path, name: str) -> Path:
    """``name`` in ``folder``, or ``<stem>-1<suffix>``, ``-2``... if that is taken."""
    target = folder / name
    stem, suffix = os.path.splitext(name)
    n = 1
    while target.exists():
        target = folder / f"{stem}-{n}{suffix}"
        n += 1
    return target


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
