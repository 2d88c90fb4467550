"""The IMAP mailbox watcher (imap-tools), one blocking thread per mailbox.

Loop: connect, make sure the Processed and Quarantine folders exist, then repeatedly
- process every message in the watched folder (they are only ever there until handled: each is
  moved once its outcome is committed), fetched with BODY.PEEK so nothing is marked seen;
- wait for new mail with IDLE, re-issued every ``idle_seconds`` (RFC 2177's 29-minute limit),
  or, where the server has no IDLE, sleep ``poll_seconds``. A scan also runs every
  ``poll_seconds`` even with IDLE, as a safety net for a missed notification.
  Mail that arrived just before an IDLE is announced in the same packet as "+ idling", so it
  lands in imaplib's read buffer where a socket poll cannot see it: the buffer is checked after
  IDLE starts. As a second guard the first IDLE after a scan lasts one second and the responses
  to its DONE are checked too; the long IDLE follows with no command in between.
A dropped connection or a server error reconnects with exponential backoff (1 s doubling to
5 min, with jitter). The thread watches a ``threading.Event`` and stops within about a second.

With ``auth = oauth2`` (Microsoft 365) each connection logs in with XOAUTH2 and a token from
bot.oauth: a reconnect after a long IDLE (Exchange ends the session with "* BYE Session
invalidated - AccessTokenExpired" when the token runs out) gets a fresh one. A refused token is
refreshed once on a new connection; refused again, or refused by the authority itself (a bad
or expired secret), the watcher backs off (at least ``REFUSED_BACKOFF``) and a human is told
through the outbox, once an hour at most. The authority being unreachable is an ordinary
reconnect with backoff. Either way the mail stays in the mailbox until it is handled.

Each message's size (RFC822.SIZE) and INTERNALDATE are fetched first; one larger than
``intake_max_message_bytes`` is never fetched whole: only its first 64 KiB of headers are, and it
goes to the pipeline's ``quarantine`` (recorded, a human told) and then to the quarantine folder.

Only EXISTS/RECENT responses mean new mail; Dovecot's "* OK Still here" keepalives do not.
The awareness moment is the message's INTERNALDATE: when it reached the mailbox, which is not
necessarily when the watcher saw it (the bot may have been down).
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.mailbox import BaseMailBox
from sqlalchemy.exc import OperationalError

from bot.oauth import OAuthRefused, OAuthUnavailable, TokenProvider
from bot.settings import MailboxSettings
from handlers.mail.intake import (
    AFTER_COMMIT,
    AFTER_FETCH,
    Checkpoint,
    IncomingMail,
    IntakeOutcome,
    IntakePipeline,
)
from store import outbox
from store.db import session_scope

log = logging.getLogger(__name__)

_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)", re.IGNORECASE)
HEAD_BYTES = 64 * 1024  # what is fetched of a message too large to read: enough for its headers
_NEW_MAIL = re.compile(rb"^\* \d+ (EXISTS|RECENT)\b", re.IGNORECASE)
MAX_FAILURES = 3
MAX_BACKOFF = 300.0
QUICK_IDLE = 1.0  # the first IDLE after a scan: its DONE reports mail that raced the IDLE
# After a refusal (a token the server will not take, credentials the authority will not take),
# the next try waits at least this long: a person has to change something first.
REFUSED_BACKOFF = 60.0


class LoginRefused(Exception):
    """The IMAP server refused a fresh token too: the app lacks the mailbox permission."""


def _open(config: MailboxSettings, timeout: float) -> BaseMailBox:
    port = config.resolved_port
    if config.security == "ssl":
        return MailBox(config.host, port, timeout=timeout)
    if config.security == "starttls":
        return MailBoxStartTls(config.host, port, timeout=timeout)
    return MailBoxUnencrypted(config.host, port, timeout=timeout)


def connect(config: MailboxSettings, timeout: float = 30.0, tokens: TokenProvider | None = None) -> BaseMailBox:
    """A logged-in mailbox on the configured folder, over TLS unless told "plain".

    With ``auth = oauth2``: XOAUTH2 with ``tokens``' current token; if the server refuses it,
    once more on a new connection with a token fetched afresh (``LoginRefused`` if that fails).
    """
    if config.auth != "oauth2":
        assert config.password is not None  # MailboxSettings requires it with auth = password
        box = _open(config, timeout)
        box.login(config.username, config.password.get_secret_value(), initial_folder=config.folder)
        return box
    assert tokens is not None, "auth = oauth2 needs a token provider"
    token = tokens.token()  # before connecting: an unreachable authority leaves no socket open
    box = _open(config, timeout)
    try:
        box.xoauth2(config.username, token, initial_folder=config.folder)
        return box
    except imaplib.IMAP4.error:  # imap-tools' MailboxLoginError is one too
        _close(box)
    token = tokens.token(refresh=True)
    box = _open(config, timeout)
    try:
        box.xoauth2(config.username, token, initial_folder=config.folder)
    except imaplib.IMAP4.error as exc:
        _close(box)
        raise LoginRefused(f"the IMAP server refused a fresh OAuth2 token for {config.username} "
                           f"({str(exc)[:120]}): check the app's mailbox permission "
                           "(Add-MailboxPermission) and its service principal (New-ServicePrincipal)") from None
    return box


def _close(box: BaseMailBox) -> None:
    with contextlib.suppress(Exception):  # already gone
        box.client.shutdown()


def internal_date(response: bytes) -> datetime | None:
    found = _INTERNALDATE.search(response)
    if not found:
        return None
    try:
        return datetime.strptime(found.group(1).decode().strip(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return None


class ImapWatcher:
    def __init__(
        self,
        config: MailboxSettings,
        pipeline: IntakePipeline,
        *,
        idle_seconds: float = 600.0,
        poll_seconds: float = 60.0,
        on_outcome: Callable[[IntakeOutcome], None] | None = None,
        connect_timeout: float = 30.0,
        max_message_bytes: int | None = None,
        checkpoint: Checkpoint | None = None,
        tokens: TokenProvider | None = None,
    ) -> None:
        self.config = config
        self.tokens = tokens
        self.pipeline = pipeline
        self.max_message_bytes = max_message_bytes or pipeline.settings.intake_max_message_bytes
        self.idle_seconds = min(idle_seconds, 29 * 60 - 60)
        self.poll_seconds = poll_seconds
        self.on_outcome = on_outcome
        self.connect_timeout = connect_timeout
        self._failures: dict[str, int] = {}
        # Called with AFTER_FETCH / AFTER_COMMIT for every message (handlers.mail.intake).
        self.checkpoint: Checkpoint = checkpoint or (lambda _stage: None)
        self.connected = threading.Event()  # set while logged in (tests and status)

    # --- one pass over the folder ------------------------------------------------------------

    def ensure_folders(self, box: BaseMailBox) -> None:
        for name in (self.config.processed_folder, self.config.quarantine_folder):
            if not box.folder.exists(name):
                box.folder.create(name)

    def fetch(self, box: BaseMailBox, uid: str) -> tuple[bytes, datetime] | None:
        """The message's exact bytes and INTERNALDATE, without setting \\Seen."""
        status, data = box.client.uid("FETCH", uid, "(UID INTERNALDATE BODY.PEEK[])")
        if status != "OK":
            return None
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                received = internal_date(item[0]) or datetime.now(tz=UTC)
                return bytes(item[1]), received
        return None  # gone: another worker moved it

    def envelope(self, box: BaseMailBox, uid: str) -> tuple[int | None, datetime] | None:
        """RFC822.SIZE and INTERNALDATE, before anything of the message itself is fetched."""
        status, data = box.client.uid("FETCH", uid, "(UID RFC822.SIZE INTERNALDATE)")
        if status != "OK":
            return None
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue  # [None]: gone, another worker moved it
            size = _SIZE.search(line)
            if size or _INTERNALDATE.search(line):
                return (int(size.group(1)) if size else None), internal_date(line) or datetime.now(tz=UTC)
        return None

    def fetch_head(self, box: BaseMailBox, uid: str) -> bytes:
        """At most ``HEAD_BYTES`` of the header block, for a message that is not read."""
        status, data = box.client.uid("FETCH", uid, f"(UID BODY.PEEK[HEADER]<0.{HEAD_BYTES}>)")
        if status == "OK":
            for item in data:
                if isinstance(item, tuple) and len(item) == 2:
                    return bytes(item[1])
        return b""

    def scan(self, box: BaseMailBox, stop: threading.Event | None = None) -> list[IntakeOutcome]:
        outcomes = []
        for uid in sorted(box.uids("ALL"), key=int):
            if stop is not None and stop.is_set():
                break
            envelope = self.envelope(box, uid)
            if envelope is None:
                continue
            size, received = envelope
            if size is not None and size > self.max_message_bytes:
                outcome = self._too_large(box, uid, size, received)
            else:
                fetched = self.fetch(box, uid)
                if fetched is None:
                    continue
                raw, received = fetched
                self.checkpoint(AFTER_FETCH)
                outcome = self._process(box, uid, raw, received)
            if outcome is None:
                continue
            self.checkpoint(AFTER_COMMIT)
            folder = (self.config.processed_folder if outcome.destination == "processed"
                      else self.config.quarantine_folder)
            box.move(uid, folder)
            outcomes.append(outcome)
            if self.on_outcome is not None:
                self.on_outcome(outcome)
        return outcomes

    def _too_large(self, box: BaseMailBox, uid: str, size: int, received: datetime) -> IntakeOutcome | None:
        limit = self.max_message_bytes
        reason = (f"message too large to read ({size / (1024 * 1024):.1f} MiB; the limit is "
                  f"{limit / (1024 * 1024):.1f} MiB)")
        mail = IncomingMail(raw=self.fetch_head(box, uid), received_at=received, mailbox=self.config.name,
                            partnership=self.config.partnership)
        outcome = self._quarantine(uid, mail, reason, unread_size=size, sender_reason=reason)
        if outcome is not None:
            log.warning("mailbox %s: uid %s quarantined unread as %s: %s", self.config.name, uid,
                        outcome.quarantine_id, reason)
        return outcome

    def _process(self, box: BaseMailBox, uid: str, raw: bytes, received: datetime) -> IntakeOutcome | None:
        mail = IncomingMail(raw=raw, received_at=received, mailbox=self.config.name,
                            partnership=self.config.partnership)
        try:
            outcome = self.pipeline.process(mail)
        except OperationalError:
            raise  # the database is down: back off and retry everything later
        except Exception as exc:  # noqa: BLE001 - leave it in place; quarantine after a few tries
            key = f"{uid}:{len(raw)}"
            count = self._failures.get(key, 0) + 1
            self._failures[key] = count
            log.error("mailbox %s: message uid %s failed (%s), attempt %d",
                      self.config.name, uid, type(exc).__name__, count)
            if count < MAX_FAILURES:
                return None
            # Recorded and a human told, like every quarantine; moved by the caller only then.
            outcome = self._quarantine(uid, mail, f"could not be processed ({type(exc).__name__})")
            if outcome is None:
                return None
        self._failures.pop(f"{uid}:{len(raw)}", None)
        return outcome

    def _quarantine(self, uid: str, mail: IncomingMail, reason: str, **kwargs: Any) -> IntakeOutcome | None:
        """The pipeline's quarantine; if even that fails the message stays in the folder (it is
        recorded nowhere yet, so moving it would lose it in silence) and is tried next scan."""
        try:
            return self.pipeline.quarantine(mail, reason, **kwargs)
        except OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001
            log.error("mailbox %s: quarantining uid %s failed (%s); left in place",
                      self.config.name, uid, type(exc).__name__)
            return None

    # --- waiting ------------------------------------------------------------------------------

    def wait_for_mail(self, box: BaseMailBox, stop: threading.Event, seconds: float | None = None) -> bool:
        """One IDLE of up to ``seconds`` (or a plain sleep without IDLE); True if mail arrived.

        New mail counts whether it shows up in imaplib's collected responses, in its read buffer
        right behind "+ idling", in a polled line, or in the responses to DONE.
        """
        if "IDLE" not in box.client.capabilities:
            stop.wait(self.poll_seconds)
            return False
        # Responses that arrived with earlier commands were already read by imaplib: a new
        # EXISTS among them would never be repeated in IDLE.
        if _announced(box):
            return True
        length = min(self.idle_seconds, self.poll_seconds) if seconds is None else seconds
        limit = time.monotonic() + length
        box.idle.start()
        found = False
        try:
            # The server may send EXISTS right behind "+ idling"; then it sits in imaplib's read
            # buffer, where polling the socket would never see it.
            found = _announced(box) or any(_NEW_MAIL.match(line) for line in _buffered_lines(box))
            while not found and not stop.is_set():
                remaining = limit - time.monotonic()
                if remaining <= 0:
                    break
                slice_ = min(1.0, remaining)
                started = time.monotonic()
                lines = box.idle.poll(timeout=slice_)
                if any(_NEW_MAIL.match(line) for line in lines):
                    found = True
                elif any(line.upper().startswith(b"* BYE") for line in lines):
                    raise ConnectionError("server said BYE")
                elif not lines and time.monotonic() - started < slice_ / 2 and _closed(box):
                    # imap-tools swallows EOF during IDLE: without this we would spin.
                    raise ConnectionError("server closed the connection")
        finally:
            _, lines = box.idle.stop()
        return found or any(_NEW_MAIL.match(line) for line in lines) or _announced(box)

    # --- the thread ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Watch until ``stop`` is set. Never raises: every failure reconnects with backoff."""
        delay = 1.0
        while not stop.is_set():
            box: BaseMailBox | None = None
            try:
                box = connect(self.config, self.connect_timeout, self.tokens)
                self.ensure_folders(box)
                self.connected.set()
                log.info("mailbox %s: watching %s on %s", self.config.name, self.config.folder, self.config.host)
                while not stop.is_set():
                    box.client.untagged_responses.clear()
                    if self.scan(box, stop):
                        delay = 1.0  # healthy: the next failure starts the backoff afresh
                        continue  # more may have arrived while we worked
                    # A quick IDLE first (its DONE reports mail that raced the scan), then a
                    # long one straight after (no command in between, so no gap to race);
                    # whatever the long one says, scan again: that is the safety poll.
                    if not self.wait_for_mail(box, stop, QUICK_IDLE):
                        self.wait_for_mail(box, stop)
                    delay = 1.0
            except Exception as exc:  # noqa: BLE001 - reconnect on anything
                self.connected.clear()
                if isinstance(exc, (OAuthRefused, LoginRefused)):
                    delay = max(delay, REFUSED_BACKOFF)
                    self._alert_refused(str(exc))
                wait = delay * (1 + random.random() / 4)
                log.warning("mailbox %s: %s; reconnecting in %.1f s", self.config.name,
                            _describe(exc), wait)
                stop.wait(wait)
                delay = min(delay * 2, MAX_BACKOFF)
            finally:
                self.connected.clear()
                if box is not None:
                    try:
                        box.logout()
                    except Exception:  # noqa: BLE001
                        pass


    def _alert_refused(self, reason: str) -> None:
        """Tell a human the mailbox cannot be read (once an hour: the dedupe key has the hour)."""
        transport, recipient = self.pipeline.router.alert()
        hour = datetime.now(tz=UTC).strftime("%Y%m%d%H")
        try:
            with session_scope(self.pipeline.engine) as session:
                outbox.enqueue(
                    session, transport=transport, recipient=recipient,
                    subject=f"safeguard-bot cannot sign in to mailbox {self.config.name}",
                    body=(f"safeguard-bot cannot read mailbox {self.config.name} ({self.config.username}): "
                          f"{reason}. Mail waits in the mailbox and is read once sign-in works again. "
                          "Run: safeguard-bot status"),
                    payload={"kind": "alert"}, dedupe_key=f"alert:mailbox-auth:{self.config.name}:{hour}",
                )
        except Exception as exc:  # noqa: BLE001 - the database may be what is down; the log has it
            log.error("mailbox %s: could not queue the sign-in alert (%s)", self.config.name, type(exc).__name__)


