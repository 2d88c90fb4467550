"""Who hears about what, and through which transport: built from settings at start-up.

The sweep asks for an audience ("channel", "owner", "escalation_contact") of a partnership and
gets (transport kind, recipient) pairs. "channel" is the partnership's team: its Slack channel
and/or its ``team_email`` mailbox (Router.team). Slack IDs go to Slack when a bot token is configured,
e-mail addresses to SMTP when a server is configured; on the embedded defaults everything goes
to the local transport (a folder of message files, or the console).
"""

from __future__ import annotations

import logging
import re

from bot.settings import PartnershipSettings, Settings

log = logging.getLogger(__name__)
_SLACK_ID = re.compile(r"^[CDGUW][A-Z0-9]{6,}$")


def is_slack_id(value: str) -> bool:
    return bool(_SLACK_ID.match(value))


class Router:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.slack = settings.slack_bot_token is not None
        # E-mail leaves by SMTP, or by Graph's sendMail with the Graph mail backend.
        self.smtp = settings.smtp_host is not None or settings.mail_backend == "graph"
        self.local = settings.local_transport
        self.teams = settings.teams_configured()
        self._told: set[str] = set()  # partnerships not configured, warned about once each

    def _partnership(self, key: str) -> PartnershipSettings | None:
        for partnership in self.settings.partnerships:
            if partnership.key == key:
                return partnership
        return None

    def unconfigured(self, partnership_key: str) -> tuple[str, str]:
        """Where the team messages of a partnership the settings no longer name go: the local
        transport (the outbox folder, or the console), so nothing is lost, addressed so the
        operator sees whose they are. Never another partnership's channel: its cases' references
        and dates are not another partnership's business."""
        if partnership_key not in self._told:
            self._told.add(partnership_key)
            log.warning("partnership %r has cases in the database but is not in the settings: its "
                        "team's messages are written to the %s transport; add it back to "
                        "SAFEGUARD_PARTNERSHIPS (or the settings file) to deliver them", partnership_key, self.local)
        return (self.local, f"partnership {partnership_key} (not configured)")

    def _address(self, target: str) -> tuple[str, str]:
        if is_slack_id(target) or target.startswith("#"):
            return ("slack", target) if self.slack else (self.local, target)
        if "@" in target:
            return ("email", target) if self.smtp else (self.local, target)
        return (self.local, target)

    def address(self, target: str) -> tuple[str, str]:
        """(transport, recipient) for one Slack ID, channel or e-mail address."""
        return self._address(target)

    def fallback_reason(self, target: str) -> str | None:
        """Why messages for ``target`` would not go where its form says, or None if they will.

        A Slack ID while no Slack bot token is configured is routed to the local transport, so
        nothing is lost; but the person never sees it in Slack, and that must not be silent.
        (An e-mail address without SMTP also goes to the local transport: that is the embedded
        default, documented, and the folder holds real .eml files to forward.)
        """
        if is_slack_id(target) and not self.slack:
            where = f"{self.settings.outbox_dir}/" if self.local == "folder" else "the console"
            return (
                f"{target} is a Slack ID but Slack is not configured (SAFEGUARD_SLACK_BOT_TOKEN): "
                f"messages to it are written to {where} instead"
            )
        return None

    def __call__(self, partnership_key: str, audience: str, owner: str | None) -> list[tuple[str, str]]:
        partnership = self._partnership(partnership_key)
        if partnership is None:
            if audience == "owner":
                return [self._address(owner)] if owner else []
            return [self.unconfigured(partnership_key)]
        if audience == "channel":
            return self.team(partnership)
        target = owner if audience == "owner" else partnership.escalation_contact
        return [self._address(target)] if target else []

    def team(self, partnership: PartnershipSettings) -> list[tuple[str, str]]:
        """Where the partnership's team hears things (notices, reminders, the digest): its
        Slack channel, its Teams channel (``teams_channel``, with Teams configured), and its ``team_email`` mailbox as well when both are set; the mailbox
        alone for an e-mail-only partnership; the local transport when it has neither (a
        channel name nobody reads is not a destination)."""
        routes: list[tuple[str, str]] = []
        if self.slack and partnership.slack_channel:
            routes.append(("slack", partnership.slack_channel))
        if self.teams and partnership.teams_channel:
            routes.append(("teams", partnership.teams_channel))
        if partnership.team_email:
            routes.append(self._address(partnership.team_email))
        return routes or [(self.local, f"#{partnership.key}")]

    def alert(self) -> tuple[str, str]:
        """Where dead letters are reported: a configured recipient, else the first channel."""
        if self.settings.alert_recipient:
            return self._address(self.settings.alert_recipient)
        return self(self.settings.partnerships[0].key, "channel", None)[0]
