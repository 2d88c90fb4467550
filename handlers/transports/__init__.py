"""Outbound transports behind one small interface, like Django's e-mail backends.

A ``Transport`` sends one ``OutboxItem``; it raises ``TransientError`` for what a retry may fix
(server down, timeout, 4xx) and ``PermanentError`` for what it will not (5xx refusal of the
recipient). ``deliver_due`` drains the outbox through whichever transports are configured, so the
clock and the mail watcher never name SMTP or Slack.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Engine

from store import outbox
from store.outbox import OutboxItem


class TransientError(Exception):
    """Try again later."""


class PermanentError(Exception):
    """Retrying will not help; the row goes to "dead" for a human."""


class Transport(Protocol):
    channel: str

    async def send(self, item: OutboxItem) -> None: ...


async def deliver_due(engine: Engine, transports: dict[str, Transport], *, limit: int = 20) -> dict[str, int]:
    """Send what is due; returns how many were sent, retried and given up."""
    result = {"sent": 0, "retry": 0, "dead": 0}
    for item in outbox.claim_due(engine, limit=limit):
        transport = transports.get(item.channel)
        if transport is None:
            status = outbox.mark_failed(engine, item.id, f"no transport configured for {item.channel}")
            result["retry" if status == outbox.PENDING else "dead"] += 1
            continue
        try:
            await transport.send(item)
        except PermanentError as exc:
            outbox.mark_failed(engine, item.id, f"permanent: {exc}", permanent=True)
            result["dead"] += 1
        except Exception as exc:  # TransientError and anything unexpected: retry with backoff
            status = outbox.mark_failed(engine, item.id, f"{type(exc).__name__}: {exc}")
            result["retry" if status == outbox.PENDING else "dead"] += 1
        else:
            outbox.mark_sent(engine, item.id)
            result["sent"] += 1
    return result
