"""Outbound messages and delivery errors: the contract between the outbox and its transports.

Pure data. Transports (slack.py, smtp.py, local.py beside this module) turn an OutboundMessage
into a Slack post, an e-mail, a file or a console line; the outbox sender (sender.py) only sees
this module, so the sender never knows Slack or SMTP by name and the clock (scheduler/) never
sees a transport at all: it only writes outbox rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class OutboundMessage:
    """One message to one recipient. ``payload`` carries structured content (a reminder's
    case reference, deadline and actions; an e-mail's headers and attachments) that a
    transport may render richly; ``body`` is the plain-text fallback."""

    id: int
    transport: str
    recipient: str
    subject: str
    body: str
    payload: dict[str, Any] = field(default_factory=dict)


class DeliveryError(Exception):
    """A delivery that did not happen.

    ``transient`` failures (an outage, a rate limit) are retried with backoff, honouring
    ``retry_after`` seconds when the far end said how long to wait; permanent ones (an unknown
    channel, a rejected address) go straight to the dead-letter state and raise an alert.
    """

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


class Transport(Protocol):
    """What the outbox sender needs from a transport."""

    kind: str

    async def send(self, message: OutboundMessage) -> None:
        """Deliver or raise DeliveryError. Must be safe to call again for the same message."""
        ...
