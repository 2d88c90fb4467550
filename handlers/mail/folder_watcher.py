"""The embedded default mailbox: ``<data dir>/inbox/*.eml``, the same pipeline as IMAP.

Drop a message in as ``inbox/<anything>.eml`` (write it under another name and rename it, so a
half-written file is never read). Once its outcome is committed it is moved to
``inbox/processed/`` or to ``inbox/quarantine/`` with ``<name>.reason.txt`` beside it. Nothing is
deleted. A file too large to read, or one the pipeline crashed on three times, goes through the
pipeline's ``quarantine`` like any other quarantined message (ledger, audit, a human told), and
only then is moved. The file's modification time is when it reached the inbox, i.e. the awareness moment.
Polling (default every 0.5 s) rather than inotify: portable, and cheap for a folder this small.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from handlers.mail.intake import (
    AFTER_COMMIT,
    AFTER_FETCH,
    Checkpoint,
    IncomingMail,
    IntakeOutcome,
    IntakePipeline,
)

log = logging.getLogger(__name__)
_HEADER_END = re.compile(rb"\r?\n\r?\n")

MAX_FAILURES = 3  # a message that crashes the pipeline this often is quarantined, not retried
HEAD_BYTES = 64 * 1024  # what is read of a file too large to read: enough for its headers


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    stem, suffix = os.path.splitext(name)
    n = 1
    while target.exists():
        target = folder / f"{stem}-{n}{suffix}"
        n += 1
    return target


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
        # Called with AFTER_FETCH / AFTER_COMMIT for every message (handlers.mail.intake).
        self.checkpoint: Checkpoint = checkpoint or (lambda _stage: None)

    def scan(self) -> list[IntakeOutcome]:
        """Process every .eml waiting in the inbox, oldest first."""
        for folder in (self.root, self.processed, self.quarantine):
            folder.mkdir(parents=True, exist_ok=True)
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
                return self._too_large(path, stat.st_size, received)
            raw = path.read_bytes()
        except FileNotFoundError:
            return None  # taken by another process
        self.checkpoint(AFTER_FETCH)
        mail = IncomingMail(raw=raw, received_at=received, mailbox="inbox", partnership=self.partnership)
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
        self._move(path, outcome)
        return outcome

    def _move(self, path: Path, outcome: IntakeOutcome) -> None:
        if outcome.destination == "processed":
            os.replace(path, _free_name(self.processed, path.name))
            return
        target = _free_name(self.quarantine, path.name)
        note = [
            f"status: {outcome.status}",
            f"quarantine id: {outcome.quarantine_id}",
            f"reason: {outcome.reason}",
            f"message id: {outcome.message_id}",
        ]
        (self.quarantine / (target.name + ".reason.txt")).write_text("\n".join(note) + "\n", encoding="utf-8")
        os.replace(path, target)

    def _too_large(self, path: Path, size: int, received: datetime) -> IntakeOutcome:
        """Quarantine a file unread: only its head is read, for the sender and Message-ID."""
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES)
        found = _HEADER_END.search(head)
        head = head[: found.end()] if found else head
        limit = self.max_message_bytes
        reason = (f"message too large to read ({size / (1024 * 1024):.1f} MiB; the limit is "
                  f"{limit / (1024 * 1024):.1f} MiB)")
        outcome = self._quarantine(
            path, IncomingMail(raw=head, received_at=received, mailbox="inbox", partnership=self.partnership),
            reason, unread_size=size, sender_reason=reason,
        )
        if outcome is None:
            return None
        self._move(path, outcome)
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


def _file_id(name: str) -> str:
    """A short, stable stand-in for a file name in log lines: people name referral files after
    the child ("Referral - <name>.eml"), and logs must hold no personal data."""
    import hashlib

    return hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:10]
