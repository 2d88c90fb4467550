"""The outbox sender: delivers queued messages with retries, backoff and a dead-letter state.

Each round claims a batch under a lease and commits the claim, delivers outside any database
transaction, then records each outcome. Transient failures retry with exponential backoff
(honouring Retry-After); after ``max_attempts`` a message is dead and an alert is queued, so
a failure is itself reported rather than silently dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from handlers.transports.interface import DeliveryError, OutboundMessage, Transport
from store import outbox
from store.db import session_scope
from store.models import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=2)

    def delay(self, attempts: int, retry_after: float | None) -> timedelta:
        backoff = min(self.base_delay * (2 ** max(attempts - 1, 0)), self.max_delay)
        if retry_after is not None:
            return max(timedelta(seconds=retry_after), timedelta(seconds=1))
        return backoff


@dataclass
class DeliveryReport:
    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.delivered or self.retrying or self.dead)


class OutboxSender:
    """Delivers outbox rows through the transports it is given (by kind)."""

    def __init__(
        self,
        engine: Engine,
        transports: Mapping[str, Transport],
        *,
        retry: RetryPolicy | None = None,
        alert_recipient: tuple[str, str] | None = None,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = 50,
    ) -> None:
        self.engine = engine
        self.transports = dict(transports)
        self.retry = retry or RetryPolicy()
        self.alert_recipient = alert_recipient
        self.clock = clock
        self.batch_size = batch_size

    def _claim(self, now: datetime) -> list[OutboundMessage]:
        with session_scope(self.engine) as session:
            rows = outbox.claim(session, now, lease=self.retry.lease, limit=self.batch_size)
            return [
                OutboundMessage(
                    id=row.id or 0,
                    transport=row.transport,
                    recipient=row.recipient,
                    subject=row.subject,
                    body=row.body,
                    payload=dict(row.payload),
                )
                for row in rows
            ]

    async def deliver_once(self, now: datetime | None = None) -> DeliveryReport:
        """One round: claim what is due at ``now`` and try each message once."""
        moment = now or self.clock()
        messages = await asyncio.to_thread(self._claim, moment)
        report = DeliveryReport()
        for message in messages:
            outcome = await self._deliver(message)
            await asyncio.to_thread(self._record, message, outcome, moment, report)
        return report

    async def drain(self, now: datetime | None = None, max_rounds: int = 1000) -> DeliveryReport:
        """Rounds until nothing is deliverable at ``now`` (retries scheduled later are left)."""
        total = DeliveryReport()
        for _ in range(max_rounds):
            report = await self.deliver_once(now)
            if not report:
                break
            total.delivered += report.delivered
            total.retrying += report.retrying
            total.dead += report.dead
        return total

    async def _deliver(self, message: OutboundMessage) -> DeliveryError | None:
        transport = self.transports.get(message.transport)
        if transport is None:
            return DeliveryError(f"no transport {message.transport!r} configured", transient=True)
        try:
            await transport.send(message)
        except DeliveryError as exc:
            return exc
        except Exception as exc:  # a bug in a transport must not kill the sender
            log.exception("transport %s failed on outbox message %s", message.transport, message.id)
            return DeliveryError(f"unexpected {type(exc).__name__}", transient=True)
        return None

    def _record(
        self, message: OutboundMessage, error: DeliveryError | None, now: datetime, report: DeliveryReport
    ) -> None:
        with session_scope(self.engine) as session:
            if error is None:
                outbox.mark_sent(session, message.id, self.clock())
                report.delivered.append(message.id)
                log.info("delivered outbox message %s via %s", message.id, message.transport)
                return
            claimed = outbox.attempts(session, message.id)
            attempts = self.retry.max_attempts if claimed is None else claimed
            if error.transient and attempts < self.retry.max_attempts:
                retry_at = now + self.retry.delay(attempts, error.retry_after)
                outbox.mark_failed(session, message.id, str(error), retry_at=retry_at)
                report.retrying.append(message.id)
                log.warning(
                    "outbox message %s via %s failed (%s); retry %d at %s",
                    message.id, message.transport, error, attempts, retry_at.isoformat(),
                )
                return
            outbox.mark_failed(session, message.id, str(error), retry_at=None)
            report.dead.append(message.id)
            log.error("outbox message %s via %s is dead: %s", message.id, message.transport, error)
            self._alert(session, message, str(error))

    def _alert(self, session, message: OutboundMessage, error: str) -> None:  # type: ignore[no-untyped-def]
        """A dead message is itself news: queue an alert (never about an alert, to avoid loops)."""
        if self.alert_recipient is None or message.payload.get("kind") == "alert":
            return
        transport, recipient = self.alert_recipient
        reference = message.payload.get("reference", "-")
        outbox.enqueue(
            session,
            transport=transport,
            recipient=recipient,
            subject=f"safeguard-bot could not deliver message {message.id}",
            # Plain text: the recipient and the error can carry outsider text (an address from
            # a From header, a remote server's refusal); the Slack renderer escapes it.
            body=(
                f"safeguard-bot gave up delivering outbox message {message.id} "
                f"({message.transport} to {message.recipient}, case {reference}) after "
                f"{self.retry.max_attempts} attempts: {error}. Run: safeguard-bot status"
            ),
            payload={"kind": "alert", "reference": reference},
            dedupe_key=f"alert:dead:{message.id}",
        )
