"""Test harness: the real Bolt app over HTTP on loopback, sending signed Slack requests.

Slack's Web API is stood in for by tests/support/slack_api.py (SlackApi), the one stand-in
every test uses; requests here carry its response_url so replies are recorded there.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from tests.support.slack_api import SlackApi, free_port

SECRET = "test-signing-secret-0123456789"


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met within timeout")
        await asyncio.sleep(0.01)


def sign(body: str, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


@dataclass
class BoltServer:
    """The real Bolt app served by aiohttp on loopback; helpers send signed Slack requests."""

    app: Any
    assistant: Any = None  # the SlackAssistant the app serves, when a test needs its state
    port: int = field(default_factory=free_port)
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app.web_app(path="/slack/events"))
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def post(self, body: str, content_type: str, headers: dict[str, str] | None = None,
                   signed: dict[str, str] | None = None) -> tuple[int, str]:
        assert self._session is not None
        all_headers = {"Content-Type": content_type, **(signed if signed is not None else sign(body))}
        all_headers.update(headers or {})
        async with self._session.post(
            f"http://127.0.0.1:{self.port}/slack/events", data=body.encode(), headers=all_headers
        ) as response:
            return response.status, await response.text()

    async def command(self, fake: SlackApi, user: str = "UPRAC", text: str = "",
                      channel: str = "C0GENERAL") -> tuple[int, str]:
        body = urlencode({
            "token": "x", "team_id": "T1", "team_domain": "test", "channel_id": channel,
            "channel_name": "general", "user_id": user, "user_name": "practitioner",
            "command": "/safeguarding", "text": text, "api_app_id": "A1",
            "response_url": fake.response_url("cmd"), "trigger_id": "1.2.3",
        })
        return await self.post(body, "application/x-www-form-urlencoded")

    async def action(self, fake: SlackApi, action_id: str, value: str, user: str = "UPRAC",
                     kind: str = "block_actions") -> tuple[int, str]:
        payload = {
            "type": kind, "team": {"id": "T1", "domain": "test"},
            "user": {"id": user, "team_id": "T1"}, "api_app_id": "A1",
            "container": {"type": "message", "channel_id": "C0GENERAL", "is_ephemeral": True},
            "channel": {"id": "C0GENERAL", "name": "general"},
            "trigger_id": "trig.1", "response_url": fake.response_url("act"),
            "actions": [{"action_id": action_id, "block_id": "b", "type": "button",
                         "value": value, "action_ts": "1.0"}],
        }
        return await self.post(urlencode({"payload": json.dumps(payload)}),
                               "application/x-www-form-urlencoded")

    async def view_submission(self, callback_id: str, values: dict[str, Any], metadata: str,
                              user: str = "U0OFFICER") -> tuple[int, str]:
        payload = {
            "type": "view_submission", "team": {"id": "T1", "domain": "test"},
            "user": {"id": user, "team_id": "T1"}, "api_app_id": "A1", "trigger_id": "t.2",
            "view": {"id": "V1", "type": "modal", "callback_id": callback_id,
                     "private_metadata": metadata, "state": {"values": values}},
        }
        return await self.post(urlencode({"payload": json.dumps(payload)}),
                               "application/x-www-form-urlencoded")

    async def event(self, event: dict[str, Any], event_id: str, retry: int | None = None) -> tuple[int, str]:
        body = json.dumps({
            "token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
            "event_id": event_id, "event_time": int(time.time()), "event": event,
            "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
        })
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        return await self.post(body, "application/json", headers=headers)


def texts(blocks: list[dict[str, Any]]) -> str:
    """Every bit of text in some blocks, for assertions."""
    return json.dumps(blocks, ensure_ascii=False)
