"""``safeguard-bot report``: the yearly report (issue 15) as HTML, CSV or JSON.

It only reads (the database is opened read-only); the figures are bot/core/report.py's, the
layout handlers/report's. ``--json`` is a shorthand for ``--format json``.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.common import case_service, date_option, domain_call, fail


@click.command("report")
@click.option("--from", "start", metavar="DATE", help="First day (default: 1 April of the last complete reporting year).")
@click.option("--to", "end", metavar="DATE", help="Last day (default: the 31 March that ends it).")
@click.option("--partnership", metavar="KEY", help="One partnership (default: every partnership).")
@click.option("--format", "fmt", type=click.Choice(["html", "csv", "json"]), default=None,
              help="html (default; charts inline), csv (one row per case and step) or json.")
@click.option("--json", "as_json", is_flag=True, help="Shorthand for --format json.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write to FILE instead of standard output.")
@click.pass_context
def report(ctx: click.Context, start: str | None, end: str | None, partnership: str | None,
           fmt: str | None, as_json: bool, output: Path | None) -> None:
    """The yearly report: timeliness of every statutory step, by quarter and in total."""
    from bot.core.report import ReportPeriodError, period_from
    from handlers.report import render
    from scheduler.calendar import today_in_london

    if as_json and fmt not in (None, "json"):
        fail(f"--json and --format {fmt} disagree: give one of them")
    chosen = "json" if as_json else (fmt or "html")
    try:
        period = period_from(date_option(start, "--from"), date_option(end, "--to"), today_in_london())
    except ReportPeriodError as exc:
        fail(str(exc))
    service = case_service(ctx, writing=False)
    figures = domain_call(lambda: service.yearly_report(period, partnership=partnership))
    text = render(figures, chosen)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        _write_whole(output, text)
    except OSError as exc:
        fail(f"-o {output}: cannot write: {exc.strerror or exc}")
    click.echo(f"wrote the {chosen} report for {period.start.isoformat()} to {period.end.isoformat()} to {output}",
               err=True)


def _write_whole(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` and move it into place: a failed write (a full disk)
    leaves the report that was there before, never half of one."""
    import os
    import tempfile

    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        # mkstemp makes the file private (0600): give it the mode any new file would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
