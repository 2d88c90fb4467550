"""``safeguard-bot retention|backup|restore``: running it in a council (issue 16)."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.common import (
    EnvironmentFailure,
    actor_of,
    fail,
    print_json,
    settings_of,
    table,
)


@click.command()
@click.option("--dry-run", "dry_run", is_flag=True, help="Say what would be erased; change nothing.")
@click.option("--apply", "apply", is_flag=True, help="Erase the child details of cases past their period.")
@click.option("--by", default=None, help="Who is doing this (for the audit; default: your login).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def retention(ctx: click.Context, dry_run: bool, apply: bool, by: str | None, as_json: bool) -> None:
    """Erase the child details of cases closed longer ago than the partnership's
    retention_years_after_close (never a case on hold: ``case hold``)."""
    from bot.retention import review, review_messages
    from bot.runtime import open_runtime
    from scheduler.calendar import today_in_london

    if dry_run == apply:
        fail("retention: give --dry-run or --apply")
    settings = settings_of(ctx)
    ctx.ensure_object(dict)["database_url"] = settings.resolved_database_url()
    runtime = open_runtime(settings)
    today = today_in_london()
    items = review(runtime.engine, settings, today, apply=apply, actor=actor_of(by))
    messages = review_messages(runtime.engine, settings, today, apply=apply, actor=actor_of(by))
    if as_json:
        print_json({"applied": apply, "cases": [i.as_json() for i in items],
                    "messages": [m.as_json() for m in messages]})
        return
    if not items:
        click.echo("No case is past its retention period.")
    else:
        rows = [[i.reference, i.partnership, i.closed_on.isoformat(), i.erase_on.isoformat(),
                 "held: kept" if i.held else ("erased" if apply else "would be erased")] for i in items]
        click.echo(table(["Case", "Partnership", "Closed", "Erase from", "Outcome"], rows))
    if messages:
        done = "original erased" if apply else "original would be erased"
        click.echo("\nMail that never became a case:")
        click.echo(table(["Id", "Arrived", "Erase from", "Outcome"],
                         [[m.id, m.received_on.isoformat(), m.erase_on.isoformat(), done] for m in messages]))


@click.command()
@click.option("-o", "--output", "output", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The backup file to write.")
@click.pass_context
def backup(ctx: click.Context, output: Path) -> None:
    """Back up the database (SQLite online backup, or pg_dump); encrypted data stays encrypted."""
    from store.backup import BackupError
    from store.backup import backup as make_backup

    settings = settings_of(ctx)
    url = settings.resolved_database_url()
    ctx.ensure_object(dict)["database_url"] = url
    try:
        kind = make_backup(url, output)
    except BackupError as exc:
        raise EnvironmentFailure(str(exc)) from None
    click.echo(f"Backed up to {output} ({kind})")


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_context
def restore(ctx: click.Context, file: Path) -> None:
    """Restore a backup into an empty database (its schema revision is checked first)."""
    from store.backup import BackupError
    from store.backup import restore as do_restore

    settings = settings_of(ctx)
    url = settings.resolved_database_url()
    ctx.ensure_object(dict)["database_url"] = url
    try:
        revision = do_restore(url, file)
    except BackupError as exc:
        fail(str(exc))
    click.echo(f"Restored {file} (schema {revision}); the database is at the latest schema")
