"""``safeguard-bot run``: the clock, the outbox sender and the adapters in one process.

- The clock (scheduler/clock.py, apscheduler jobs) wakes the reminder sweep every minute and
  again exactly at the next planned reminder; the weekly digest is checked at the send time on
  weekdays. This module composes it: the jobs it runs are this service's methods.
- The outbox sender runs as a task: it delivers whatever is due, then sleeps until woken by a
  sweep or until the next retry is due (at most a few seconds).
- Adapters (the Slack app, the mail watcher) run beside them when configured.
- SIGTERM/SIGINT stop it gracefully: no new work is started, the sweep or delivery in progress
  finishes (a sweep is one transaction; a delivery round records each outcome), the worker is
  marked stopped. Anything not finished stays in the database for the next start.

Several processes may run against one PostgreSQL database; on SQLite run one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from bot.runtime import Runtime
from handlers.transports.interface import Transport
from handlers.transports.sender import OutboxSender
from scheduler.clock import Clock
from scheduler.digest import send_digests
from store import outbox, workers
from store import reminders as reminder_store
from store.db import session_scope
from store.models import utcnow

log = logging.getLogger(__name__)

Component = Callable[[asyncio.Event], Awaitable[None]]


class Service:
    """One worker process. ``clock`` is injectable so tests can run it at a chosen moment."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        transports: dict[str, Transport] | None = None,
        components: dict[str, Component] | None = None,
        clock: Callable[[], datetime] = utcnow,
        idle_poll: float = 5.0,
    ) -> None:
        self.runtime = runtime
        self.clock = clock
        self.idle_poll = idle_poll
        self.sweeper = runtime.sweeper()
        self.sender: OutboxSender = runtime.sender(transports)
        self.sender.clock = clock
        self.components = dict(components or {})
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Held by every scheduled job while it runs, so shutdown can wait for the one in flight.
        self._jobs = asyncio.Lock()
        self._stopping = False
        self._scheduler: Clock | None = None
        self.sweeps = 0
        self.started_at = utcnow()
        # When the clock last swept (``/healthz``: liveness); None until the first sweep.
        self.last_sweep_at: datetime | None = None

    # --- jobs -----------------------------------------------------------------------------

    async def sweep(self) -> None:
        """One sweep in a worker thread (the database calls block), then wake the sender."""
        async with self._jobs:
            if self._stopping:
                return
            now = self.clock()
            result = await asyncio.to_thread(self.sweeper.sweep, now)
            chased = await asyncio.to_thread(self._chase_rapid_reviews, now)
            self.sweeps += 1
            if chased:
                self._wake.set()
            self.last_sweep_at = utcnow()
            if result.sent:
                log.info("sweep queued %d reminder(s)", len(result.sent))
                self._wake.set()
            await asyncio.to_thread(self._schedule_next_due)

    def _chase_rapid_reviews(self, now: datetime) -> int:
        """Late agencies chased, and escalated, on their rapid review's days (issue 14)."""
        from bot.rapid_review import RapidReviewService
        from scheduler.calendar import today_in_london

        result = RapidReviewService(self.runtime.cases).chase(today_in_london(now))
        if result.chased or result.escalated:
            log.info("rapid reviews: %d agency summary(ies) chased, %d escalated",
                     len(result.chased), len(result.escalated))
        return len(result.chased) + len(result.escalated)

    def _schedule_next_due(self) -> None:
        """Wake exactly at the next planned reminder, not up to a minute late."""
        if self._scheduler is None or self._stopping:
            return
        with session_scope(self.runtime.engine) as session:
            upcoming = reminder_store.next_pending_send_at(session, self.clock())
        if upcoming is not None:
            self._scheduler.wake_at(upcoming)

    async def digest(self) -> None:
        async with self._jobs:
            if self._stopping:
                return
            runtime = self.runtime
            sent = await asyncio.to_thread(
                send_digests, runtime.engine, self.clock(), runtime.policy, runtime.calendar_for, runtime.router
            )
            if sent:
                self._wake.set()

    async def heartbeat(self) -> None:
        async with self._jobs:
            if not self._stopping:
                await asyncio.to_thread(self._beat, None)

    def _beat(self, stopped: datetime | None) -> None:
        with session_scope(self.runtime.engine) as session:
            workers.beat(
                session, self.worker_id, host=socket.gethostname(), pid=os.getpid(),
                components=",".join(["clock", "outbox", *self.components]), stopped=stopped,
            )

    async def deliver_forever(self, stop: asyncio.Event) -> None:
        """Deliver what is due; sleep until woken or the next retry, whichever is sooner."""
        while not stop.is_set():
            report = await self.sender.deliver_once()
            if report:
                continue
            self._wake.clear()
            timeout = await asyncio.to_thread(self._idle_timeout)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            except TimeoutError:
                pass

    def _idle_timeout(self) -> float:
        with session_scope(self.runtime.engine) as session:
            due = outbox.next_due(session)
        if due is None:
            return self.idle_poll
        due = due if due.tzinfo else due.replace(tzinfo=UTC)
        return max(0.05, min(self.idle_poll, (due - self.clock()).total_seconds()))

    # --- lifecycle ------------------------------------------------------------------------

    def wake_threadsafe(self) -> None:
        """Wake the outbox sender from another thread (a mail watcher that just queued an
        acknowledgement), so it is delivered now rather than at the next idle poll."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._beat, None)
        scheduler = Clock(
            sweep=self.sweep, digest=self.digest, heartbeat=self.heartbeat,
            send_time=self.runtime.policy.send_time,
        )
        self._scheduler = scheduler
        scheduler.start()
        tasks = [asyncio.create_task(self.deliver_forever(stop), name="outbox")]
        tasks += [asyncio.create_task(component(stop), name=name) for name, component in self.components.items()]
        log.info("worker %s running: %s", self.worker_id, ", ".join(["clock", "outbox", *self.components]))
        try:
            waiter = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not waiter and task.exception() is not None:
                    log.error("component %s failed: %s", task.get_name(), task.exception())
            stop.set()
        finally:
            async with self._jobs:  # the sweep or digest in flight finishes first
                self._stopping = True
            scheduler.shutdown()
            # Let the outbox round and the adapters in progress finish (they watch ``stop``).
            self._wake.set()
            await asyncio.wait(tasks, timeout=30)
            for task in tasks:
                if not task.done():
                    task.cancel()
            await asyncio.to_thread(self._beat, utcnow())
            log.info("worker %s stopped", self.worker_id)


def threaded(run: Callable[[threading.Event], None], name: str, *, join: bool = True) -> Component:
    """A component that runs a blocking loop ``run(stop_flag)`` in a daemon thread.

    The service's asyncio stop event is bridged to the thread's ``threading.Event``. With
    ``join`` the component waits (up to 30 s) for the thread to finish its work in progress (a
    mail watcher finishing a message); without it the service never waits on a thread that may
    be blocked on a read that will never return (the terminal chat on stdin). An exception in
    the thread ends the component, and with it the service, so a supervisor restarts it.
    """

    async def component(stop: asyncio.Event) -> None:
        flag = threading.Event()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def settle(error: BaseException | None) -> None:
            if done.done():
                return
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)

        def target() -> None:
            error: BaseException | None = None
            try:
                run(flag)
            except BaseException as exc:  # noqa: BLE001 - reported through the future
                error = exc
            loop.call_soon_threadsafe(settle, error)

        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([done, stopper], return_when=asyncio.FIRST_COMPLETED)
        flag.set()
        stopper.cancel()
        if join:
            await asyncio.to_thread(thread.join, 30)
        error = done.exception() if done.done() else None
        if error is not None and not isinstance(error, SystemExit):
            raise error

    return component


def in_daemon_thread(function: Callable[[], object], name: str) -> Component:
    """The terminal chat as a component: it ignores the stop flag and is never joined."""
    return threaded(lambda _flag: function(), name, join=False)
