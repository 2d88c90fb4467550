"""A real SMTP server (aiosmtpd) on loopback that records messages and can refuse the first N.

With ``tokens`` (a TokenAuthority) it is Exchange Online's SMTP AUTH for apps: AUTH XOAUTH2 is
required before MAIL, and a token is good only if the authority issued it, it has not expired,
and it is for the mailbox named in the XOAUTH2 ``user=`` (the app's SMTP.SendAsApp scope).
aiosmtpd's 512-byte command limit is raised: real tokens make a 2 KB AUTH line."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import TYPE_CHECKING, Any, ClassVar

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from tests.support.slack_api import free_port

if TYPE_CHECKING:
    from tests.support.token_authority import TokenAuthority


@dataclass
class RecordingHandler:
    refuse_first: int = 0
    messages: list[Message] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)
    attempts: int = 0
    # Called with each accepted message (e.g. a helpdesk that answers everything, for loop tests).
    respond: Callable[[Message], None] | None = None
    tokens: TokenAuthority | None = None
    logins: list[str] = field(default_factory=list)  # mailboxes signed in with a good token
    refused_logins: int = 0

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        from tests.support.token_authority import xoauth2_token

        found = xoauth2_token(args[1]) if len(args) > 1 and self.tokens is not None else None
        if found is not None and self.tokens is not None and self.tokens.check(found[1]) == found[0]:
            self.logins.append(found[0])
            return AuthResult(success=True, handled=False, auth_data=found[0])
        self.refused_logins += 1
        return AuthResult(success=False, handled=False)

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


class _LongLinesSMTP(SMTP):
    # Class attributes: the stream reader's limit is fixed in SMTP.__init__.
    command_size_limit = 16384
    command_size_limits: ClassVar[dict[str, int]] = collections.defaultdict(lambda: 16384)
    line_length_limit = 16384


class _LongLines(Controller):
    def factory(self) -> SMTP:
        return _LongLinesSMTP(self.handler, **self.SMTP_kwargs)


class SmtpServer:
    def __init__(self, refuse_first: int = 0, *, tokens: TokenAuthority | None = None) -> None:
        self.port = free_port()
        self.handler = RecordingHandler(refuse_first=refuse_first, tokens=tokens)
        if tokens is None:
            self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        else:
            self.controller = _LongLines(self.handler, hostname="127.0.0.1", port=self.port,
                                         auth_required=True, auth_require_tls=False,
                                         auth_exclude_mechanism=["LOGIN", "PLAIN"])

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
