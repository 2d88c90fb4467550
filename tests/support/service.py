"""The real Service (outbox sender + mail watchers) on its own event loop in a thread, for
tests and benchmarks that drive it from outside through real servers."""

from __future__ import annotations

import asyncio
import threading

from sqlmodel import Session, select

from bot.runtime import Runtime, open_runtime
from bot.service import Service
from bot.settings import Settings
from handlers.mail.component import mail_components
from handlers.mail.intake import Checkpoint
from store.models import Case


class RunningService:
    """The real Service (outbox sender + mail component) on its own event loop in a thread."""

    def __init__(self, settings: Settings, *, checkpoint: Checkpoint | None = None) -> None:
        self.settings = settings
        self.runtime: Runtime = open_runtime(settings)
        self.service = Service(self.runtime)
        self.service.components.update(mail_components(self.runtime, wake=self.service.wake_threadsafe,
                                                       checkpoint=checkpoint))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()

    def __enter__(self) -> RunningService:
        def main() -> None:
            async def go() -> None:
                self._loop = asyncio.get_running_loop()
                self._stop = asyncio.Event()
                self._started.set()
                await self.service.run(self._stop)

            asyncio.run(go())

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        assert self._started.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        assert not self._thread.is_alive(), "service did not stop"

    def cases(self) -> list[Case]:
        with Session(self.runtime.engine) as session:
            return list(session.exec(select(Case)).all())
