"""``safeguard-bot run``: the clock and outbox sender together; graceful shutdown on SIGTERM."""

from __future__ import annotations

import pytest

import asyncio
import json
import signal
import subprocess
import sys
import time
from datetime import date, datetime, time as dtime
from pathlib import Path

from sqlmodel import Session, select

from bot.runtime import open_runtime
from bot.service import Service
from bot.settings import load_settings
from handlers.transports.local import FolderTransport
from scheduler.calendar import LONDON
from store.models import OutboxMessage, WorkerHeartbeat
from tests.cli.test_cli import ROOT, run

pytestmark = [pytest.mark.integration, pytest.mark.subprocess]


def _wait(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_service_sweeps_and_delivers_then_stops_cleanly(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "var")
    runtime = open_runtime(settings)
    runtime.cases.open_case(la_aware=date(2026, 12, 22), actor="t")
    moment = datetime.combine(date(2026, 12, 29), dtime(9, 0), tzinfo=LONDON)
    out = tmp_path / "out"

    async def scenario() -> Service:
        service = Service(runtime, transports={"folder": FolderTransport(out)}, clock=lambda: moment)
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        deadline = time.monotonic() + 20
        while len(list(out.glob("*-folder.json"))) < 2:
            assert time.monotonic() < deadline, "reminders not delivered"
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, timeout=30)
        return service

    service = asyncio.run(scenario())
    assert service.sweeps >= 1
    with Session(runtime.engine) as session:
        messages = session.exec(select(OutboxMessage)).all()
        worker = session.get(WorkerHeartbeat, service.worker_id)
    assert [m.status for m in messages] == ["sent", "sent"]
    assert worker is not None and worker.stopped_at is not None
    # A second worker at the same moment finds nothing left to send.
    again = asyncio.run(scenario_once(runtime, moment, out))
    assert again == 2


async def scenario_once(runtime, moment, out) -> int:  # type: ignore[no-untyped-def]
    service = Service(runtime, transports={"folder": FolderTransport(out)}, clock=lambda: moment)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    while service.sweeps < 1:
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    return len(list(out.glob("*-folder.json")))


def test_run_headless_stops_on_sigterm(cli_env: dict[str, str]) -> None:
    env = dict(cli_env, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--headless"],
        env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        def running() -> bool:
            status = run(["status", "--json"], cli_env)
            return status.returncode == 0 and any(w["alive"] for w in json.loads(status.stdout)["workers"])

        _wait(running, timeout=60)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert "stopped" in err
    finally:
        if process.poll() is None:
            process.kill()
    status = json.loads(run(["status", "--json"], cli_env).stdout)
    assert status["workers"] == []


def test_a_crashing_thread_component_reports_its_error() -> None:
    import pytest

    from bot.service import threaded

    def crash(_flag) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("watcher fell over")

    async def scenario() -> None:
        await threaded(crash, "crasher")(asyncio.Event())

    with pytest.raises(RuntimeError, match="watcher fell over"):
        asyncio.run(scenario())


def test_a_thread_component_stops_when_the_service_stops() -> None:
    from bot.service import threaded

    seen = []

    def loop(flag) -> None:  # type: ignore[no-untyped-def]
        while not flag.wait(0.01):
            pass
        seen.append("stopped")

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(threaded(loop, "looper")(stop))
        await asyncio.sleep(0)
        stop.set()
        await asyncio.wait_for(task, timeout=10)

    asyncio.run(scenario())
    assert seen == ["stopped"]
