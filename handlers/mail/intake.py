"""The intake pipeline: one raw message in, one committed outcome out.

Used by both mailbox watchers (IMAP and the embedded inbox folder); knows nothing about where the
bytes came from. The order of checks, and why:

1. Already in the ledger (same Message-ID *and* the same message: ``message_sha256``)? Then it
   was handled before (a watcher died after the commit but before moving the message): report
   the earlier outcome and do nothing else. This is what makes a re-fetch idempotent. A
   different message that reuses a Message-ID is not a duplicate: it is processed like any
   other, and the reuse is flagged in the audit log and the notice.
2. The bot's own mail come back (From is ``smtp_from``, or its Message-ID is one the bot made):
   recorded and quarantined, and nothing else: a notice about it could come back in its turn
   (``intake_notify`` set to a watched mailbox would loop forever).
   Automatic reply, bounce or bulk mail: never answered (answering auto-replies makes mail
   loops). A human is told, because a bounce may mean a referrer never got their
   acknowledgement; but as loop-like mail: one notice per sender per hour, the rest summarised
   in one notice when the hour ends, so a notice that itself provokes an auto-reply (a
   non-compliant out-of-office) cannot make more than that. Quarantined, the human review queue.
   Mail that a machine merely passed on (``Auto-Submitted: auto-forwarded``, ``Precedence:
   list``, ``List-Id``) is not automatic: a person wrote it and it may be a referral. It is read
   like any other, the notice says so, and its sender (a list, a rule) is never answered.
3. Sender's domain not on the allow-list, or (with SAFEGUARD_TRUSTED_AUTHSERV_ID) the
   partnership's own server does not vouch for it (``sender_auth``: DMARC, aligned SPF or DKIM
   in the topmost Authentication-Results): quarantined with the reason, a human is told, the
   sender is not (the From address of such mail is often forged; replying would be backscatter).
4. The form cannot be read (``ReferralRejected``): quarantined, a human is told, and the sender
   is told why, in a threaded reply.
5. A readable form: if a form with the same content hash opened a case before, that case's
   details are refreshed (and audited); otherwise a case is opened with the awareness date = the
   day the mail reached the mailbox (Europe/London). In the same transaction: the ledger row, the
   acknowledgement e-mail (threaded, with an .ics of the deadlines) and the channel notice go
   into the outbox with stable dedupe keys, so a crash and retry never sends twice.

Mail loops. Before any reply to a sender (acknowledgement, rejection, "a person will look at
it"): a mail that answers one of the bot's own messages (In-Reply-To/References names a
Message-ID the bot made, or its subject is a reply to one of the bot's subjects) is never
answered; nor is anyone beyond ``intake_replies_per_sender_per_hour`` or a conversation beyond
``intake_replies_per_thread_per_hour``. Those counts are ledger rows (``answered``, per sender
address hash and thread hash, in the last hour), read under a per-sender lock, so they hold
across restarts and workers. Such mail is still handled (a readable form opens its case) and a
human told, but loop-like mail gets one notice per sender per hour; the rest of that hour's is
summarised in one notice sent when the hour ends.

The awareness moment is the reported arrival time, unless it cannot be right (far in the
future, or implausibly old: ``arrival``); then it is when the bot saw the message, and the case
carries a warning saying so.

Everything that is written for one message commits together or not at all; the caller moves the
message only after ``process`` returned. A watcher that gets no outcome from ``process`` (it
crashed three times on the message) or will not read a message (too large) calls ``quarantine``,
which records it and tells a human the same way, so no quarantine is ever silent.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from typing import Any, Literal

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from bot.calendar_export import deadlines_ics
from bot.cases import CaseService, CaseView
from bot.core.criteria import CriteriaAnswerError
from bot.core.lifecycle import LifecycleError
from bot.rapid_review import RapidReviewService, ReplyMatch
from bot.routing import Router
from bot.settings import Settings
from handlers.mail import notices, sender_auth
from handlers.referral import ReferralRejected, parse_referral
from handlers.referral.eml_reader import auto_reply_reason, relayed_reason
from bot.core.referral import Referral
from scheduler.calendar import today_in_london
from store import cases as case_repo
from store import intake as ledger
from store import outbox
from store.db import advisory_lock, session_scope

log = logging.getLogger(__name__)

_MESSAGE_ID = re.compile(r"<[^<>\s]{1,290}>")

# How far an arrival time may run ahead of the bot's own clock: a mail server's clock and ours
# may disagree by a few minutes, which must not read as a bogus date (NTP keeps real servers
# well inside this). Within it the bot's own, earlier, time is used.
CLOCK_SKEW = timedelta(minutes=10)
# How old an arrival time may be before it is not believed. A message waits in the mailbox
# only while the bot is down or a human re-queues it from quarantine: days, a few weeks at
# worst (the outbox's dead-letter alerts and ``status`` make an outage visible). Dates years
# out are what broken clocks and copying tools produce (a device reset to 2001, a zip's 1980,
# ``cp -p`` of an archived file), and on them every statutory deadline (5 and 15 working days)
# would be long past, or, before 29 June 2018, the case could not be opened at all. Ninety
# days is far beyond any real wait and far short of such dates; a fallback is always recorded
# as a warning on the case, so an officer who knows the true date corrects it.
MAX_ARRIVAL_AGE = timedelta(days=90)


# Mail loops. The window in which replies to one sender or thread are counted, and in which a
# sender's loop-like mail gets one notice (the rest summarised when it ends).
REPLY_WINDOW = timedelta(hours=1)
NOTICE_WINDOW = timedelta(hours=1)
# Message-IDs the bot makes: ``_threading``'s (ack-, reject-, held-) and the outbox's (outbox-N).
_BOT_MESSAGE_ID = re.compile(r"^<(?:ack|reject|held|outbox)-[0-9a-f]{1,64}@(?P<domain>[^<>@\s]+)>$", re.IGNORECASE)


# Where a watcher is in handling one message, told to its ``checkpoint`` (an extension point:
# tracing, metrics, or a harness that stops the process there). AFTER_FETCH: the message has
# been read, nothing is committed. AFTER_COMMIT: its outcome is committed, the message has not
# yet been moved out of the inbox. An exception it raises is handled as the watcher's own are.
AFTER_FETCH = "after_fetch"
AFTER_COMMIT = "after_commit"
Checkpoint = Callable[[str], None]


def _utcnow() -> datetime:
    return datetime.now(tz=UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite gives stored times back without their zone; they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class IncomingMail:
    """A message as it reached a mailbox. ``received_at`` is when it arrived there (IMAP
    INTERNALDATE, or the inbox file's mtime), which is when the partnership became aware;
    ``seen_at`` is when the watcher read it, the fallback when ``received_at`` is not
    believable (see ``arrival``)."""

    raw: bytes
    received_at: datetime
    mailbox: str = "inbox"
    partnership: str | None = None
    seen_at: datetime = field(default_factory=_utcnow)


def arrival(received_at: datetime, seen_at: datetime) -> tuple[datetime, str | None]:
    """The awareness moment to use, and a warning when the reported one was not believable.

    Reported times come from another machine's clock (the IMAP server's INTERNALDATE) or from a
    file's mtime, which copying tools set to anything. In the future beyond ``CLOCK_SKEW``, or
    older than ``MAX_ARRIVAL_AGE``, it falls back to when the bot saw the message.
    """
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    if seen_at.tzinfo is None:
        seen_at = seen_at.replace(tzinfo=UTC)
    reported = received_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if received_at > seen_at + CLOCK_SKEW:
        why = "is in the future"
    elif received_at < seen_at - MAX_ARRIVAL_AGE:
        why = f"is implausibly old (over {MAX_ARRIVAL_AGE.days} days before the bot saw it)"
    else:
        return min(received_at, seen_at), None
    return seen_at, (
        f"arrival time reported by the mailbox ({reported}) {why}: deadlines are counted from "
        f"when the bot saw the message ({notices.when(seen_at)}); check the awareness date"
    )


@dataclass(frozen=True)
class IntakeOutcome:
    status: str  # store.intake: opened | updated | quarantined | ignored
    message_id: str
    reason: str | None = None  # why it was quarantined or ignored (may name an attachment)
    reference: str | None = None
    quarantine_id: str | None = None
    duplicate: bool = False  # handled before: nothing new was written this time
    # The ledger's identity of the message (``message_sha256``, or ``unread_sha256`` for one
    # read no further than its headers): a folder mailbox names the archived original by it.
    message_sha256: str | None = None

    @property
    def destination(self) -> Literal["processed", "quarantine"]:
        """Where the watcher moves the message once this outcome is committed."""
        return "processed" if self.status in (ledger.OPENED, ledger.UPDATED, ledger.RAPID_REVIEW) else "quarantine"


# Headers the sender wrote. Those added on the way (Received, Return-Path, Delivered-To,
# Authentication-Results, a gateway's X- headers) differ between two deliveries of one message
# and between two fetches of it by different routes, so they are not part of its identity.
_ORIGIN_HEADERS = frozenset({
    "from", "sender", "reply-to", "to", "cc", "subject", "date", "message-id", "in-reply-to",
    "references", "mime-version", "content-type", "content-transfer-encoding", "auto-submitted",
    "precedence",
})
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def message_sha256(raw: bytes) -> str:
    """What identifies a message beside its Message-ID: a hash of its sender-written headers and
    its body, byte for byte. A re-fetch of the same message (or a second delivery of it) hashes
    the same; a different message that reuses a Message-ID does not. Works on bytes only, so it
    cannot fail on headers the e-mail parser would choke on."""
    found = _HEADER_END.search(raw)
    head, body = (raw[: found.start()], raw[found.end():]) if found else (raw, b"")
    kept: list[bytes] = []
    keep = False
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if keep:
                kept[-1] += b" " + line.strip()
            continue
        name = line.split(b":", 1)[0].strip().lower()
        keep = name.decode("ascii", "replace") in _ORIGIN_HEADERS
        if keep:
            kept.append(b" ".join(line.split()))
    digest = hashlib.sha256()
    digest.update(b"\n".join(kept) + b"\n\n" + body.replace(b"\r\n", b"\n"))
    return digest.hexdigest()


def unread_sha256(raw: bytes, unread_size: int | None) -> str:
    """``message_sha256``, or for a message read no further than its headers, a hash of those
    and its size (the same message seen again unread hashes the same)."""
    if unread_size is None:
        return message_sha256(raw)
    return hashlib.sha256(b"unread %d\n" % unread_size + raw).hexdigest()


def message_id_of(msg: Message, raw: bytes) -> str:
    """The Message-ID, or a stable stand-in from the message (the same message re-fetched hashes
    the same, so the stand-in dedupes as well as a real Message-ID)."""
    found = _MESSAGE_ID.search(_header(msg, "Message-ID"))
    if found:
        return found.group()
    return f"<sha256-{message_sha256(raw)}@intake.safeguard-bot>"


def _header(msg: Message, name: str) -> str:
    try:
        return str(msg.get(name) or "")
    except Exception:  # noqa: BLE001 - a malformed header reads as absent
        return ""


def _sender(msg: Message) -> str | None:
    try:
        pairs = getaddresses([_header(msg, "From")])
    except Exception:  # noqa: BLE001
        return None
    for _, address in pairs:
        if "@" in address:
            return address.strip().lower()
    return None


def _domain(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return address.rsplit("@", 1)[1].strip().rstrip(".").lower() or None


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _thread_root(msg: Message, message_id: str) -> str:
    """The first Message-ID of the conversation: References' first, else In-Reply-To, else the
    message's own. Every message of one thread shares it, whoever wrote them."""
    for name in ("References", "In-Reply-To"):
        found = _MESSAGE_ID.search(_header(msg, name))
        if found:
            return found.group()
    return message_id


