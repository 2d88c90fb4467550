"""The embedded default mailbox: ``<data dir>/inbox/*.eml``, the same pipeline as IMAP.

Drop a message in as ``inbox/<anything>.eml`` (write it under another name and rename it, so a
half-written file is never read). Once its outcome is committed it is archived, encrypted under
the data key, as ``inbox/processed/<sha>.eml.enc`` or ``inbox/quarantine/<sha>.eml.enc`` (with
``<sha>.eml.enc.reason.txt`` beside it), and only then is the plain-text file removed
(store/originals.py: ``<sha>`` is the ledger's ``message_sha256``; never the file's own name,
which people make the child's). Nothing is lost: a crash before the archive is written leaves
the file in the inbox, and one after finds the archive already there and only removes the file.
A file too large to read, or one the pipeline crashed on three times, goes through the
pipeline's ``quarantine`` like any other quarantined message (ledger, audit, a human told), and
only then is archived (the too-large one streamed, never read whole). The file's modification
time is when it reached the inbox, i.e. the awareness moment; the archive keeps it.

Without a data key nothing is read or moved: the mail waits in the inbox, and one line says
why (``run`` does not start the intake without a key). Originals an older version kept in plain
text in processed/ and quarantine/ are encrypted in place at the first scan.
Polling (default every 0.5 s) rather than inotify: portable, and cheap for a folder this small.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from handlers.mail.intake import (
    AFTER_COMMIT,
    AFTER_FETCH,
    Checkpoint,
    IncomingMail,
    IntakeOutcome,
    IntakePipeline,
    message_sha256,
    unread_sha256,
)
from handlers.mail.notices import redact_reason
from store import crypto, originals
from store import intake as ledger

log = logging.getLogger(__name__)
_HEADER_END = re.compile(rb"\r?\n\r?\n")

MAX_FAILURES = 3  # a message that crashes the pipeline this often is quarantined, not retried
HEAD_BYTES = 64 * 1024  # what is read of a file too large to read: enough for its headers


NOTE_SUFFIX = ".reason.txt"  # a quarantined message's note: why, and its quarantine id
# A note an older version named after the message's file: "<file>.eml.reason.txt", or, once
# released, "<file>.eml.Q-12.released.txt".
_LEGACY_NOTE = re.compile(r"^(?P<file>.+?\.eml)(?P<rest>\.reason\.txt|\.Q-\d+\.released(?:-\d+)?\.txt)$")
_QUARANTINE_ID = re.compile(r"^quarantine id: (Q-\d+)$", re.MULTILINE)


def quarantine_id_in(note: Path) -> str | None:
    """The quarantine id (``Q-12``) a note names, if it names one."""
    found = _QUARANTINE_ID.search(note.read_text(encoding="utf-8", errors="replace"))
    return found.group(1) if found else None


class FolderInbox:
    def __init__(
        self,
        root: Path,
        pipeline: IntakePipeline,
        *,
        poll_seconds: float = 0.5,
        partnership: str | None = None,
        on_outcome: Callable[[IntakeOutcome], None] | None = None,
        max_message_bytes: int | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.root = root
        self.pipeline = pipeline
        # Larger files are quarantined unread; the same limit as an IMAP mailbox's.
        self.max_message_bytes = max_message_bytes or pipeline.settings.intake_max_message_bytes
        self.poll_seconds = poll_seconds
        self.partnership = partnership
        self.on_outcome = on_outcome
        self.processed = root / "processed"
        self.quarantine = root / "quarantine"
        self._failures: dict[str, int] = {}
        self._keyless_told = False
        self._upgraded = False  # plain-text originals of an older version: encrypted at the first scan
        # Called with AFTER_FETCH / AFTER_COMMIT for every message (handlers.mail.intake).
        self.checkpoint: Checkpoint = checkpoint or (lambda _stage: None)

    def scan(self) -> list[IntakeOutcome]:
        """Process every .eml waiting in the inbox, oldest first (none without a data key)."""
        if not crypto.has_key():
            self._tell_keyless()
            return []
        for folder in (self.root, self.processed, self.quarantine):
            folder.mkdir(parents=True, exist_ok=True)
        if not self._upgraded:
            self._encrypt_kept_plaintext()
            self._upgraded = True
        waiting = []
        for path in self.root.glob("*.eml"):
            try:
                if path.is_file() and not path.name.startswith("."):
                    waiting.append((path.stat().st_mtime, path.name, path))
            except FileNotFoundError:
                continue
        outcomes = []
        for _, _, path in sorted(waiting):
            outcome = self._one(path)
            if outcome is not None:
                outcomes.append(outcome)
                if self.on_outcome is not None:
                    self.on_outcome(outcome)
        return outcomes

    def _one(self, path: Path) -> IntakeOutcome | None:
        try:
            stat = path.stat()
            received = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
            if stat.st_size > self.max_message_bytes:
                return self._too_large(path, stat.st_size, received, stat.st_mtime_ns)
            raw = path.read_bytes()
        except FileNotFoundError:
            return None  # taken by another process
        self.checkpoint(AFTER_FETCH)
        mail = IncomingMail(raw=raw, received_at=received, mailbox=originals.FOLDER_MAILBOX, partnership=self.partnership)
        try:
            outcome = self.pipeline.process(mail)
        except OperationalError:
            raise  # the database is down: retry the whole scan later, count nothing
        except Exception as exc:  # noqa: BLE001 - never lose the file; give up on it after a few tries
            count = self._failures.get(path.name, 0) + 1
            self._failures[path.name] = count
            log.error("inbox: processing file %s failed (%s), attempt %d", _file_id(path.name), type(exc).__name__, count)
            if count < MAX_FAILURES:
                return None
            outcome = self._quarantine(path, mail, f"could not be processed ({type(exc).__name__})")
            if outcome is None:
                return None
        self.checkpoint(AFTER_COMMIT)
        self._failures.pop(path.name, None)
        self._archive(path, outcome, outcome.message_sha256 or message_sha256(raw), raw=raw, mtime_ns=stat.st_mtime_ns)
        return outcome

    def _archive(self, path: Path, outcome: IntakeOutcome, sha256: str, *, raw: bytes | None,
                 mtime_ns: int) -> None:
        """After the commit: the message encrypted into processed/ or quarantine/ (``raw``, or
        the file streamed when it is None), then the plain-text file removed. If this fails the
        file stays in the inbox; the next scan finds its outcome in the ledger and tries again."""
        folder = self.processed if outcome.destination == "processed" else self.quarantine
        try:
            if outcome.destination == "quarantine":
                self._write_note(originals.archive_name(sha256), outcome)
            if raw is None:
                originals.store_file(path, folder, sha256, mtime_ns=mtime_ns)
            else:
                originals.store_bytes(raw, folder, sha256, mtime_ns=mtime_ns)
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.error("inbox: archiving file %s failed (%s); it stays in the inbox and is tried again",
                      _file_id(path.name), type(exc).__name__)

    def _write_note(self, archive_name: str, outcome: IntakeOutcome) -> None:
        """The quarantine note: identifiers and the (redacted) reason, never what the message says."""
        note = [
            f"status: {outcome.status}",
            f"quarantine id: {outcome.quarantine_id}",
            f"reason: {redact_reason(outcome.reason or '')}",
            f"message id: {outcome.message_id}",
        ]
        (self.quarantine / (archive_name + NOTE_SUFFIX)).write_text("\n".join(note) + "\n", encoding="utf-8")

    def _too_large(self, path: Path, size: int, received: datetime, mtime_ns: int) -> IntakeOutcome | None:
        """Quarantine a file unread: only its head is read, for the sender and Message-ID."""
        head = _head(path)
        limit = self.max_message_bytes
        reason = (f"message too large to read ({size / (1024 * 1024):.1f} MiB; the limit is "
                  f"{limit / (1024 * 1024):.1f} MiB)")
        outcome = self._quarantine(
            path, IncomingMail(raw=head, received_at=received, mailbox=originals.FOLDER_MAILBOX, partnership=self.partnership),
            reason, unread_size=size, sender_reason=reason,
        )
        if outcome is None:
            return None
        self._archive(path, outcome, outcome.message_sha256 or unread_sha256(head, size), raw=None,
                      mtime_ns=mtime_ns)
        log.warning("inbox: file %s quarantined unread as %s: %s", _file_id(path.name), outcome.quarantine_id, reason)
        return outcome

    def _quarantine(self, path: Path, mail: IncomingMail, reason: str, **kwargs: Any) -> IntakeOutcome | None:
        """The pipeline's quarantine; if even that fails the file stays where it is (recorded
        nowhere yet, so moving it would lose it in silence) and is tried again next scan."""
        try:
            return self.pipeline.quarantine(mail, reason, **kwargs)
        except OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001
            log.error("inbox: quarantining file %s failed (%s); left in the inbox", _file_id(path.name),
                      type(exc).__name__)
            return None

    def _tell_keyless(self) -> None:
        if not self._keyless_told:
            log.error("inbox: no data key: messages are left in the inbox unread (originals are kept only "
                      "encrypted); %s", crypto.HOW_TO_MAKE_A_KEY)
            self._keyless_told = True

    # --- originals an older version kept in plain text ----------------------------------------

    def _encrypt_kept_plaintext(self) -> None:
        """processed/*.eml and quarantine/*.eml from a version before the archive: each is
        encrypted in place under its ledger name (its note renamed with it), then the plain text
        removed. A file that fails is left as it was and tried again at the next start."""
        for folder in (self.processed, self.quarantine):
            for path in originals.plaintext_originals([folder]):
                try:
                    self._encrypt_kept(folder, path)
                except (OSError, crypto.DataKeyInvalid) as exc:
                    log.error("inbox: encrypting kept file %s failed (%s); left as it is until the next start",
                              _file_id(path.name), type(exc).__name__)
        for note in sorted(self.quarantine.glob("*.txt")):
            found = _LEGACY_NOTE.match(note.name)
            if found is None:
                continue
            try:
                self._rename_note(note, self._kept_name(note) + found.group("rest"))
            except OSError as exc:
                log.error("inbox: renaming kept note %s failed (%s); left as it is until the next start",
                          _file_id(note.name), type(exc).__name__)

    def _encrypt_kept(self, folder: Path, path: Path) -> None:
        note = folder / (path.name + NOTE_SUFFIX)
        sha256 = self._ledger_sha256(note) or self._sha256_of_file(path)
        originals.store_file(path, folder, sha256, mtime_ns=path.stat().st_mtime_ns)
        if note.exists():
            self._rename_note(note, originals.archive_name(sha256) + NOTE_SUFFIX)
        path.unlink()
        log.info("inbox: kept file %s encrypted in %s/", _file_id(path.name), folder.name)

    def _ledger_sha256(self, note: Path) -> str | None:
        """The message's hash from the ledger row its note names (exact, even for a message
        quarantined unread, whose hash is of its headers and size)."""
        if not note.exists():
            return None
        quarantine_id = quarantine_id_in(note)
        if quarantine_id is None:
            return None
        with Session(self.pipeline.engine) as session:
            row = ledger.get(session, int(quarantine_id.removeprefix("Q-")))
            return row.message_sha256 if row is not None else None

    def _sha256_of_file(self, path: Path) -> str:
        """The hash the pipeline gave the file: of all of it, or, too large to read, of its head."""
        size = path.stat().st_size
        if size <= self.max_message_bytes:
            return message_sha256(path.read_bytes())
        return unread_sha256(_head(path), size)

    def _kept_name(self, note: Path) -> str:
        """What a legacy note of a message gone from here (released, moved by hand) is renamed
        to: its message's archive name if the ledger knows it, else a stand-in for its name."""
        sha256 = self._ledger_sha256(note)
        return originals.archive_name(sha256) if sha256 else f"legacy-{_file_id(note.name)}{originals.SUFFIX}"

    @staticmethod
    def _rename_note(note: Path, name: str) -> None:
        """Move a legacy note to its new name, its reason redacted on the way (an older version
        wrote the reason as given, which could quote an attachment's file name)."""
        target = note.with_name(name)
        if not target.exists():
            lines = note.read_text(encoding="utf-8", errors="replace").splitlines()
            kept = [f"reason: {redact_reason(line[len('reason: '):])}" if line.startswith("reason: ") else line
                    for line in lines]
            target.write_text("\n".join(kept) + "\n", encoding="utf-8")
        note.unlink()  # a crash before this: the next start finds the new note there and only unlinks

    def run(self, stop: threading.Event) -> None:
        """Scan until ``stop`` is set; errors back off (up to a minute) and never end the loop."""
        delay = self.poll_seconds
        while not stop.is_set():
            try:
                self.scan()
                delay = self.poll_seconds
            except Exception as exc:  # noqa: BLE001
                delay = min(max(delay * 2, 1.0), 60.0)
                log.warning("inbox: scan failed (%s); retrying in %.0f s", type(exc).__name__, delay)
            stop.wait(delay)


def _head(path: Path) -> bytes:
    """The header block of a file too large to read (at most HEAD_BYTES of it)."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    found = _HEADER_END.search(head)
    return head[: found.end()] if found else head


def _file_id(name: str) -> str:
    """A short, stable stand-in for a file name in log lines: people name referral files after
    the child ("Referral - <name>.eml"), and logs must hold no personal data."""
    import hashlib

    return hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:10]
