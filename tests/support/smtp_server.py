"""A real SMTP server (aiosmtpd) on loopback that records messages and can refuse the first N."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.slack_api import free_port


@dataclass
class RecordingHandler:
    refuse_first: int = 0
    messages: list[Message] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)
    attempts: int = 0
    # Called with each accepted message (e.g. a helpdesk that answers everything, for loop tests).
    respond: Callable[[Message], None] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.attempts += 1
        if self.attempts <= self.refuse_first:
            return "451 4.3.0 Try again later"
        self.envelopes.append(envelope)
        message = message_from_bytes(envelope.content)
        self.messages.append(message)
        if self.respond is not None:
            self.respond(message)
        return "250 OK"


class SmtpServer:
    def __init__(self, refuse_first: int = 0) -> None:
        self.port = free_port()
        self.handler = RecordingHandler(refuse_first=refuse_first)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.handler.messages) >= count:
                return self.handler.messages
            time.sleep(0.01)
        raise AssertionError(f"expected {count} message(s), got {len(self.handler.messages)}")
