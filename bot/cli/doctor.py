"""``safeguard-bot doctor``: one line per configured part; exit status 1 if any fails."""

from __future__ import annotations

import click


@click.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check settings, database and schema, the data key, mailboxes, SMTP, Slack and Microsoft
    365 sign-in: one line each (ok/FAIL); exit status 1 if any fails."""
    from bot.doctor import run_checks

    checks = run_checks(ctx.ensure_object(dict).get("config_file"))
    for check in checks:
        click.echo(check.line())
    if not all(c.ok for c in checks):
        ctx.exit(1)
