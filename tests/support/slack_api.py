"""The one loopback stand-in for Slack's Web API, the way bolt-python tests itself.

An aiohttp server on a free 127.0.0.1 port, in its own thread (so synchronous tests, worker
subprocesses and async tests running a Bolt app all use the same one), that:

- answers the Web API methods the bot uses at ``/api/<method>`` with Slack's documented
  response shapes (``auth.test``, which Bolt calls on its first request; ``chat.postMessage``,
  ``chat.postEphemeral``, ``chat.update``; ``views.open``/``publish``/``update``/``push``;
  ``conversations.open``; ``users.info``; ``usergroups.users.list`` from ``usergroups``);
- records every call (method, decoded body, headers, the HTTP status it answered with and
  whether the answer was ``ok``), and every post to a response_url (``/response/<name>``, as
  method ``response_url``);
- takes file uploads the documented way (files_upload_v2): ``files.getUploadURLExternal``
  (``filename`` and ``length`` required) answers an ``upload_url`` on this server and a
  ``file_id``; the bytes POSTed there are kept in ``uploads`` (a length other than the one
  announced is refused, as Slack does); ``files.completeUploadExternal`` shares only files whose
  bytes arrived (else ``file_not_found``) and answers their ``files`` objects;
- can be told to fail the next calls of a method: ``fail_next("chat.postMessage", 429,
  {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})`` for a rate limit, or status
  200 with ``ok: false`` for the way Slack refuses most calls (``channel_not_found``...).
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
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200  # the HTTP status answered
    ok: bool = True  # the answer's "ok"


@dataclass
class SlackApi:
    port: int = field(default_factory=free_port)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = field(default_factory=dict)
    usergroups: dict[str, list[str]] = field(default_factory=dict)  # usergroup ID -> user IDs
    delay: float = 0.0  # seconds to wait before answering each call (to widen race windows)
    uploads: dict[str, bytes] = field(default_factory=dict)  # file_id -> the bytes uploaded
    _announced: dict[str, tuple[str, int]] = field(default_factory=dict)  # file_id -> (name, length)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "1") -> str:
        """A response_url to put in a request: what the bot posts there is recorded."""
        return f"http://127.0.0.1:{self.port}/response/{name}"

    def fail_next(self, method: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        """Answer the next call of ``method`` with ``status``, ``body`` and ``headers`` (queued)."""
        with self._lock:
            self.failures.setdefault(method, []).append((status, body, headers or {}))

    def calls_to(self, method: str) -> list[Call]:
        """Every call of ``method``, failed ones included."""
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def of(self, method: str, ok_only: bool = True) -> list[Call]:
        """The calls of ``method`` that succeeded (or all of them, ``ok_only=False``)."""
        return [c for c in self.calls_to(method) if not ok_only or (c.ok and c.status == 200)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block until ``predicate()`` holds (for synchronous tests; async ones use
        tests.slack_harness.wait_for, which does not block the event loop)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.01)
        raise AssertionError(f"condition not met within {timeout}s; calls: {[c.method for c in self.calls]}")

    @staticmethod
    async def _decode(request: web.Request) -> dict[str, Any]:
        """The call's arguments: a JSON body, or form fields and query parameters, with the
        JSON-encoded arguments (blocks, view) of a form-encoded call decoded."""
        raw = await request.text()
        if request.content_type == "application/json":
            return dict(json.loads(raw or "{}"))
        body: dict[str, Any] = {k: v[0] for k, v in parse_qs(request.query_string).items()}
        body.update({k: v[0] for k, v in parse_qs(raw).items()})
        for key in ("blocks", "view", "attachments", "files"):
            if isinstance(body.get(key), str):
                try:
                    body[key] = json.loads(body[key])
                except ValueError:
                    pass
        return body

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await self._decode(request)
        with self._lock:
            pending = self.failures.get(method)
            failure = pending.pop(0) if pending else None
        if failure is not None:
            status, payload, headers = failure
        else:
            status, payload, headers = 200, self._answer(method, body), {}
        with self._lock:
            self.calls.append(Call(method, body, dict(request.headers), status, bool(payload.get("ok"))))
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response(payload, status=status, headers=headers)

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "url": "https://example.slack.com/", "team": "Test", "user": "bot",
                    "team_id": "T0TEST", "user_id": "U0BOT", "bot_id": "B0BOT"}
        if method in ("chat.postMessage", "chat.update"):
            return {"ok": True, "channel": body.get("channel", "C0"), "ts": body.get("ts") or f"{time.time():.6f}",
                    "message": {"text": body.get("text", "")}}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{time.time():.6f}"}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D0DM0001"}}
        if method in ("views.open", "views.publish", "views.update", "views.push"):
            view = body.get("view") if isinstance(body.get("view"), dict) else {}
            return {"ok": True, "view": {**view, "id": "V0VIEW01"}}
        if method == "users.info":
            return {"ok": True, "user": {"id": body.get("user"), "tz": "Europe/London"}}
        if method == "files.getUploadURLExternal":
            filename, length = body.get("filename"), str(body.get("length", ""))
            if not filename or not length.isdigit():
                return {"ok": False, "error": "invalid_arguments"}
            with self._lock:
                file_id = f"F{len(self._announced) + 1:08d}"
                self._announced[file_id] = (str(filename), int(length))
            return {"ok": True, "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            wanted = body.get("files") if isinstance(body.get("files"), list) else []
            with self._lock:
                if not wanted or any(f.get("id") not in self.uploads for f in wanted):
                    return {"ok": False, "error": "file_not_found"}
                shared = [{"id": f["id"], "name": self._announced[f["id"]][0], "title": f.get("title"),
                           "size": len(self.uploads[f["id"]])} for f in wanted]
            return {"ok": True, "files": shared}
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.usergroups.get(str(body.get("usergroup", "")), [])}
        return {"ok": True}

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            self.calls.append(Call("response_url", dict(body), dict(request.headers)))
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload_url: the file's raw bytes, of the length announced, once."""
        file_id = request.match_info["file_id"]
        data = await request.read()
        with self._lock:
            announced = self._announced.get(file_id)
            ok = announced is not None and announced[1] == len(data) and file_id not in self.uploads
            if ok:
                self.uploads[file_id] = data
            self.calls.append(Call("file_upload", {"file_id": file_id, "length": len(data)},
                                   dict(request.headers), 200 if ok else 400, ok))
        return web.Response(text="OK - " + str(len(data)) if ok else "bad upload", status=200 if ok else 400)

    def start(self) -> SlackApi:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_route("*", "/api/{method}", self._api)
            app.router.add_post("/response/{name}", self._response_url)
            app.router.add_post("/upload/{file_id}", self._upload)
            runner = web.AppRunner(app)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("Slack API stand-in did not start")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
