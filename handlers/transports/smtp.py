"""SMTP transport (aiosmtplib). The message is built once, when it is enqueued, so a retry
sends byte-for-byte the same e-mail with the same Message-ID."""

from __future__ import annotations

import asyncio
import email
import email.policy
from email.message import EmailMessage

import aiosmtplib

from bot.messages import DeliveryError, OutboundMessage


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
    ) -> None:
        self.hostname = hostname
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.use_tls = use_tls
        self.start_tls = start_tls
        self.timeout = timeout

    def build(self, message: OutboundMessage) -> EmailMessage:
        raw = message.payload.get("raw_email")
        if isinstance(raw, str):
            parsed = email.message_from_string(raw, policy=email.policy.SMTP)
            assert isinstance(parsed, EmailMessage)
            return parsed
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Message-ID"] = f"<outbox-{message.id}@safeguard-bot>"
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.body)
        return mail

    async def send(self, message: OutboundMessage) -> None:
        mail = self.build(message)
        try:
            await aiosmtplib.send(
                mail,
                sender=self.sender,
                recipients=[message.recipient],
                hostname=self.hostname,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.use_tls,
                start_tls=self.start_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc}", transient=False) from None
        except aiosmtplib.SMTPResponseException as exc:
            transient = 400 <= exc.code < 500
            raise DeliveryError(f"SMTP {exc.code}", transient=transient) from None
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            raise DeliveryError(f"SMTP unavailable: {type(exc).__name__}", transient=True) from None
