"""SMTP transport (aiosmtplib). The message is built once, when it is enqueued, so a retry
sends byte-for-byte the same e-mail with the same Message-ID.

With a token provider (SAFEGUARD_SMTP_AUTH=oauth2, Microsoft 365's SMTP.SendAsApp) it signs in
with XOAUTH2 (aiosmtplib's ``oauth_token_generator``): each connection asks bot.oauth for the
current token, fetched in a worker thread because msal blocks. A refused token is fetched afresh
and tried once more; refused again, or the authority down, the delivery fails as transient and
the outbox retries it with backoff (and alerts a human when it gives up): nothing is lost."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
from email.message import EmailMessage
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

import aiosmtplib

from handlers.transports.interface import DeliveryError, OutboundMessage

if TYPE_CHECKING:
    from bot.oauth import TokenProvider


def build_email(message: OutboundMessage, default_sender: str) -> EmailMessage:
    """The RFC 5322 message for an outbox row, threaded when it answers a message.

    ``payload`` may carry ``from``, ``in_reply_to``, ``references``, ``message_id`` and
    ``attachments`` (a list of {filename, content_type, data}), e.g. the .ics of deadlines.
    The Message-ID is stable per outbox row, so a retried send is recognisably the same mail.
    """
    raw = message.payload.get("raw_email")
    if isinstance(raw, str):
        parsed = email.message_from_string(raw, policy=email.policy.SMTP)
        assert isinstance(parsed, EmailMessage)
        return parsed
    payload = message.payload
    mail = EmailMessage()
    mail["From"] = payload.get("from") or default_sender
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    domain = str(mail["From"]).rsplit("@", 1)[-1].strip("> ") or "localhost"
    mail["Message-ID"] = payload.get("message_id") or f"<outbox-{message.id}@{domain}>"
    attachments = list(payload.get("attachments") or [])
    if payload.get("kind") == "reminder" and payload.get("reference"):
        # Every reminder and escalation about one case is one thread in the mailbox, and each
        # carries its step as a calendar entry.
        thread, ics = _reminder_extras(payload, domain)
        payload = {**payload, "in_reply_to": payload.get("in_reply_to") or thread,
                   "references": payload.get("references") or thread}
        attachments.append(ics)
    if payload.get("in_reply_to"):
        mail["In-Reply-To"] = payload["in_reply_to"]
        mail["References"] = payload.get("references") or payload["in_reply_to"]
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders must not answer us
    mail.set_content(message.body)
    for attachment in attachments:
        maintype, _, subtype = (attachment.get("content_type") or "application/octet-stream").partition("/")
        data = attachment.get("data", "")
        if attachment.get("encoding") == "base64":  # binary (a .docx) in the JSON payload
            data = base64.b64decode(data)
        if maintype == "text" and isinstance(data, str):
            mail.add_attachment(data, subtype=subtype or "plain", filename=attachment.get("filename"))
        else:
            mail.add_attachment(
                data.encode() if isinstance(data, str) else data,
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=attachment.get("filename"),
            )
    return mail


def case_thread_id(reference: str, domain: str) -> str:
    """The Message-ID every e-mail about one case refers to: its thread."""
    return f"<case-{reference.lower()}@{domain}>"


def _reminder_extras(payload: dict[str, Any], domain: str) -> tuple[str, dict[str, Any]]:
    """(the case's thread id, the step's .ics attachment) for a reminder's payload."""
    from datetime import date

    from bot.calendar_export import step_ics

    reference = str(payload["reference"])
    ics = step_ics(reference, str(payload.get("deadline", "step")), str(payload.get("label", "")),
                   date.fromisoformat(str(payload["due"])), str(payload.get("rule", "")),
                   str(payload.get("source", "")))
    name = f"{reference}-{payload.get('deadline', 'step')}.ics"
    return case_thread_id(reference, domain), {"filename": name, "content_type": "text/calendar",
                                               "data": ics.decode()}


class SmtpTransport:
    kind = "email"

    def __init__(
        self,
        *,
        hostname: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        start_tls: bool | None = None,
        timeout: float = 30.0,
        tokens: TokenProvider | None = None,
    ) -> None:
        self.hostname = hostname
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.use_tls = use_tls
        self.start_tls = start_tls
        self.timeout = timeout
        self.tokens = tokens

    def build(self, message: OutboundMessage) -> EmailMessage:
        return build_email(message, self.sender)

    async def _send(self, mail: EmailMessage, recipient: str, *, refresh: bool = False) -> None:
        auth: dict[str, Any] = {"username": self.username, "password": self.password}
        if self.tokens is not None:
            tokens = self.tokens

            async def token() -> str:
                return await asyncio.to_thread(tokens.token, refresh=refresh)

            auth = {"username": self.username, "oauth_token_generator": token}
        await aiosmtplib.send(
            mail,
            sender=self.sender,
            recipients=[recipient],
            hostname=self.hostname,
            port=self.port,
            use_tls=self.use_tls,
            start_tls=self.start_tls,
            timeout=self.timeout,
            **auth,
        )

    async def send(self, message: OutboundMessage) -> None:
        from bot.oauth import OAuthError

        mail = self.build(message)
        try:
            try:
                await self._send(mail, message.recipient)
            except aiosmtplib.SMTPAuthenticationError:
                if self.tokens is None:
                    raise
                await self._send(mail, message.recipient, refresh=True)  # once, with a fresh token
        except OAuthError as exc:
            # Transient even when refused: once the setting is fixed the row is delivered.
            raise DeliveryError(f"SMTP sign-in: {exc}", transient=True) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP {exc.code}: sign-in refused", transient=True) from None
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc}", transient=False) from None
        except aiosmtplib.SMTPResponseException as exc:
            transient = 400 <= exc.code < 500
            raise DeliveryError(f"SMTP {exc.code}", transient=transient) from None
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            raise DeliveryError(f"SMTP unavailable: {type(exc).__name__}", transient=True) from None
