"""E-mail transports: SMTP (aiosmtplib), a folder of .eml files, and the console.

All three build the same ``EmailMessage`` from an outbox row, so what the embedded default writes
to ``<data dir>/outbox/`` is exactly what SMTP would send. The row's ``payload`` may carry
``from``, ``in_reply_to``, ``references``, ``message_id`` and ``attachments`` (a list of
{filename, content_type, data (str)}), e.g. the .ics file of deadlines.
"""

from __future__ import annotations

import asyncio
import os
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TextIO

from handlers.transports import PermanentError, TransientError
from store.outbox import OutboxItem

DEFAULT_SENDER = "safeguard-bot@localhost"


def build_email(item: OutboxItem, default_sender: str = DEFAULT_SENDER) -> EmailMessage:
    """The RFC 5322 message for an outbox row (threaded when it answers a message)."""
    payload = item.payload
    msg = EmailMessage()
    msg["From"] = payload.get("from") or default_sender
    msg["To"] = item.recipient
    msg["Subject"] = item.subject or ""
    msg["Date"] = formatdate(localtime=False)
    domain = str(msg["From"]).rsplit("@", 1)[-1].strip("> ") or "localhost"
    # Stable per outbox row: a retried send is recognisably the same message.
    msg["Message-ID"] = payload.get("message_id") or make_msgid(f"outbox{item.id}", domain=domain)
    if payload.get("in_reply_to"):
        msg["In-Reply-To"] = payload["in_reply_to"]
        msg["References"] = payload.get("references") or payload["in_reply_to"]
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders must not answer us
    msg.set_content(item.body)
    for attachment in payload.get("attachments") or []:
        maintype, _, subtype = (attachment.get("content_type") or "application/octet-stream").partition("/")
        data = attachment.get("data", "")
        if maintype == "text":
            msg.add_attachment(data, subtype=subtype or "plain", filename=attachment.get("filename"))
        else:
            msg.add_attachment(data.encode() if isinstance(data, str) else data, maintype=maintype,
                               subtype=subtype or "octet-stream", filename=attachment.get("filename"))
    return msg


class SmtpTransport:
    """Send through an SMTP server with aiosmtplib (STARTTLS/TLS and login when configured)."""

    channel = "email"

    def __init__(self, hostname: str, port: int, *, username: str | None = None,
                 password: str | None = None, use_tls: bool = False, start_tls: bool | None = None,
                 sender: str = DEFAULT_SENDER, timeout: float = 30) -> None:
        self.hostname, self.port = hostname, port
        self.username, self.password = username, password
        self.use_tls, self.start_tls = use_tls, start_tls
        self.sender, self.timeout = sender, timeout

    async def send(self, item: OutboxItem) -> None:
        import aiosmtplib

        message = build_email(item, self.sender)
        try:
            await aiosmtplib.send(
                message, hostname=self.hostname, port=self.port, username=self.username,
                password=self.password, use_tls=self.use_tls, start_tls=self.start_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [getattr(r, "code", 0) for r in exc.recipients]
            if codes and all(500 <= c < 600 for c in codes):
                raise PermanentError(f"recipient refused ({codes[0]})") from None
            raise TransientError(f"recipient deferred ({codes[0] if codes else '?'})") from None
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600 and exc.code not in (530, 535):  # auth problems are ours to fix
                raise PermanentError(f"SMTP {exc.code}") from None
            raise TransientError(f"SMTP {exc.code}") from None
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            raise TransientError(f"SMTP unavailable ({type(exc).__name__})") from None


class FolderTransport:
    """Write each message as an .eml file (the embedded default: ``<data dir>/outbox/``).

    Written to a temporary name and renamed, so a reader of the folder never sees half a file;
    the name comes from the outbox row, so a retried row overwrites rather than duplicates.
    """

    channel = "folder"

    def __init__(self, folder: Path, sender: str = DEFAULT_SENDER, channel: str = "folder") -> None:
        self.folder = folder
        self.sender = sender
        self.channel = channel

    async def send(self, item: OutboxItem) -> None:
        data = build_email(item, self.sender).as_bytes()
        await asyncio.to_thread(self._write, item, data)

    def _write(self, item: OutboxItem, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / f"{item.id:08d}.eml"
        tmp = self.folder / f".{item.id:08d}.eml.tmp"
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)


class ConsoleTransport:
    """Print messages to a stream (a terminal session with no mail configured)."""

    channel = "console"

    def __init__(self, stream: TextIO | None = None, channel: str = "console") -> None:
        self.stream = stream
        self.channel = channel

    async def send(self, item: OutboxItem) -> None:
        stream = self.stream or sys.stdout
        rule = "-" * 72
        stream.write(f"{rule}\nTo: {item.recipient}\nSubject: {item.subject or ''}\n\n{item.body}\n{rule}\n")
        stream.flush()
