"""``safeguard-bot run``: the long-running bot.

Slack when its tokens are configured (Socket Mode: bot + app token; HTTP: bot token + signing
secret), otherwise the terminal chat on the embedded defaults. Later work adds the mail watcher
and the reminder clock to the same command.
"""

from __future__ import annotations

import asyncio
import signal

import click

from bot.cli import UserError, _settings


@click.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Start the bot: Slack if configured, else the terminal chat."""
    from bot.criteria import CriteriaConfigError
    from store.db import make_engine, upgrade

    settings = _settings(ctx)
    try:
        settings.criteria()  # fail at start-up, naming the bad key, not mid-conversation
    except CriteriaConfigError as exc:
        raise UserError(str(exc)) from None
    if not settings.slack_configured():
        from bot.cli_criteria import chat

        click.echo("Slack is not configured: running the criteria chat in this terminal.", err=True)
        ctx.invoke(chat)
        return
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    asyncio.run(_serve(settings, engine))


async def _serve(settings, engine) -> None:  # type: ignore[no-untyped-def]
    from handlers.slack.runner import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, engine, stop)
