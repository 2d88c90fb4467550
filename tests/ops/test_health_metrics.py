"""``run`` serves /healthz and /metrics on its loopback port while it processes mail (issue
16 item 6): the real entry point, a referral dropped in its inbox folder, read over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.mail import new_message_id, referral_mail

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _until(predicate, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith((name + " ", name + "{")):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.mark.integration
@pytest.mark.subprocess
def test_healthz_and_metrics_while_run_processes_mail(cli_env: dict[str, str], tmp_path: Path) -> None:
    port = _free_port()
    env = dict(cli_env, SAFEGUARD_HEALTH_PORT=str(port), SAFEGUARD_INBOX_POLL_SECONDS="0.2",
               PYTHONPATH=str(ROOT))
    inbox = Path(env["SAFEGUARD_DATA_DIR"]) / "inbox"
    inbox.mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--headless"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        status, body = _until(lambda: _get(f"{base}/healthz"))
        assert status == 200, body
        health = json.loads(body)
        assert health["status"] == "ok" and health["outbox_depth"] == 0
        before = _get(f"{base}/metrics")[1]
        assert _metric(before, "safeguard_outbox_depth") == 0
        assert _metric(before, 'safeguard_referrals_total{outcome="opened"}') is None

        (inbox / "referral.eml").write_bytes(referral_mail("docx", message_id=new_message_id()))
        metrics = _until(lambda: (m := _get(f"{base}/metrics")[1]) and
                         _metric(m, 'safeguard_referrals_total{outcome="opened"}') == 1 and m)
        assert _metric(metrics, "safeguard_referrals_quarantined_total") == 0
        assert _metric(metrics, "safeguard_deliveries_failed_total") == 0
        assert _metric(metrics, "safeguard_reminders_sent_total") is not None
        assert _metric(metrics, "safeguard_outbox_oldest_undelivered_seconds") is not None
        # The acknowledgement and the notice are delivered (to the outbox folder): depth back to 0.
        _until(lambda: _metric(_get(f"{base}/metrics")[1], "safeguard_outbox_depth") == 0)
        health = json.loads(_get(f"{base}/healthz")[1])
        assert health["last_tick"] is not None  # the clock swept at start
        assert _get(f"{base}/nope")[0] == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert os.path.exists(inbox)


def test_a_taken_health_port_never_stops_the_service(caplog: pytest.LogCaptureFixture) -> None:
    """A second worker on the same host (or another program) holding the port: the endpoints
    are not served, a warning says which setting to change, and the service goes on."""
    import asyncio
    import logging

    from aiohttp import web

    from handlers.health import serve_health

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def scenario() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(serve_health(web.Application(), "127.0.0.1", port, stop))
            await asyncio.sleep(0)  # let it try the port
            for _ in range(200):
                if any("health and metrics not served" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.01)
            assert not task.done()  # still serving the rest of the service's life
            stop.set()
            await asyncio.wait_for(task, timeout=10)

        with caplog.at_level(logging.WARNING, logger="handlers.health"):
            asyncio.run(scenario())
    assert any("SAFEGUARD_HEALTH_PORT" in r.getMessage() for r in caplog.records)
