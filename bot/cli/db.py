"""``safeguard-bot db upgrade|current``: the database schema."""

from __future__ import annotations

import click

from bot.cli.common import settings_of



@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Bring the database schema to the latest version."""
    from store.db import current_revision, make_engine, upgrade

    settings = settings_of(ctx)
    url = settings.resolved_database_url()
    ctx.ensure_object(dict)["database_url"] = url
    engine = make_engine(url)
    upgrade(engine)
    click.echo(f"database at revision {current_revision(engine)}")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Show the schema revision and whether it is the latest (reads only; creates nothing)."""
    from store.db import current_revision, head_revision, make_engine, missing_sqlite_file

    settings = settings_of(ctx)
    url = settings.resolved_database_url()
    ctx.ensure_object(dict)["database_url"] = url
    missing = missing_sqlite_file(url)
    current = None if missing else current_revision(make_engine(url, read_only=True))
    head = head_revision()
    click.echo(f"current: {current or 'empty'}; latest: {head}")