def _announced(box: BaseMailBox) -> bool:
    """Whether imaplib has collected an EXISTS/RECENT (clearing them: each is acted on once)."""
    pending = box.client.untagged_responses
    if "EXISTS" in pending or "RECENT" in pending:
        pending.pop("EXISTS", None)
        pending.pop("RECENT", None)
        return True
    return False


def _buffered_lines(box: BaseMailBox) -> list[bytes]:
    """Complete lines already read from the socket into imaplib's buffer, without blocking."""
    client = box.client
    sock = client.sock
    previous = sock.gettimeout()
    lines: list[bytes] = []
    try:
        sock.settimeout(0)
        while True:
            try:
                head = client.file.peek(1)
            except OSError:
                break
            if not head or b"\n" not in head:
                break
            lines.append(client.file.readline())
    finally:
        sock.settimeout(previous)
    return lines


def _closed(box: BaseMailBox) -> bool:
    """True when the server has closed the socket (a non-blocking peek reads end-of-file)."""
    sock = box.client.sock
    previous = sock.gettimeout()
    try:
        sock.settimeout(0)
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
    finally:
        try:
            sock.settimeout(previous)
        except OSError:
            pass


def _describe(exc: BaseException) -> str:
    """An error for the log: its type, and the server's words for IMAP errors (never content)."""
    if isinstance(exc, (OAuthRefused, OAuthUnavailable, LoginRefused)):
        return str(exc)
    if isinstance(exc, (imaplib.IMAP4.error, OSError)):
        return f"{type(exc).__name__}: {str(exc)[:120]}"
    return type(exc).__name__
