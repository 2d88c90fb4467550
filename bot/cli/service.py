"""``safeguard-bot run``: the long-running bot.

The reminder clock and the outbox sender always run. Slack runs when its tokens are configured
(Socket Mode: bot + app token; HTTP: bot token + signing secret); otherwise the criteria chat
runs in this terminal, with the clock working in the background; when the chat ends the service
keeps running until Ctrl+C or SIGTERM.
``--headless`` runs without the terminal chat until SIGTERM (a server, a container).
The mail watcher always runs: one thread per configured IMAP mailbox, or, with none, the
``<data dir>/inbox/`` folder of .eml files (acknowledgements then go to ``<data dir>/outbox/``).
"""

from __future__ import annotations

import signal
import tempfile
import threading
from pathlib import Path

import click

from bot.cli.common import EnvironmentFailure, UserError, settings_of


@click.command()
@click.option("--headless", is_flag=True, help="Do not run the terminal chat; run until SIGTERM.")
@click.pass_context
def run(ctx: click.Context, headless: bool) -> None:
    """Start the bot: reminders and outbox, plus Slack if configured, else the terminal chat."""
    import asyncio

    from bot.core.criteria import CriteriaConfigError
    from bot.logs import configure_logging
    from bot.runtime import open_runtime
    from bot.service import Component, Service, threaded

    settings = settings_of(ctx)
    try:
        settings.criteria()  # fail at start-up, naming the bad key, not mid-conversation
        settings.reminder_policy()
        for partnership in settings.partnerships:  # not at the first referral
            settings.timescales_for(partnership)
    except (CriteriaConfigError, ValueError) as exc:
        raise UserError(str(exc).splitlines()[0]) from None
    _check_writable(settings.data_dir)
    # Child details are only ever stored encrypted (issue 16): without a key the service runs
    # (the chat, the clock, the outbox) but the mail intake, which stores them, stays off and
    # its mail waits in the mailbox until a key is set.
    keyless = not settings.data_keys()
    if keyless:
        from store.crypto import HOW_TO_MAKE_A_KEY

        click.echo(f"No data key: the mail intake is off (child details are stored only encrypted); "
                   f"{HOW_TO_MAKE_A_KEY}", err=True)
    _check_mail_sign_in(settings)
    _check_teams(settings)
    ctx.ensure_object(dict)["database_url"] = settings.resolved_database_url()
    chat_in_terminal = not settings.slack_configured() and not settings.teams_configured() and not headless
    # In the terminal chat only warnings reach the screen (the full log is in the data dir).
    configure_logging(settings.log_level, settings.data_dir, quiet=chat_in_terminal, log_file=settings.log_file,
                      max_bytes=settings.log_file_max_bytes, backups=settings.log_file_backups)
    runtime = open_runtime(settings)
    components: dict[str, Component] = {}
    if settings.slack_configured():
        from handlers.slack.runner import serve

        components["slack"] = lambda stop: serve(settings, runtime.engine, stop)
    elif not headless and not settings.teams_configured():
        from bot.cli.criteria import chat

        click.echo(
            "Slack is not configured: running the criteria chat in this terminal "
            "(reminders and the outbox run in the background).",
            err=True,
        )
        components["chat"] = threaded(lambda flag: _chat_then_serve(ctx, chat, flag),
                                      "terminal-chat", join=False)
    if settings.teams_configured():
        from handlers.teams.app import serve as serve_teams

        components["teams"] = lambda stop: serve_teams(settings, runtime.engine, stop)
    service = Service(runtime, components=components)
    from handlers.mail.component import mail_components

    try:
        mail = {} if keyless else mail_components(runtime, wake=service.wake_threadsafe)
    except ValueError as exc:  # SettingsError: an incomplete mailbox
        raise UserError(str(exc).splitlines()[0]) from None
    service.components.update(mail)
    if settings.health_port:
        from handlers.health import health_app, serve_health

        app = health_app(runtime.engine, lambda: service.last_sweep_at, service.started_at)
        service.components["health"] = lambda stop: serve_health(app, settings.health_host,
                                                                  settings.health_port, stop)
    if not settings.imap_mailboxes() and not keyless:
        click.echo(f"No IMAP mailbox configured: reading referrals from {settings.inbox_dir}/ (*.eml).", err=True)
    asyncio.run(_serve(service))


def _check_mail_sign_in(settings) -> None:  # type: ignore[no-untyped-def]
    """Microsoft 365 sign-in (OAuth2) is tried now: a bad secret, tenant or certificate stops
    start-up with one line naming the setting and quoting the authority's AADSTS code. An
    unreachable authority only warns: the watchers retry, the mail waits in its mailbox."""
    from bot.oauth import OAuthRefused, check_credentials

    try:
        warnings = check_credentials(settings)
    except (OAuthRefused, ValueError) as exc:  # ValueError: SettingsError, an incomplete setting
        raise UserError(str(exc).splitlines()[0]) from None
    for line in warnings:
        click.echo(f"warning: {line}", err=True)


def _check_teams(settings) -> None:  # type: ignore[no-untyped-def]
    """SAFEGUARD_TEAMS_MODE on needs the bot's app id and a secret or certificate: one line
    naming the missing setting, not a Teams app that silently never starts."""
    if not settings.teams_mode:
        return
    if not settings.teams_app_id:
        raise UserError("bad setting teams_app_id (SAFEGUARD_TEAMS_APP_ID): needed with SAFEGUARD_TEAMS_MODE "
                        "(the Azure Bot's Microsoft App ID)")
    if not settings.teams_configured():
        raise UserError("bad setting teams_app_password (SAFEGUARD_TEAMS_APP_PASSWORD): needed with "
                        "SAFEGUARD_TEAMS_MODE (or SAFEGUARD_TEAMS_CERTIFICATE_FILE with its thumbprint)")
    from handlers.transports.teams import bot_tokens, cloud_of

    try:
        bot_tokens(settings, cloud_of(settings))  # checks the credential settings; no request yet
    except ValueError as exc:
        raise UserError(str(exc).splitlines()[0]) from None


def _chat_then_serve(ctx: click.Context, chat: click.Command, flag: threading.Event) -> None:
    """The terminal chat, then the service goes on: the chat ending (q, Enter at the end, the
    end of input) is not a reason to stop sending reminders or reading the inbox. Ctrl+C (or
    SIGTERM) stops the service; the stop flag ends this wait."""
    ctx.invoke(chat)
    click.echo(
        "\nThe chat has ended; the service keeps running (reminders, outbox, mail). "
        "Press Ctrl+C to stop it.",
        err=True,
    )
    flag.wait()


def _check_writable(directory: Path) -> None:
    """The service writes its log, outbox and inbox moves in the data directory: find out now,
    in one line, rather than from a traceback at the first log line or the first referral."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise EnvironmentFailure(
            f"the data directory {directory.resolve()} cannot be written "
            f"({exc.strerror or type(exc).__name__}); `run` keeps its log, outbox and inbox there "
            "(SAFEGUARD_DATA_DIR)"
        ) from None


async def _serve(service) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await service.run(stop)
