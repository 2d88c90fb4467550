"""Who is a Teams case officer: the one check every officer-only Teams action calls.

``SAFEGUARD_TEAMS_CASE_OFFICERS`` lists Entra user object ids and/or ``group:<group object id>``
entries. A user listed by id is an officer. Otherwise, with groups listed, Microsoft Graph is
asked the way Microsoft documents for a daemon app: ``POST /users/{user object id}/checkMemberGroups``
with ``{"groupIds": [...]}`` (transitive membership; the answer's ``value`` holds the groups
the user is in), with an app-only token of the Teams app's own registration (client
credentials through bot/oauth.py, scope ``{graph host}/.default``; the application permission
``GroupMember.Read.All``, admin-consented).

Each user's answer is kept for ``CACHE_SECONDS`` in a bounded cache, so a burst of clicks asks
Graph once. If Graph (or the token authority) is unreachable or refuses, the check raises
``OfficerCheckUnavailable``: the caller denies with :data:`UNAVAILABLE` and nothing is cached, so
the next click asks again. Never allowed on an error. The log line names the failure only, never
the user.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import quote, urlsplit

from bot.oauth import OAuthError, TokenProvider, provider_for
from bot.settings import OBJECT_ID, Settings, SettingsError

log = logging.getLogger(__name__)

GROUP_PREFIX = "group:"
CACHE_SECONDS = 300.0
CACHE_SIZE = 1024
TIMEOUT_SECONDS = 10.0
UNAVAILABLE = (
    "I could not check your case officer group membership with Microsoft just now, so I cannot "
    "open or show cases: try again in a few minutes."
)


class OfficerCheckUnavailable(Exception):
    """Graph could not say whether the user is in an officer group (the message has no user)."""


class TeamsOfficers:
    """``is_officer(user object id)``: listed by id, or (asked of Graph) in a listed group."""

    def __init__(self, settings: Settings, *, provider: TokenProvider | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        entries = [e.lower() for e in settings.teams_case_officers]
        self.users = {e for e in entries if not e.startswith(GROUP_PREFIX)}
        self.groups = [e[len(GROUP_PREFIX):] for e in entries if e.startswith(GROUP_PREFIX)]
        self.base_url = settings.graph_base_url.rstrip("/")
        self.clock = clock
        self._cache: OrderedDict[str, tuple[float, bool]] = OrderedDict()
        self._lock = threading.Lock()
        self._provider = provider
        self._settings = settings
        self._session = None
        if self.groups and provider is None and not settings.teams_tenant_id:
            # App-only Graph tokens come from the tenant itself (not Bot Framework's).
            raise SettingsError("bad setting teams_tenant_id (SAFEGUARD_TEAMS_TENANT_ID): needed with "
                                    "group: entries in SAFEGUARD_TEAMS_CASE_OFFICERS")

    def provider(self) -> TokenProvider:
        if self._provider is None:
            from handlers.transports.teams import app_config, cloud_of

            parts = urlsplit(self.base_url)
            config = app_config(self._settings, cloud_of(self._settings),
                                scope=f"{parts.scheme}://{parts.netloc}/.default",
                                tenant_id=self._settings.teams_tenant_id)
            config.check("group: entries in SAFEGUARD_TEAMS_CASE_OFFICERS")
            self._provider = provider_for(config)
        return self._provider

    def is_officer(self, user: str | None) -> bool:
        """True for a listed user or a member of a listed group; OfficerCheckUnavailable when
        Graph cannot answer (blocking: call it in a thread)."""
        if not user:
            return False
        user = str(user).lower()
        if user in self.users:
            return True
        if not self.groups or not OBJECT_ID.match(user):
            return False  # Graph knows users by object id only (an activity without one is no officer)
        now = self.clock()
        with self._lock:
            cached = self._cache.get(user)
            if cached is not None and cached[0] > now:
                self._cache.move_to_end(user)
                return cached[1]
        member = self._ask_graph(user)
        with self._lock:
            self._cache[user] = (now + CACHE_SECONDS, member)
            self._cache.move_to_end(user)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return member

    def _ask_graph(self, user: str) -> bool:
        import requests

        try:
            token = self.provider().token()
        except OAuthError as exc:
            log.warning("Teams: case officer group check failed: no Graph token (%s)", type(exc).__name__)
            raise OfficerCheckUnavailable("no Graph token") from None
        if self._session is None:
            self._session = requests.Session()
        url = f"{self.base_url}/users/{quote(user, safe='')}/checkMemberGroups"
        try:
            response = self._session.post(url, json={"groupIds": self.groups}, timeout=TIMEOUT_SECONDS,
                                          headers={"Authorization": f"Bearer {token}"})
        except requests.RequestException as exc:
            log.warning("Teams: case officer group check failed: Microsoft Graph unreachable (%s)",
                        type(exc).__name__)
            raise OfficerCheckUnavailable("Graph unreachable") from None
        if response.status_code == 404:  # no such user in the directory: not in any group
            return False
        if response.status_code != 200:
            try:
                code = str(response.json()["error"]["code"])[:60]
            except (ValueError, KeyError, TypeError):
                code = "-"
            log.warning("Teams: case officer group check failed: Microsoft Graph answered %s %s "
                        "(GroupMember.Read.All consented?)", response.status_code, code)
            if response.status_code == 401 and self._provider is not None:
                try:  # a revoked token: the next check gets a fresh one
                    self._provider.token(refresh=True)
                except OAuthError:
                    pass
            raise OfficerCheckUnavailable(f"Graph answered {response.status_code}")
        try:
            found = {str(g).lower() for g in response.json().get("value", [])}
        except (ValueError, AttributeError):
            log.warning("Teams: case officer group check failed: Microsoft Graph's answer was not JSON")
            raise OfficerCheckUnavailable("Graph answered nonsense") from None
        return bool(found & set(self.groups))
