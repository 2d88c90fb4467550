"""The clock of one worker: apscheduler (3.x, AsyncIOScheduler) jobs for the sweep, the digest
and the heartbeat.

It is handed the jobs as plain coroutine functions, so it knows nothing of the service that
composes it (bot/service.py), of transports or of settings: the clock only decides *when*.

- The reminder sweep runs every minute from start, and again exactly at the next planned
  reminder (``wake_at``), so a reminder is not up to a minute late.
- The weekly digest is checked at the policy's send time on weekdays (Europe/London), and once
  just after start, so a worker started after the send time still sends this week's digest (the
  outbox dedupe key makes a repeat harmless).
- The heartbeat runs every 30 seconds.

Every job is ``max_instances=1`` and coalesced: a slow sweep is never run twice at once, and a
worker that was suspended runs a missed job once, not once per missed minute.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scheduler.calendar import LONDON

Job = Callable[[], Awaitable[None]]


class Clock:
    """The scheduled jobs of one worker; ``start`` inside the running event loop."""

    def __init__(self, *, sweep: Job, digest: Job, heartbeat: Job, send_time: time) -> None:
        self.sweep = sweep
        self.digest = digest
        self.heartbeat = heartbeat
        self.send_time = send_time
        self._scheduler = AsyncIOScheduler(timezone=LONDON)

    def start(self) -> None:
        scheduler = self._scheduler
        now = datetime.now(tz=UTC)
        scheduler.add_job(
            self.sweep, IntervalTrigger(minutes=1), id="sweep",
            next_run_time=now, max_instances=1, coalesce=True, misfire_grace_time=None,
        )
        scheduler.add_job(
            self.digest,
            CronTrigger(
                day_of_week="mon-fri", hour=self.send_time.hour, minute=self.send_time.minute, timezone=LONDON
            ),
            id="digest", max_instances=1, coalesce=True,
        )
        scheduler.add_job(self.digest, DateTrigger(run_date=now + timedelta(seconds=1)), id="digest-catch-up")
        scheduler.add_job(
            self.heartbeat, IntervalTrigger(seconds=30), id="heartbeat",
            coalesce=True,
        )
        scheduler.start()

    def wake_at(self, when: datetime) -> None:
        """Sweep once more at ``when`` (naive means UTC, as the store returns it); replaces the
        previous such wake-up, so there is only ever one."""
        moment = when if when.tzinfo else when.replace(tzinfo=UTC)
        self._scheduler.add_job(
            self.sweep, DateTrigger(run_date=moment), id="sweep-at-next-due", replace_existing=True
        )

    def shutdown(self) -> None:
        """Start no more jobs; one in flight is the caller's to wait for."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
