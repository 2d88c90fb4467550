"""The Microsoft Graph mailbox watcher, for tenants that switch IMAP off (SAFEGUARD_MAIL_BACKEND=graph).

One blocking thread per mailbox, like the IMAP watcher, feeding the same intake pipeline with
the same guarantees:

- Changes are read with a delta query on the watched folder
  (``/users/{mailbox}/mailFolders/{folder}/messages/delta``), page by page
  (``@odata.nextLink``) to the ``@odata.deltaLink``, which is where the next round starts. That
  link is saved in the database (store/mail_sync.py) only after a round in which every reported
  message reached a committed outcome, so a restart replays from the last such point; what it
  replays the intake ledger recognises, and the message is only moved (no duplicate case, no
  second acknowledgement).
- Each message's exact MIME comes from ``/messages/{id}/$value``, read no further than
  ``intake_max_message_bytes`` (a larger one is quarantined unread from its first 64 KiB, as
  over IMAP); its awareness moment is ``receivedDateTime``, when it reached the mailbox.
- Only after its outcome is committed is it moved (``/messages/{id}/move``) to the Processed or
  Quarantine folder (created if missing); never deleted.
- An expired delta token (HTTP 410) means a full resync from the folder's start: everything
  still in the folder is reported again and the ledger keeps it from being processed twice.
- Throttling (429, 503) waits as long as ``Retry-After`` says (handlers/transports/graph.py).
- A message that fails stays in the folder and is tried again each round; after three failures
  it is quarantined (recorded, a human told), as over IMAP. Errors reconnect with backoff;
  refused permissions back off at least a minute and alert a human (once an hour).

Graph has no IDLE: the delta is asked for every ``graph_poll_seconds``.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import OperationalError

from bot.oauth import OAuthRefused, OAuthUnavailable
from bot.settings import MailboxSettings
from handlers.mail.imap_watcher import (
    HEAD_BYTES,
    MAX_BACKOFF,
    MAX_FAILURES,
    REFUSED_BACKOFF,
)
from handlers.mail.intake import (
    AFTER_COMMIT,
    AFTER_FETCH,
    Checkpoint,
    IncomingMail,
    IntakeOutcome,
    IntakePipeline,
)
from handlers.transports.graph import GraphClient, GraphRefused, GraphUnavailable
from store import mail_sync, outbox
from store.db import session_scope

log = logging.getLogger(__name__)

PAGE_SIZE = 50
WELL_KNOWN = {"inbox": "inbox"}
GONE: Any = object()  # a reported message no longer there (another worker moved it)


class GraphError(Exception):
    """Graph answered a request with an error the watcher cannot act on (logged, backed off)."""


class GraphWatcher:
    def __init__(
        self,
        config: MailboxSettings,
        pipeline: IntakePipeline,
        client: GraphClient,
        *,
        poll_seconds: float = 10.0,
        on_outcome: Callable[[IntakeOutcome], None] | None = None,
        max_message_bytes: int | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.config = config
        self.pipeline = pipeline
        self.client = client
        self.poll_seconds = poll_seconds
        self.on_outcome = on_outcome
        self.max_message_bytes = max_message_bytes or pipeline.settings.intake_max_message_bytes
        self.checkpoint: Checkpoint = checkpoint or (lambda _stage: None)
        self.connected = threading.Event()
        self._failures: dict[str, int] = {}
        self._folders: dict[str, str] = {}
        self.resyncs = 0  # full resyncs after an expired delta token (for the log and tests)

    # --- folders ----------------------------------------------------------------------------

    @property
    def _user(self) -> str:
        return self.client.user_path(self.config.username)

    def _check(self, response: Any, what: str) -> Any:
        if response.status_code >= 400:
            raise GraphError(f"{what}: HTTP {response.status_code}")
        return response.json() if response.content else {}

    def folder_id(self, name: str, stop: threading.Event) -> str:
        """A folder's id by display name (well-known names as they are), created if missing."""
        if name.lower() in WELL_KNOWN:
            return WELL_KNOWN[name.lower()]
        if name in self._folders:
            return self._folders[name]
        escaped = name.replace("'", "''")
        found = self._check(self.client.request(
            "GET", f"{self._user}/mailFolders", params={"$filter": f"displayName eq '{escaped}'"}, stop=stop),
            f"looking up folder {name}")
        if found.get("value"):
            folder = str(found["value"][0]["id"])
        else:
            created = self._check(self.client.request(
                "POST", f"{self._user}/mailFolders", json={"displayName": name}, stop=stop), f"creating folder {name}")
            folder = str(created["id"])
        self._folders[name] = folder
        return folder

    # --- one round ----------------------------------------------------------------------------

    def _initial(self, folder: str) -> str:
        return (f"{self._user}/mailFolders/{folder}/messages/delta"
                "?$select=receivedDateTime,internetMessageId")

    def sync(self, stop: threading.Event) -> list[IntakeOutcome]:
        """Read the folder's changes to the delta link and handle every message reported."""
        folder = self.folder_id(self.config.folder, stop)
        with session_scope(self.pipeline.engine) as session:
            link = mail_sync.delta_link(session, self.config.name, self.config.folder)
        url = link or self._initial(folder)
        outcomes: list[IntakeOutcome] = []
        complete = True
        resynced = False
        while not stop.is_set():
            response = self.client.request("GET", url, headers={"Prefer": f"odata.maxpagesize={PAGE_SIZE}"},
                                           stop=stop)
            if response.status_code == 410:
                # The delta token expired (or the sync state is gone): start again from nothing,
                # once per round (a fresh sync refused too is an error, never a tight loop).
                if resynced:
                    raise GraphError("reading the folder's changes: HTTP 410 on a fresh sync")
                resynced = True
                self.resyncs += 1
                log.warning("mailbox %s: Graph delta token expired; resyncing the folder", self.config.name)
                with session_scope(self.pipeline.engine) as session:
                    mail_sync.save_delta_link(session, self.config.name, self.config.folder, None)
                url = self._initial(folder)
                continue
            page = self._check(response, "reading the folder's changes")
            for item in page.get("value", []):
                if stop.is_set():
                    return outcomes
                if "@removed" in item:
                    continue  # moved out (by us) or deleted
                outcome = self._handle(str(item["id"]), item, stop)
                if outcome is None:
                    complete = False  # still in the folder: the saved link must replay it
                elif outcome is not GONE:
                    outcomes.append(outcome)
            if "@odata.nextLink" in page:
                url = str(page["@odata.nextLink"])
                continue
            if complete and "@odata.deltaLink" in page:
                with session_scope(self.pipeline.engine) as session:
                    mail_sync.save_delta_link(session, self.config.name, self.config.folder,
                                              str(page["@odata.deltaLink"]))
            break
        return outcomes

    def _received(self, item: dict[str, Any]) -> datetime:
        text = str(item.get("receivedDateTime") or "")
        try:
            return datetime.fromisoformat(text)  # Python 3.11 reads the trailing Z
        except ValueError:
            return datetime.now(tz=UTC)

    def _fetch(self, message: str, stop: threading.Event) -> tuple[bytes, bool] | None:
        """The MIME, read to at most the size limit; (bytes, whole?); None if gone."""
        response = self.client.request("GET", f"{self._user}/messages/{message}/$value", stream=True, stop=stop)
        try:
            if response.status_code == 404:
                return None
            if response.status_code >= 400:
                raise GraphError(f"reading a message: HTTP {response.status_code}")
            data = bytearray()
            for chunk in response.iter_content(65536):
                data += chunk
                if len(data) > self.max_message_bytes:
                    return bytes(data[:HEAD_BYTES]), False
            return bytes(data), True
        finally:
            response.close()

    def _handle(self, message: str, item: dict[str, Any], stop: threading.Event) -> IntakeOutcome | None:
        """The message's committed outcome once moved; None if it stays for another try;
        ``GONE`` if it is no longer there."""
        fetched = self._fetch(message, stop)
        if fetched is None:
            return GONE
        raw, whole = fetched
        received = self._received(item)
        mail = IncomingMail(raw=raw, received_at=received, mailbox=self.config.name,
                            partnership=self.config.partnership)
        if not whole:
            limit = self.max_message_bytes
            reason = f"message too large to read (over {limit / (1024 * 1024):.1f} MiB, the limit)"
            outcome = self._quarantine(message, mail, reason, unread_size=limit + 1, sender_reason=reason)
        else:
            self.checkpoint(AFTER_FETCH)
            outcome = self._process(message, mail)
        if outcome is None:
            return None
        self.checkpoint(AFTER_COMMIT)
        destination = (self.config.processed_folder if outcome.destination == "processed"
                       else self.config.quarantine_folder)
        moved = self.client.request("POST", f"{self._user}/messages/{message}/move",
                                    json={"destinationId": self.folder_id(destination, stop)}, stop=stop)
        if moved.status_code >= 400 and moved.status_code != 404:
            raise GraphError(f"moving a message: HTTP {moved.status_code}")
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        return outcome

    def _process(self, message: str, mail: IncomingMail) -> IntakeOutcome | None:
        try:
            outcome = self.pipeline.process(mail)
        except OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001 - leave it in the folder; quarantine after a few tries
            count = self._failures.get(message, 0) + 1
            self._failures[message] = count
            log.error("mailbox %s: a message failed (%s), attempt %d", self.config.name, type(exc).__name__, count)
            if count < MAX_FAILURES:
                return None
            outcome = self._quarantine(message, mail, f"could not be processed ({type(exc).__name__})")
            if outcome is None:
                return None
        self._failures.pop(message, None)
        return outcome

    def _quarantine(self, message: str, mail: IncomingMail, reason: str, **kwargs: Any) -> IntakeOutcome | None:
        try:
            return self.pipeline.quarantine(mail, reason, **kwargs)
        except OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001
            log.error("mailbox %s: quarantining a message failed (%s); left in place",
                      self.config.name, type(exc).__name__)
            return None

    # --- the thread ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Watch until ``stop`` is set. Never raises: every failure backs off and tries again."""
        delay = 1.0
        while not stop.is_set():
            try:
                self.sync(stop)
                self.connected.set()
                delay = 1.0
                stop.wait(self.poll_seconds)
            except Exception as exc:  # noqa: BLE001 - back off on anything
                self.connected.clear()
                if isinstance(exc, (OAuthRefused, GraphRefused)):
                    delay = max(delay, REFUSED_BACKOFF)
                    self._alert_refused(str(exc))
                elif isinstance(exc, GraphUnavailable) and exc.retry_after:
                    delay = max(delay, exc.retry_after)
                wait = delay * (1 + random.random() / 4)
                described = str(exc) if isinstance(exc, (OAuthRefused, OAuthUnavailable, GraphRefused,
                                                         GraphUnavailable, GraphError)) else type(exc).__name__
                log.warning("mailbox %s: %s; trying again in %.1f s", self.config.name, described, wait)
                stop.wait(wait)
                delay = min(delay * 2, MAX_BACKOFF)

    def _alert_refused(self, reason: str) -> None:
        transport, recipient = self.pipeline.router.alert()
        hour = datetime.now(tz=UTC).strftime("%Y%m%d%H")
        try:
            with session_scope(self.pipeline.engine) as session:
                outbox.enqueue(
                    session, transport=transport, recipient=recipient,
                    subject=f"safeguard-bot cannot sign in to mailbox {self.config.name}",
                    body=(f"safeguard-bot cannot read mailbox {self.config.name} ({self.config.username}) "
                          f"through Microsoft Graph: {reason}. Mail waits in the mailbox and is read once "
                          "access works again. Run: safeguard-bot status"),
                    payload={"kind": "alert"}, dedupe_key=f"alert:mailbox-auth:{self.config.name}:{hour}",
                )
        except Exception as exc:  # noqa: BLE001
            log.error("mailbox %s: could not queue the sign-in alert (%s)", self.config.name, type(exc).__name__)
