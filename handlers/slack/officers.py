"""Who may open, view and record on cases from Slack, checked in one place.

Anyone in the workspace may check an incident against the criteria; only case officers (named
Slack users, or members of named user groups) may open a case, see one, or record on one. Each
officer-only listener carries ``@officers_only(...)`` instead of repeating the check, so a new
case listener cannot forget it and every refusal reads the same.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.context import tell, user_of

log = logging.getLogger(__name__)

NOT_AN_OFFICER = (
    "Only case officers can open or view cases. Anyone can check an incident against the "
    "criteria; ask your partnership's business team to open the case."
)
FIELD_ERROR_MAX = 150  # Slack's limit on a modal field error

Listener = Callable[..., Awaitable[None]]


class CaseOfficers:
    """Who may open and view cases: Slack user IDs, or user-group IDs (S...) resolved via
    usergroups.users.list and cached for a few minutes."""

    def __init__(self, ids: list[str], ttl_seconds: float = 300, *, partnership_officers: Any = ()) -> None:
        self.users = {i for i in ids if not i.startswith("S")}
        # Named in a partnership's case_officers (bot/cases.py ``lists_officer``): an officer
        # for this gate, and then only on that partnership's cases (the case service's rule).
        self.partnership_officers = {str(i).strip().lower() for i in partnership_officers}
        self.groups = [i for i in ids if i.startswith("S")]
        self.ttl = ttl_seconds
        self._cache: dict[str, tuple[float, set[str]]] = {}

    async def allows(self, client: AsyncWebClient, user_id: str | None) -> bool:
        """A case officer at all: installation-wide, or named by some partnership."""
        if user_id and user_id.lower() in self.partnership_officers:
            return True
        return await self.installation(client, user_id)

    async def installation(self, client: AsyncWebClient, user_id: str | None) -> bool:
        """Listed in SAFEGUARD_SLACK_CASE_OFFICERS (by id or user group): what applies to the
        cases of a partnership that names no case officers of its own."""
        if not user_id:
            return False
        if user_id in self.users:
            return True
        for group in self.groups:
            cached = self._cache.get(group)
            if cached is None or time.monotonic() - cached[0] > self.ttl:
                try:
                    response = await client.usergroups_users_list(usergroup=group)
                    members = set(response.get("users", []))
                except Exception:  # an API failure never grants access
                    log.warning("could not read members of user group %s", group)
                    members = set()
                cached = (time.monotonic(), members)
                self._cache[group] = cached
            if user_id in cached[1]:
                return True
        return False


def officers_only(officers: CaseOfficers, *, field: str | None = None) -> Callable[[Listener], Listener]:
    """Run the listener only for a case officer; refuse anyone else the way Slack expects.

    A button (``field`` None) is acked and the clicker told privately (ephemerally, or by DM
    from App Home). A modal submission is acked with the refusal as an error on ``field``, so
    the form stays open and says why. The listener must take ``ack``, ``body`` and ``client``
    (and ``respond``, for a button): Bolt passes arguments by name, read from the wrapped
    function (functools.wraps keeps its signature).
    """

    def decorate(listener: Listener) -> Listener:
        @functools.wraps(listener)
        async def checked(**kwargs: Any) -> None:
            body, client, ack = kwargs["body"], kwargs["client"], kwargs["ack"]
            if await officers.allows(client, user_of(body)):
                await listener(**kwargs)
                return
            if field is not None:
                await ack(response_action="errors", errors={field: NOT_AN_OFFICER[:FIELD_ERROR_MAX]})
                return
            await ack()
            await tell(body, client, kwargs.get("respond"), NOT_AN_OFFICER)

        return checked

    return decorate
