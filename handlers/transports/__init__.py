"""Outbound delivery in one place, like Django's email backends.

- ``interface``: OutboundMessage, DeliveryError and the Transport protocol every transport meets;
- ``sender``: the outbox sender (claims rows, delivers with retries, backoff, dead letters);
- ``slack``, ``teams``, ``smtp``, ``local`` (folder and console): the transports themselves.

``build_transports`` turns settings into the transports they make available. Its imports are
inside the function so that importing the interface (as the tests and the sender do) never
loads slack_sdk, aiosmtplib or the settings.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bot.settings import Settings
    from handlers.transports.interface import Transport


def build_transports(settings: Settings, *, console: TextIO | None = None,
                     engine: Engine | None = None) -> dict[str, Transport]:
    """Every transport the settings make available, by kind. ``engine``: where the Teams
    transport finds the conversation references Teams gave at install."""
    from handlers.transports.local import ConsoleTransport, FolderTransport

    transports: dict[str, Transport] = {
        "folder": FolderTransport(settings.outbox_dir, settings.smtp_from),
        "console": ConsoleTransport(console or sys.stdout),
    }
    if settings.slack_bot_token is not None:
        from slack_sdk.web.async_client import AsyncWebClient

        from handlers.transports.slack import SlackTransport

        kwargs = {"token": settings.slack_bot_token.get_secret_value()}
        if settings.slack_api_base_url:
            kwargs["base_url"] = settings.slack_api_base_url
        transports["slack"] = SlackTransport(AsyncWebClient(**kwargs))
    if settings.teams_configured():
        from handlers.transports.teams import teams_transport

        transports["teams"] = teams_transport(settings, engine)
    if settings.mail_backend == "graph":
        transports["email"] = _graph_transport(settings)
    elif settings.smtp_host is not None:
        from handlers.transports.smtp import SmtpTransport

        tokens = None
        if settings.smtp_auth == "oauth2":
            from bot.oauth import OAuthConfig, provider_for
            from bot.settings import SettingsError

            from email.utils import parseaddr

            if not settings.smtp_username and "smtp_from" in settings.model_fields_set:
                # XOAUTH2's user is the mailbox the bot sends as: by default the From address.
                settings = settings.model_copy(update={"smtp_username": parseaddr(settings.smtp_from)[1]})
            if not settings.smtp_username:
                raise SettingsError("bad setting smtp_username (SAFEGUARD_SMTP_USERNAME): needed with "
                                    "SAFEGUARD_SMTP_AUTH=oauth2 (the mailbox the bot sends as; "
                                    "default: the address in SAFEGUARD_SMTP_FROM)")
            oauth = OAuthConfig.of(settings)
            oauth.check("SAFEGUARD_SMTP_AUTH=oauth2")
            tokens = provider_for(oauth)
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        transports["email"] = SmtpTransport(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username if settings.smtp_auth != "none" else None,
            password=password if settings.smtp_auth == "password" else None,
            use_tls=settings.smtp_use_tls,
            start_tls=settings.smtp_starttls if not settings.smtp_use_tls else False,
            tokens=tokens,
        )
    return transports


def _graph_transport(settings: Settings) -> Transport:
    """sendMail as the first mailbox (the partnership's), with that mailbox's Graph token."""
    from bot.oauth import OAuthConfig, provider_for
    from bot.settings import SettingsError
    from handlers.transports.graph import GraphClient, GraphTransport

    boxes = settings.imap_mailboxes()
    if not boxes:
        raise SettingsError("bad setting imap_username (SAFEGUARD_IMAP_USERNAME): SAFEGUARD_MAIL_BACKEND=graph "
                            "needs the mailbox to read and send as (and SAFEGUARD_IMAP_HOST, e.g. graph)")
    oauth = OAuthConfig.of(settings, boxes[0], graph=True)
    oauth.check("SAFEGUARD_MAIL_BACKEND=graph")
    client = GraphClient(settings.graph_base_url, provider_for(oauth))
    return GraphTransport(client, mailbox=boxes[0].username, sender=settings.smtp_from)