def _key(prefix: str, message_id: str) -> str:
    return f"{prefix}:{hashlib.sha256(message_id.encode()).hexdigest()[:40]}"


@dataclass(frozen=True)
class _Message:
    """One message being handled: what it is, and who it is from, read once."""

    mail: IncomingMail
    msg: Message
    message_id: str
    sha256: str
    address: str | None
    domain: str | None
    arrival_warning: str | None
    sender_hash: str = ""
    thread_hash: str = ""

    @property
    def identity(self) -> str:
        """Message-ID and content: the seed of every dedupe key written for this message."""
        return f"{self.message_id}|{self.sha256}"


def _message(mail: IncomingMail, msg: Message, message_id: str, sha256: str,
             arrival_warning: str | None) -> _Message:
    address = _sender(msg)
    return _Message(
        mail=mail, msg=msg, message_id=message_id, sha256=sha256, address=address, domain=_domain(address),
        arrival_warning=arrival_warning, sender_hash=_hash(address or "(unknown sender)"),
        thread_hash=_hash(_thread_root(msg, message_id)),
    )


class IntakePipeline:
    """Turns messages into committed outcomes. Thread-safe: it keeps no per-message state."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        cases: CaseService,
        router: Router,
        *,
        parse: Callable[..., Referral] = parse_referral,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.cases = cases
        self.router = router
        self.parse = parse
        self.rapid = RapidReviewService(cases)

    # --- entry point ------------------------------------------------------------------------

    def process(self, mail: IncomingMail) -> IntakeOutcome:
        """Handle one message; everything it writes is committed when this returns."""
        received_at, arrival_warning = arrival(mail.received_at, mail.seen_at)
        mail = replace(mail, received_at=received_at)
        msg = BytesParser(policy=policy.default).parsebytes(mail.raw, headersonly=True)
        m = _message(mail, msg, message_id_of(msg, mail.raw), message_sha256(mail.raw), arrival_warning)
        with Session(self.engine) as session:
            earlier = ledger.by_identity(session, m.message_id, m.sha256)
            if earlier is not None:
                return self._earlier(session, earlier)
        for attempt in range(3):
            try:
                return self._process(m)
            except IntegrityError:
                # Another worker recorded this message (or created the partnership) first.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _earlier(self, session: Session, row: ledger.IntakeMessage) -> IntakeOutcome:
        reference = None
        if row.case_id is not None:
            reference = case_repo.reference_of(session, row.case_id)
        return IntakeOutcome(
            status=row.status,
            message_id=row.message_id,
            reason=row.reason,
            reference=reference,
            quarantine_id=None if row.case_id else f"Q-{row.id}",
            duplicate=True,
            message_sha256=row.message_sha256,
        )

    def _begin(self, session: Session, m: _Message) -> tuple[ledger.IntakeMessage | None, str | None]:
        """Lock this message, then: the earlier outcome if it was handled meanwhile, and a note
        if a *different* message came with the same Message-ID (flagged, never dropped)."""
        advisory_lock(session, m.message_id)
        earlier = ledger.by_identity(session, m.message_id, m.sha256)
        if earlier is not None:
            return earlier, None
        # The reply and notice limits count this sender's rows: one worker at a time per sender.
        advisory_lock(session, f"sender:{m.sender_hash}")
        other = ledger.other_with_message_id(session, m.message_id, m.sha256)
        if other is None:
            return None, None
        named = f"Q-{other.id}"
        if other.case_id is not None:
            named = case_repo.reference_of(session, other.case_id) or named
        case_repo.audit(
            session, actor=f"intake:{m.mail.mailbox}"[:120], action="intake.message_id_reused",
            detail={"earlier": named, "mailbox": m.mail.mailbox, "sender_domain": m.domain},
        )
        log.warning("intake: a different message reuses the Message-ID of %s (mailbox %s)", named, m.mail.mailbox)
        return None, f"its Message-ID was already used by a different message ({named}); both were kept"

    def _process(self, m: _Message) -> IntakeOutcome:
        if self._own(m):
            # The bot's own mail came back (a notice sent to a mailbox it watches, a forwarding
            # rule): a notice about it would come back too. Recorded, and nothing else.
            return self._quarantine(m, "the bot's own message came back to its mailbox",
                                    status=ledger.IGNORED, notify=False, reply=None)
        try:
            automatic = auto_reply_reason(m.msg)
        except Exception:  # noqa: BLE001 - unreadable headers: let the full parse decide
            automatic = None
        if automatic:
            # Never answered; a human is told, boundedly (``_notice_mode``: automatic mail is
            # loop-like), since a bounce may mean a referrer never got their acknowledgement.
            return self._quarantine(m, automatic, status=ledger.IGNORED, notify=True, reply=None)
        answered = self._rapid_review_reply(m)
        if answered is not None:
            return answered
        if not self.settings.sender_allowed(m.domain):
            reason = f"sender domain {m.domain or '(none)'} is not on the allow-list"
            return self._quarantine(m, reason, status=ledger.QUARANTINED, notify=True, reply=None)
        forged = self._unauthenticated(m)
        if forged is not None:
            return self._quarantine(m, forged, status=ledger.QUARANTINED, notify=True, reply=None)
        today = today_in_london(m.mail.received_at)
        try:
            referral = self.parse(m.mail.raw, "message.eml", today=today)
        except ReferralRejected as exc:
            return self._quarantine(m, exc.reason, status=ledger.QUARANTINED, notify=True, reply="reject")
        except Exception as exc:  # noqa: BLE001 - a reader bug must quarantine, not loop forever
            # The type only: a reader's exception message or traceback could quote the form.
            log.error("referral reader failed (%s) on a message in mailbox %s", type(exc).__name__, m.mail.mailbox)
            reason = f"the form could not be read (reader error {type(exc).__name__})"
            # The sender hears that a person will look at it, never the internal error.
            return self._quarantine(m, reason, status=ledger.QUARANTINED, notify=True, reply="held")
        return self._accept(m, referral)

    # --- replies to a rapid review's requests ---------------------------------------------------

    def _rapid_review_reply(self, m: _Message) -> IntakeOutcome | None:
        """A reply to a rapid review request (threaded by In-Reply-To/References, or the
        request's token in its subject) is that agency's return, or a partner's sign-off: filed
        with the rapid review, acknowledged, never opened as a new referral. None for other mail.
        Sender authentication applies as to any mail; a sign-off must come from the partner's
        registered address."""
        named = _MESSAGE_ID.findall(_header(m.msg, "In-Reply-To") + " " + _header(m.msg, "References"))
        with Session(self.engine) as session:
            match = self.rapid.match_reply(session, subject=_header(m.msg, "Subject"), message_ids=named)
            refusal = self.rapid.sender_may_reply(session, match, m.address) if match else None
        if match is None:
            return None
        refusal = refusal or self._unauthenticated(m)
        if refusal is not None:
            reason = f"a reply to rapid review {match.reference}: {refusal}"
            return self._quarantine(m, reason, status=ledger.QUARANTINED, notify=True, reply=None)
        text, files = _text_and_files(m.mail.raw)
        actor = f"intake:{m.mail.mailbox}"[:120]
        with session_scope(self.engine) as session:
            earlier, _clash = self._begin(session, m)
            if earlier is not None:
                return self._earlier(session, earlier)
            filed = self.rapid.file_reply(session, match, text=text, files=files,
                                          on=today_in_london(m.mail.received_at), actor=actor)
            answer = m.address is not None and self._may_acknowledge(session, m)
            ledger.record(
                session, message_id=m.message_id, message_sha256=m.sha256, status=ledger.RAPID_REVIEW,
                mailbox=m.mail.mailbox, received_at=m.mail.received_at, case_id=match.case_id,
                reason=f"{filed.kind} from {filed.who}" + (f": {filed.note}" if filed.note else ""),
                sender_domain=m.domain, sender_hash=m.sender_hash, thread_hash=m.thread_hash,
                answered=answer, notice=ledger.NOTICE_SENT,
            )
            if answer:
                self._acknowledge_reply(session, m, match, filed)
        log.info("intake: rapid review %s %s from %s filed (mailbox %s)", match.reference, filed.kind,
                 filed.who, m.mail.mailbox)
        return IntakeOutcome(status=ledger.RAPID_REVIEW, message_id=m.message_id, reference=match.reference,
                             message_sha256=m.sha256)

    def _may_acknowledge(self, session: Session, m: _Message) -> bool:
        """A reply to our request is a person answering us, so it is acknowledged, within the
        per-sender and per-thread limits that stop mail loops."""
        try:
            if relayed_reason(m.msg):
                return False
        except Exception:  # noqa: BLE001 - headers too broken to tell: do not answer
            return False
        since = _utcnow() - REPLY_WINDOW
        if ledger.replies_since(session, since, sender_hash=m.sender_hash) >= self.settings.intake_replies_per_sender_per_hour:
            return False
        return ledger.replies_since(session, since, thread_hash=m.thread_hash) < self.settings.intake_replies_per_thread_per_hour

    def _acknowledge_reply(self, session: Session, m: _Message, match: ReplyMatch, filed: Any) -> None:
        assert m.address is not None
        if filed.kind == "return":
            subject = f"Received: your summary for rapid review {match.reference}"
            body = (f"Thank you. Your reply and its {filed.files} attachment(s) are filed with rapid "
                    f"review {match.reference} as your agency's summary of involvement.")
        elif filed.recorded:
            subject = f"Received: your sign-off of rapid review {match.reference}"
            body = f"Thank you. Your sign-off of rapid review {match.reference} is recorded."
        else:
            subject = f"Received: your reply about rapid review {match.reference}"
            body = (f"Thank you. Your reply did not say that you sign off rapid review {match.reference}, "
                    "so no sign-off is recorded; the partnership's team will read it. To sign off, reply "
                    "saying \"I sign off\".")
        payload = self._threading(m, "ack")
        payload["reference"] = match.reference
        transport, recipient = self.router.address(m.address)
        outbox.enqueue(session, transport=transport, recipient=recipient, subject=subject, body=body,
                       dedupe_key=_key("ack", m.identity), payload=payload, case_id=match.case_id)

    # --- bad mail -----------------------------------------------------------------------------

    def quarantine(self, mail: IncomingMail, reason: str, *, unread_size: int | None = None,
                   sender_reason: str | None = None) -> IntakeOutcome:
        """Quarantine this raw message with this reason; committed when this returns.

        For the watchers, when ``process`` gave no outcome (it crashed three times) or the
        message will not be read at all (too large): then ``mail.raw`` is only its header block
        and ``unread_size`` its size. Like every quarantine it writes a ledger row and an audit
        entry and tells a human (the intake quarantine notice) through the outbox, in one
        transaction, so a crash after it returns loses nothing and a crash before it leaves the
        message to be tried again. A referral from an allow-listed sender that is not automatic
        is also answered: received, and a person will look at it (``sender_reason``, if given,
        says why; the human ``reason`` may name an internal error and never goes to the sender).

        It must not fail on the message itself: if the headers cannot even be read, the message
        is still recorded and a human told (with nothing sent to a sender it cannot trust).
        """
        received_at, arrival_warning = arrival(mail.received_at, mail.seen_at)
        mail = replace(mail, received_at=received_at)
        try:
            m = self._read_headers(mail, unread_size, arrival_warning)
            reply: str | None = "held" if self._may_answer_unprocessed(m) else None
        except OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001 - the message is hostile or broken: record it anyway
            log.warning("intake: headers of a message in mailbox %s unreadable (%s); quarantining it bare",
                        mail.mailbox, type(exc).__name__)
            m, reply = self._bare(mail, unread_size, arrival_warning), None
        try:
            try:
                return self._quarantine(m, reason, status=ledger.QUARANTINED, notify=True, reply=reply,
                                        sender_reason=sender_reason)
            except IntegrityError:
                # Another worker recorded this message first: this finds its row.
                return self._quarantine(m, reason, status=ledger.QUARANTINED, notify=True, reply=reply,
                                        sender_reason=sender_reason)
        except (OperationalError, IntegrityError):
            raise  # the database: the watcher retries the whole message later
        except Exception as exc:  # noqa: BLE001 - never let a notice's details stop the record
            log.error("intake: quarantine of a message in mailbox %s failed (%s); recording it bare",
                      mail.mailbox, type(exc).__name__)
            return self._quarantine(self._bare(mail, unread_size, arrival_warning), reason,
                                    status=ledger.QUARANTINED, notify=True, reply=None)

    def _read_headers(self, mail: IncomingMail, unread_size: int | None, arrival_warning: str | None) -> _Message:
        msg = BytesParser(policy=policy.default).parsebytes(mail.raw, headersonly=True)
        return _message(mail, msg, message_id_of(msg, mail.raw), unread_sha256(mail.raw, unread_size),
                        arrival_warning)

    @staticmethod
    def _bare(mail: IncomingMail, unread_size: int | None, arrival_warning: str | None) -> _Message:
        """A message known only by its bytes: no sender, a Message-ID made from its hash."""
        digest = unread_sha256(mail.raw, unread_size)
        message_id = f"<sha256-{digest}@intake.safeguard-bot>"
        return _Message(mail=mail, msg=Message(), message_id=message_id, sha256=digest, address=None,
                        domain=None, arrival_warning=arrival_warning, sender_hash=_hash("(unknown sender)"),
                        thread_hash=_hash(message_id))

    def _may_answer_unprocessed(self, m: _Message) -> bool:
        """Whether the sender of a message the pipeline did not process may be told it is with a
        person: a referral from an allow-listed sender, not an automatic message, not the bot's
        own (the loop limits of ``_reply_block`` apply on top)."""
        if not m.address or not self.settings.sender_allowed(m.domain) or self._own(m):
            return False
        if self._unauthenticated(m) is not None:
            return False
        try:
            return auto_reply_reason(m.msg) is None
        except Exception:  # noqa: BLE001 - headers too broken to tell: do not answer
            return False

    def _unauthenticated(self, m: _Message) -> str | None:
        """Why the From domain is not to be believed (handlers.mail.sender_auth), or None: also
        None when no authserv-id is configured for the mailbox (sender authentication off)."""
        trusted = sender_auth.trusted_id_for(self.settings, m.mail.mailbox)
        if trusted is None:
            return None
        verdict = sender_auth.check(m.msg, m.domain, trusted)
        return None if verdict.passed else verdict.reason

    def _quarantine(self, m: _Message, reason: str, *, status: str, notify: bool, reply: str | None,
                    sender_reason: str | None = None) -> IntakeOutcome:
        """The one place a quarantine is written: ledger row, audit entry, the human notice and
        the sender's reply (``reply``: "reject" says the form could not be read, "held" that a
        person will look at it), all in one transaction. The reply is withheld when the mail
        may be part of a loop (``_reply_block``); the notice is then bounded (``_notice_mode``)."""
        mail = m.mail
        partnership = self.settings.partnership(mail.partnership)
        with session_scope(self.engine) as session:
            earlier, clash = self._begin(session, m)
            if earlier is not None:
                return self._earlier(session, earlier)
            block = self._reply_block(session, m)
            answer = reply is not None and m.address is not None and block is None
            loop = status == ledger.IGNORED or (block is not None and block[1])
            mode, opened_by = self._notice_mode(session, m, loop) if notify else (None, None)
            row = ledger.record(
                session, message_id=m.message_id, message_sha256=m.sha256, status=status, mailbox=mail.mailbox,
                received_at=mail.received_at, reason=notices.redact_reason(reason), sender_domain=m.domain,
                sender_hash=m.sender_hash, thread_hash=m.thread_hash, answered=answer, notice=mode,
            )
            quarantine_id = f"Q-{row.id}"
            case_repo.audit(
                session, actor=f"intake:{mail.mailbox}"[:120], action=f"intake.{status}",
                detail={"quarantine_id": quarantine_id, "sender_domain": m.domain,
                        "reason": notices.redact_reason(reason), "mailbox": mail.mailbox,
                        "answered": answer, "not_answered_because": block[0] if block else None},
            )
            told = None
            if answer and m.address and reply is not None:
                if reply == "reject":
                    subject, body = notices.rejection(reason, received_at=mail.received_at,
                                                      quarantine_id=quarantine_id)
                    told = "The sender has been told it could not be read."
                else:
                    subject, body = notices.held_for_review(received_at=mail.received_at,
                                                            quarantine_id=quarantine_id, reason=sender_reason)
                    told = "The sender has been told it was received and that a person will look at it."
                transport, recipient = self.router.address(m.address)
                outbox.enqueue(
                    session, transport=transport, recipient=recipient, subject=subject, body=body,
                    dedupe_key=_key(reply, m.identity), payload=self._threading(m, reply),
                )
            elif block is not None:
                told = f"The sender was not answered: {block[0]}."
            if mode == ledger.NOTICE_SUMMARISED and opened_by is not None:
                self._summarise(session, m, partnership.key, opened_by)
            elif mode is not None:
                subject, body = notices.quarantine_notice(
                    quarantine_id, reason=reason, sender_domain=m.domain, mailbox=mail.mailbox,
                    received_at=mail.received_at, sender_told=told is not None, told=told,
                )
                for note in (clash, m.arrival_warning):
                    if note:
                        body += f" Note: {note}."
                if mode == ledger.NOTICE_BOUNDED:
                    body += (" This sender's mail looks like a mail loop: its other such messages in "
                             "the next hour will be summarised in one notice.")
                for transport, recipient in self._humans(partnership.key):
                    outbox.enqueue(
                        session, transport=transport, recipient=recipient, subject=subject, body=body,
                        dedupe_key=_key(f"quarantine:{transport}", f"{m.identity}|{recipient}"),
                        payload={"kind": "intake_quarantine", "quarantine_id": quarantine_id},
                    )
        log.info("intake %s: message from %s %s (%s)", quarantine_id, m.domain or "?", status,
                 notices.redact_reason(reason))
        return IntakeOutcome(status=status, message_id=m.message_id, reason=reason, quarantine_id=quarantine_id,
                             message_sha256=m.sha256)

    # --- mail loops ---------------------------------------------------------------------------

    def _bot_domain(self) -> str:
        return self.settings.smtp_from.rsplit("@", 1)[-1].strip("> ").lower() or "localhost"

    def _is_bot_message_id(self, message_id: str) -> bool:
        """A Message-ID the bot generated: ``_threading``'s replies and the outbox's own."""
        found = _BOT_MESSAGE_ID.match(message_id.strip())
        return bool(found) and found.group("domain").lower() == self._bot_domain()

    def _own(self, m: _Message) -> bool:
        """Mail the bot itself sent: from its own address, or with a Message-ID it made."""
        own = parseaddr(self.settings.smtp_from)[1].strip().lower()
        return (m.address is not None and m.address == own) or self._is_bot_message_id(m.message_id)

    def _replies_to_bot(self, m: _Message) -> bool:
        """Whether the mail answers one of the bot's own messages: it names one in In-Reply-To
        or References, or (a responder that does not thread) keeps one of its subjects."""
        named = _MESSAGE_ID.findall(_header(m.msg, "In-Reply-To") + " " + _header(m.msg, "References"))
        if any(self._is_bot_message_id(found) for found in named):
            return True
        return notices.replies_to_our_subject(_header(m.msg, "Subject"))

    def _reply_block(self, session: Session, m: _Message) -> tuple[str, bool] | None:
        """Why the sender must not be answered (and whether that is a sign of a mail loop), or
        None. Counts come from the ledger (this transaction holds the sender's lock), so the
        limits hold across restarts and across workers."""
        try:
            relayed = relayed_reason(m.msg)
        except Exception:  # noqa: BLE001 - headers too broken to tell: do not answer
            relayed = "its headers could not be read"
        if relayed:
            return relayed, False
        if self._replies_to_bot(m):
            return "it replies to a message the bot sent (a likely mail loop)", True
        since = _utcnow() - REPLY_WINDOW
        sent = ledger.replies_since(session, since, sender_hash=m.sender_hash)
        if sent >= self.settings.intake_replies_per_sender_per_hour:
            return f"the sender has had {sent} automatic replies in the last hour", True
        in_thread = ledger.replies_since(session, since, thread_hash=m.thread_hash)
        if in_thread >= self.settings.intake_replies_per_thread_per_hour:
            return f"this conversation has had {in_thread} automatic replies in the last hour", True
        return None

    def _notice_mode(self, session: Session, m: _Message, loop: bool) -> tuple[str, ledger.IntakeMessage | None]:
        """How a human hears of a quarantined message. Mail that is not loop-like gets a notice
        of its own. Loop-like mail gets one notice per sender per hour (``NOTICE_BOUNDED``); the
        sender's other loop-like mail in that hour is summarised in one notice sent when the
        hour ends (``NOTICE_SUMMARISED``, with the message that opened the hour)."""
        if not loop:
            return ledger.NOTICE_SENT, None
        opened_by = ledger.latest_bounded_notice(session, m.sender_hash, _utcnow() - NOTICE_WINDOW)
        if opened_by is None:
            return ledger.NOTICE_BOUNDED, None
        return ledger.NOTICE_SUMMARISED, opened_by

    def _summarise(self, session: Session, m: _Message, partnership_key: str, opened_by: ledger.IntakeMessage) -> None:
        """Write (or rewrite, as it grows) the pending summary for the hour ``opened_by`` began."""
        assert opened_by.id is not None
        rows = ledger.summarised_after(session, m.sender_hash, opened_by.id)
        if not rows:
            return
        start = _aware(opened_by.processed_at)
        subject, body = notices.loop_summary(
            [f"Q-{r.id}" for r in rows], sender_domain=m.domain or opened_by.sender_domain, mailbox=m.mail.mailbox,
            first=_aware(rows[0].processed_at), last=_aware(rows[-1].processed_at),
        )
        for transport, recipient in self._humans(partnership_key):
            key = _key(f"summary:{transport}", f"{m.sender_hash}|{opened_by.id}|{recipient}")
            if not outbox.enqueue(
                session, transport=transport, recipient=recipient, subject=subject, body=body, dedupe_key=key,
                payload={"kind": "intake_loop_summary"}, not_before=start + NOTICE_WINDOW,
            ) and not outbox.rewrite_pending(session, key, subject=subject, body=body):
                # The summary went out a moment ago (the hour just ended): this one gets its own.
                outbox.enqueue(
                    session, transport=transport, recipient=recipient, subject=subject, body=body,
                    dedupe_key=f"{key}:late:{rows[-1].id}", payload={"kind": "intake_loop_summary"},
                )

    def _humans(self, partnership_key: str) -> list[tuple[str, str]]:
        if self.settings.intake_notify:
            return [self.router.address(self.settings.intake_notify)]
        return self.router(partnership_key, "channel", None)

    # --- good mail ----------------------------------------------------------------------------

    def _accept(self, m: _Message, referral: Referral) -> IntakeOutcome:
        mail = m.mail
        partnership = self.settings.partnership(mail.partnership)
        aware = today_in_london(mail.received_at)
        incident = referral.incident_date
        warnings = list(referral.warnings)  # the form's gaps: the sender is asked about these
        if incident is not None and incident > aware:
            warnings.append("date of death / incident is after the day the referral arrived: not used")
            incident = None
        details: dict[str, Any] = referral.as_json()
        # The case's warnings: the form's, and ours about the message (for officers only).
        details["warnings"] = warnings + ([m.arrival_warning] if m.arrival_warning else [])
        details["intake"] = {"message_id": m.message_id, "mailbox": mail.mailbox,
                             "received_at": mail.received_at.isoformat(), "sender_domain": m.domain}
        actor = f"intake:{mail.mailbox}"[:120]
        content_hash = referral.content_sha256 or None
        with session_scope(self.engine) as session:
            earlier, clash = self._begin(session, m)
            if earlier is not None:
                return self._earlier(session, earlier)
            if content_hash:
                advisory_lock(session, f"content:{partnership.key}:{content_hash}")
            existing = ledger.case_for_content(session, content_hash, partnership.key) if content_hash else None
            if existing is not None:
                view = self.cases.refresh_details(
                    session, existing, details, actor=actor,
                    audit_detail={"source": "re-sent form", "mailbox": mail.mailbox},
                )
                case_id, status = existing, ledger.UPDATED
            else:
                view = self._open(session, partnership.key, aware, incident, referral, details, actor, m.domain)
                case_id, status = self.cases.case_id(session, view.reference), ledger.OPENED
            block = self._reply_block(session, m)
            answer = m.address is not None and block is None
            ledger.record(
                session, message_id=m.message_id, message_sha256=m.sha256, status=status, mailbox=mail.mailbox,
                received_at=mail.received_at, content_hash=content_hash, case_id=case_id,
                sender_domain=m.domain, sender_hash=m.sender_hash, thread_hash=m.thread_hash,
                answered=answer, notice=ledger.NOTICE_SENT,
            )
            if answer:
                self._enqueue_ack(session, view, case_id, m, referral, warnings, partnership.name,
                                  updated=status == ledger.UPDATED)
            not_answered = f"the sender was not answered: {block[0]}" if block else None
            if block:
                case_repo.audit(session, actor=actor, action="intake.not_answered", case_id=case_id,
                                detail={"reference": view.reference, "because": block[0]})
            notes = [n for n in (clash, m.arrival_warning, not_answered) if n]
            self._enqueue_notice(session, view, case_id, m, referral, partnership.key,
                                 updated=status == ledger.UPDATED, warnings=warnings, notes=notes)
        log.info("intake: %s %s from %s (mailbox %s)", view.reference, status, m.domain, mail.mailbox)
        return IntakeOutcome(status=status, message_id=m.message_id, reference=view.reference,
                             message_sha256=m.sha256)

    def _open(
        self,
        session: Session,
        partnership_key: str,
        aware: date,
        incident: date | None,
        referral: Referral,
        details: dict[str, Any],
        actor: str,
        domain: str | None,
    ) -> CaseView:
        # The case row's summary is shown in lists: keep it free of the child's details (the
        # form's own summary is in the case subject's details, for officers only).
        summary = f"{notices.request_label(referral.request_type).capitalize()} by e-mail from " \
                  f"{referral.referrer.agency or domain or 'unknown sender'}"
        answers = self._answers(referral, details)
        try:
            return self.cases.open_case(
                la_aware=aware, actor=actor, summary=summary[:2000], incident_date=incident,
                request_type=referral.request_type, partnership_key=partnership_key,
                details=details, session=session, answers=answers,
            )
        except LifecycleError:
            # Only an impossible incident date can get here (awareness is today): keep it in
            # the details, open the case without it.
            details["warnings"].append("date of death / incident could not be used")
            return self.cases.open_case(
                la_aware=aware, actor=actor, summary=summary[:2000], incident_date=None,
                request_type=referral.request_type, partnership_key=partnership_key,
                details=details, session=session, answers=answers,
            )

    def _answers(self, referral: Referral, details: dict[str, Any]) -> dict[str, str] | None:
        """The criteria answers the form's ticks settle, for the case (its steps follow from
        them). A partnership's own criteria file may not know a key or value the reader gives:
        the case then opens without answers (today's steps) and an officer is told, rather
        than the referral being lost."""
        answers = dict(referral.answers)
        if not answers:
            return None
        try:
            self.cases.assessment(answers)
        except CriteriaAnswerError:
            details["warnings"].append("the form's ticks could not be used as criteria answers")
            return None
        return answers

    def _threading(self, m: _Message, kind: str) -> dict[str, Any]:
        """Reply headers for a message to the sender. Our Message-ID is derived from the
        message's identity, so a retried enqueue builds the same one and two different
        messages that share a Message-ID get different replies."""
        references = " ".join(_header(m.msg, "References").split()[-10:] + [m.message_id])
        sender = self.settings.smtp_from
        domain = sender.rsplit("@", 1)[-1].strip("> ") or "localhost"
        return {
            "kind": f"intake_{kind}",
            "in_reply_to": m.message_id,
            "references": references[-900:],
            "message_id": f"<{kind}-{hashlib.sha256(m.identity.encode()).hexdigest()[:24]}@{domain}>",
        }

    def _enqueue_ack(
        self,
        session: Session,
        view: CaseView,
        case_id: int,
        m: _Message,
        referral: Referral,
        warnings: list[str],
        partnership_name: str,
        *,
        updated: bool,
    ) -> None:
        if not m.address:
            return
        partnership = self.cases.partnership_of_case(view.partnership)[0]
        subject, body = notices.acknowledgement(
            view, partnership_name=partnership_name, request_type=referral.request_type,
            received_at=m.mail.received_at, warnings=warnings, updated=updated,
            contact_name=partnership.contact_name, contact_phone=partnership.contact_phone,
            team_email=partnership.team_email,
        )
        payload = self._threading(m, "ack")
        payload["reference"] = view.reference
        if notices.open_deadlines(view):
            payload["attachments"] = [{
                "filename": f"{view.reference}-deadlines.ics",
                "content_type": "text/calendar",
                "data": deadlines_ics([view]).decode("utf-8"),
            }, {
                "filename": f"{view.reference}-deadlines.txt",
                "content_type": "text/plain",
                "data": notices.statutory_detail(view, partnership_name=partnership_name),
            }]
        transport, recipient = self.router.address(m.address)
        outbox.enqueue(
            session, transport=transport, recipient=recipient, subject=subject, body=body,
            dedupe_key=_key("ack", m.identity), payload=payload, case_id=case_id,
        )

    def _enqueue_notice(
        self,
        session: Session,
        view: CaseView,
        case_id: int,
        m: _Message,
        referral: Referral,
        partnership_key: str,
        *,
        updated: bool,
        warnings: list[str],
        notes: list[str],
    ) -> None:
        subject, body = notices.channel_notice(
            view, request_type=referral.request_type,
            sender_domain=m.domain, mailbox=m.mail.mailbox, updated=updated, warnings_count=len(warnings),
        )
        for note in notes:
            body += f" Note: {note}."
        payload = {"kind": "intake_notice", "reference": view.reference,
                   "request_type": referral.request_type}
        for transport, recipient in self.router(partnership_key, "channel", None):
            outbox.enqueue(
                session, transport=transport, recipient=recipient, subject=subject, body=body,
                dedupe_key=_key(f"notice:{transport}", f"{m.identity}|{recipient}"),
                payload=payload, case_id=case_id,
            )


def _text_and_files(raw: bytes) -> tuple[str, list[tuple[str, str, bytes]]]:
    """A reply's own text (its first text/plain part) and its attachments, kept as they came."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    text = ""
    try:
        body = msg.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        text = body.get_content() if body is not None else ""
    except Exception:  # noqa: BLE001 - an unreadable body is no sign-off, and no crash
        text = ""
    files: list[tuple[str, str, bytes]] = []
    for index, part in enumerate(msg.iter_attachments(), start=1):  # type: ignore[attr-defined]
        try:
            data = part.get_payload(decode=True) or b""
        except Exception as exc:  # noqa: BLE001 - one undecodable part must not lose the others
            log.warning("rapid review reply: attachment %d could not be decoded (%s)", index, type(exc).__name__)
            continue
        files.append((part.get_filename() or f"attachment-{index}", part.get_content_type(), data))
    return text, files
