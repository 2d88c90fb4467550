"""The real Teams SDK app over HTTP on loopback, trusting the loopback Bot Connector's issuer.

:class:`TeamsWorld` starts the Entra stand-in (tests/support/token_authority.py: the bot's own
client-credentials token for the Connector API), the Bot Connector stand-in
(tests/support/bot_connector.py: the issuer of the activities' tokens and the REST API replies
land on), the Graph stand-in (tests/support/graph_api.py: checkMemberGroups for group:
officers) and settings that point the SDK's cloud environment at them. :class:`TeamsServer` runs
the app in its own thread and event loop and posts activities signed like the channel does.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bot.settings import Settings, load_settings
from tests.support.bot_connector import BotConnector
from tests.support.graph_api import GraphApi
from tests.support.slack_api import free_port
from tests.support.token_authority import TENANT, TokenAuthority

APP_ID = "00000000-0000-0000-0000-00000000b07a"
BOT = f"28:{APP_ID}"


class TeamsWorld:
    """The loopback Microsoft side: Entra (tokens for the bot) and the Bot Connector."""

    def __init__(self) -> None:
        self.authority = TokenAuthority(jwt_tokens=True).start()
        self.app = self.authority.secret_app(APP_ID, "bot@teams.invalid")
        self.connector = BotConnector(check_token=self.authority.check).start()
        # Microsoft Graph, for group: case officers (checkMemberGroups); the app is consented.
        self.graph = GraphApi(self.authority).start()
        self.graph.grant(APP_ID, "GroupMember.Read.All")
        self._ca = os.environ.get("REQUESTS_CA_BUNDLE")
        # msal (through requests) trusts the Entra stand-in's CA only through this variable.
        os.environ["REQUESTS_CA_BUNDLE"] = str(self.authority.ca.ca_file)

    def settings(self, data_dir: Path, **extra: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "teams_mode": True,
            "teams_app_id": APP_ID,
            "teams_app_password": self.app.secret,
            "teams_tenant_id": TENANT,
            "teams_login_endpoint": self.authority.host,
            "teams_openid_metadata_url": self.connector.openid_metadata_url,
            "teams_token_issuer": self.connector.issuer,
            "teams_service_url": self.connector.service_url,
            "teams_http_host": "127.0.0.1",
            "teams_http_port": free_port(),
            "graph_base_url": self.graph.base_url,
        }
        values.update(extra)
        return load_settings(**values)

    def close(self) -> None:
        if self._ca is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = self._ca
        self.connector.close()
        self.graph.stop()
        self.authority.close()


class TeamsServer:
    """The app built by ``handlers.teams.app.build_app`` served in a thread of its own."""

    def __init__(self, app: Any, port: int, world: TeamsWorld) -> None:
        self.app, self.port, self.world = app, port, world
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._task: Any = None
        self.http = httpx.Client(timeout=30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/messages"

    def start(self) -> TeamsServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.app.initialize(), self.loop).result(30)
        self._task = asyncio.run_coroutine_threadsafe(self.app.start(self.port), self.loop)
        deadline = 200
        for _ in range(deadline):  # until uvicorn accepts connections (bounded, no sleeps)
            try:
                self.http.get(f"http://127.0.0.1:{self.port}/", timeout=0.1)
                break
            except httpx.TransportError:
                threading.Event().wait(0.05)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.app.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.http.close()

    def run(self, coroutine: Any, timeout: float = 30) -> Any:
        """Run a coroutine on the app's loop (a transport that uses the app, say)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def post(self, activity: dict[str, Any], token: str | None = "valid") -> httpx.Response:
        headers = {}
        if token == "valid":
            token = self.world.connector.token(APP_ID, service_url=activity.get("serviceUrl"))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.post(self.url, json=activity, headers=headers)


def activity(kind: str, user: str, *, channel: bool = False, service_url: str, **fields: Any) -> dict[str, Any]:
    """An activity as Teams posts it: from ``user`` (an Entra object id) in their personal chat,
    or in the partnership team's channel."""
    conversation = (
        {"id": "19:general@thread.tacv2", "conversationType": "channel", "tenantId": TENANT, "isGroup": True}
        if channel else {"id": f"a:personal-29:{user}", "conversationType": "personal", "tenantId": TENANT}
    )
    data: dict[str, Any] = {"tenant": {"id": TENANT}}
    if channel:
        data.update({"team": {"id": "19:general@thread.tacv2"}, "channel": {"id": "19:general@thread.tacv2"}})
    return {
        "type": kind,
        "id": uuid.uuid4().hex,
        "timestamp": "2026-12-01T12:00:00.000Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": f"29:{user}", "aadObjectId": user, "name": "Pat Practitioner"},
        "conversation": conversation,
        "recipient": {"id": BOT, "name": "safeguard-bot"},
        "channelData": data,
        **fields,
    }


def card_action(user: str, verb: str, data: dict[str, Any], *, service_url: str, channel: bool = False) -> dict[str, Any]:
    return activity("invoke", user, channel=channel, service_url=service_url, name="adaptiveCard/action",
                    value={"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"})


@contextmanager
def teams_world() -> Iterator[TeamsWorld]:
    world = TeamsWorld()
    try:
        yield world
    finally:
        world.close()
