"""Transports for the embedded defaults: a folder of message files, and the console."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TextIO

from handlers.transports.interface import DeliveryError, OutboundMessage


class FolderTransport:
    """Writes each message to ``<folder>/<id>-<transport>.json`` (and ``.eml`` for e-mail, i.e.
    the email transport or any recipient that is an address).

    The file name is the outbox id, so delivering the same message twice rewrites one file
    rather than making two. Writes are atomic (temporary file, fsync, rename).
    """

    kind = "folder"

    def __init__(self, folder: Path, sender: str = "safeguard-bot@localhost") -> None:
        self.folder = folder
        self.sender = sender

    async def send(self, message: OutboundMessage) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            data = {
                "id": message.id,
                "transport": message.transport,
                "recipient": message.recipient,
                "subject": message.subject,
                "body": message.body,
                "payload": message.payload,
            }
            self._write(f"{message.id:08d}-{message.transport}.json", json.dumps(data, indent=2))
            # An e-mail routed here because no SMTP server is configured is still an e-mail:
            # write it as one, so an acknowledgement can be opened in a mail client.
            if message.transport == "email" or "raw_email" in message.payload or "@" in message.recipient:
                from handlers.transports.smtp import build_email

                mail = build_email(message, self.sender)
                self._write(f"{message.id:08d}.eml", mail.as_string())
        except OSError as exc:
            raise DeliveryError(f"cannot write to {self.folder}: {exc.strerror}", transient=True) from None

    def _write(self, name: str, text: str) -> None:
        target = self.folder / name
        temporary = target.with_suffix(target.suffix + ".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)


class ConsoleTransport:
    """Prints each message: the terminal is the channel when nothing else is configured."""

    kind = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    async def send(self, message: OutboundMessage) -> None:
        header = f"--- to {message.recipient}"
        if message.subject:
            header += f": {message.subject}"
        print(f"{header}\n{message.body}\n", file=self.stream, flush=True)
