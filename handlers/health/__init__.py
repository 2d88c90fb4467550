"""``/healthz`` and ``/metrics`` for ``safeguard-bot run`` (issue 16): a loopback HTTP port
(settings health_host / health_port) a monitoring system or ``curl`` reads.

- ``/healthz``: liveness. 200 and ``{"status": "ok", ...}`` while the clock ticks (the last
  reminder sweep within ``STALE_AFTER`` seconds, or the service younger than that); 503 and
  ``"stale"`` otherwise, so a supervisor can restart it. It also gives the outbox's depth and
  the age of its oldest undelivered message.
- ``/metrics``: Prometheus text format (prometheus-client): referrals processed and
  quarantined, reminders sent, outbox depth, oldest undelivered message, deliveries failed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlmodel import Session

from store.metrics import Figures, figures
from store.models import utcnow

log = logging.getLogger(__name__)

STALE_AFTER = 180.0  # seconds: the clock sweeps every minute


class _DatabaseCollector(Collector):
    def __init__(self, read: Callable[[], Figures]) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        f = self.read()
        referrals = CounterMetricFamily("safeguard_referrals", "Mail the intake handled, by outcome",
                                        labels=["outcome"])
        for outcome, count in sorted(f.referrals.items()):
            referrals.add_metric([outcome], count)
        yield referrals
        yield CounterMetricFamily("safeguard_referrals_quarantined", "Mail quarantined for a human",
                                  value=f.referrals.get("quarantined", 0))
        yield CounterMetricFamily("safeguard_reminders_sent", "Reminders sent", value=f.reminders_sent)
        yield GaugeMetricFamily("safeguard_outbox_depth", "Messages not yet delivered", value=f.outbox_depth)
        yield GaugeMetricFamily("safeguard_outbox_oldest_undelivered_seconds",
                                "Age of the oldest undelivered message (0: none)", value=f.outbox_oldest_seconds)
        yield CounterMetricFamily("safeguard_deliveries_failed", "Messages given up on after their retries",
                                  value=f.deliveries_failed)
        yield GaugeMetricFamily("safeguard_deliveries_retrying", "Undelivered messages with a failed attempt",
                                value=f.delivery_retries)


def health_app(engine: Engine, last_tick: Callable[[], datetime | None], started: datetime) -> web.Application:
    """The two routes; ``last_tick`` says when the clock last swept (None: not yet)."""

    def read() -> Figures:
        with Session(engine) as session:
            return figures(session)

    registry = CollectorRegistry()
    registry.register(_DatabaseCollector(read))

    async def healthz(_request: web.Request) -> web.Response:
        now = utcnow()
        tick = last_tick()
        f = await asyncio.to_thread(read)
        age = (now - (tick or started)).total_seconds()
        ok = age <= STALE_AFTER
        body = {"status": "ok" if ok else "stale", "last_tick": tick.isoformat() if tick else None,
                "last_tick_age_seconds": round(age, 1), "outbox_depth": f.outbox_depth,
                "outbox_oldest_undelivered_seconds": round(f.outbox_oldest_seconds, 1)}
        return web.Response(status=200 if ok else 503, text=json.dumps(body), content_type="application/json")

    async def metrics(_request: web.Request) -> web.Response:
        data = await asyncio.to_thread(generate_latest, registry)
        return web.Response(body=data, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def serve_health(app: web.Application, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve ``app`` on host:port until ``stop``. A port already taken (a second worker on the
    same host, another program) is logged and leaves the service running without them: the
    endpoints watch the service, they must never be the reason it stops."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        log.warning("health and metrics not served: cannot listen on %s:%d (%s); set "
                    "SAFEGUARD_HEALTH_PORT to a free port, or 0 for none", host, port, exc.strerror or exc)
        await runner.cleanup()
        await stop.wait()
        return
    log.info("health and metrics on http://%s:%d/healthz and /metrics", host, port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
