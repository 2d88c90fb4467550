"""A loopback stand-in for Slack's Web API, the way bolt-python tests itself.

An aiohttp server on a free 127.0.0.1 port, in its own thread, that answers the Web API methods
the bot uses, records every call with its decoded body, and can be told to fail the next calls
of a method (e.g. a 429 with Retry-After) to test retries.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class SlackApiStub:
    port: int = field(default_factory=free_port)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering each call (to widen race windows)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def fail_next(self, method: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self.failures.setdefault(method, []).append((status, body, headers or {}))

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.01)
        raise AssertionError(f"condition not met within {timeout}s; calls: {[c.method for c in self.calls]}")

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.text()
        if request.content_type == "application/json":
            body = json.loads(raw or "{}")
        else:
            body = {k: v[0] for k, v in parse_qs(raw).items()}
        with self._lock:
            self.calls.append(Call(method, body, dict(request.headers)))
            pending = self.failures.get(method)
            failure = pending.pop(0) if pending else None
        if self.delay:
            await asyncio.sleep(self.delay)
        if failure is not None:
            status, payload, headers = failure
            return web.json_response(payload, status=status, headers=headers)
        return web.json_response(self._answer(method, body))

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "url": "https://example.slack.com/", "team": "Test", "user": "bot",
                    "team_id": "T0TEST", "user_id": "U0BOT", "bot_id": "B0BOT"}
        if method in ("chat.postMessage", "chat.postEphemeral", "chat.update"):
            return {"ok": True, "channel": body.get("channel", "C0"), "ts": f"{time.time():.6f}",
                    "message": {"text": body.get("text", "")}}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D0DM0001"}}
        if method in ("views.open", "views.publish", "views.update", "views.push"):
            return {"ok": True, "view": {"id": "V0VIEW01"}}
        if method == "users.info":
            return {"ok": True, "user": {"id": body.get("user"), "tz": "Europe/London"}}
        return {"ok": True}

    def start(self) -> SlackApiStub:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_post("/api/{method}", self._handle)
            runner = web.AppRunner(app)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            self._runner = runner
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("Slack API stub did not start")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
