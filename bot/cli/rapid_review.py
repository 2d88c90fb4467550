"""``safeguard-bot rapid-review ...``: the rapid review as a run process (issue 14).

Each command parses what was typed, calls the rapid review service (bot/rapid_review.py) once
and prints its answer; the rules are the service's and bot/core/rapid_review.py's. E-mails it
causes go into the outbox and leave with ``safeguard-bot run``.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

import click

from bot.cli.common import (
    actor_of,
    case_service,
    date_option,
    domain_call,
    fail,
    fmt_day,
    print_json,
    table,
    warn,
)


@click.group("rapid-review")
def rapid_review() -> None:
    """Run a case's rapid review: requests, returns, chasing, meeting, sign-off, draft."""


def _service(ctx: click.Context, *, writing: bool = True) -> Any:
    from bot.rapid_review import RapidReviewService

    return RapidReviewService(case_service(ctx, writing=writing, must_exist=not writing or None))


def _call(call: Any) -> Any:
    from bot.core.rapid_review import RapidReviewConfigError, RapidReviewError

    try:
        return domain_call(call)
    except (RapidReviewError, RapidReviewConfigError) as exc:
        fail(str(exc))


def _print(view: Any) -> None:
    from scheduler.calendar import today_in_london

    today = today_in_london()
    click.echo(f"Rapid review {view.reference}: started {fmt_day(view.started_on)}")
    click.echo(f"Progress: {view.progress}")
    if view.sent_on:
        reason = f" (reason: {view.sent_reason})" if view.sent_reason else ""
        click.echo(f"Sent to the Panel: {fmt_day(view.sent_on)}{reason}")
    click.echo("")
    sources: list[str] = []
    rows = []
    for step in view.steps:
        if step.source not in sources:
            sources.append(step.source)
        state = f"done {fmt_day(step.done_on)}" if step.done_on else (
            "late" if today > step.due else "to do")
        rows.append([f"day {step.day}", step.label, fmt_day(step.due), state,
                     f"[{sources.index(step.source) + 1}]"])
    click.echo(table(["Day", "Step (local practice, not statute)", "Due", "Status", "Source"], rows))
    click.echo("")
    if view.agencies:
        click.echo(table(
            ["Agency", "Requested", "Due", "Returned", "Status", "Files"],
            [[a.name, fmt_day(a.requested_on), fmt_day(a.due), fmt_day(a.returned_on),
              a.status + (f" (chased {fmt_day(a.chased_on)})" if a.chased_on and not a.returned_on else ""),
              str(a.files)] for a in view.agencies]))
        click.echo("")
    if view.signoffs:
        click.echo(table(["Partner", "Signed off by", "On", "Via"],
                         [[s.partner, s.by, fmt_day(s.on), s.via] for s in view.signoffs]))
        click.echo("")
    click.echo("Sources:\n" + "\n".join(f"  [{i}] {s}" for i, s in enumerate(sources, start=1)))


def _output(view: Any, as_json: bool) -> None:
    if as_json:
        print_json(view.as_json())
    else:
        _print(view)
    for warning in view.warnings:  # on stderr: --json output stays the contract
        warn(warning)


@rapid_review.command("start")
@click.argument("reference")
@click.option("--agencies", default=None, metavar="KEY,KEY...",
              help="The agencies to ask (keys of [[partnerships.agencies]]; default: the referral's, else all).")
@click.option("--on", "on", default=None, help="The day it starts (default: today).")
@click.option("--by", default=None, help="Who starts it (default: your login).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def start(ctx: click.Context, reference: str, agencies: str | None, on: str | None, by: str | None,
          as_json: bool) -> None:
    """Start the rapid review: e-mail each agency's safeguarding lead for its summary."""
    day = date_option(on, "--on")
    service = _service(ctx)
    keys = [k.strip() for k in agencies.split(",")] if agencies is not None else None
    if keys is not None and not any(keys):
        fail("--agencies: name at least one agency key")
    view = _call(lambda: service.start(reference, agencies=keys, actor=actor_of(by), on=day))
    if not as_json:
        click.echo(f"Requests queued for {len(view.agencies)} agencies "
                   f"({', '.join(a.agency for a in view.agencies)}); summaries due {fmt_day(view.agencies[0].due)}.")
    _output(view, as_json)


@rapid_review.command("return")
@click.argument("reference")
@click.argument("agency")
@click.option("--file", "files", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The agency's summary (repeat for more files).")
@click.option("--on", "on", default=None, help="The day it was returned (default: today).")
@click.option("--by", default=None, help="Who records it (default: your login).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def record_return(ctx: click.Context, reference: str, agency: str, files: tuple[Path, ...], on: str | None,
                  by: str | None, as_json: bool) -> None:
    """Record an agency's return by hand (its files are kept with the rapid review)."""
    day = date_option(on, "--on")
    loaded = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            fail(f"--file {path}: cannot read: {exc.strerror or exc}")
        loaded.append((path.name, mimetypes.guess_type(path.name)[0] or "application/octet-stream", data))
    service = _service(ctx)
    view = _call(lambda: service.record_return(reference, agency, files=loaded, actor=actor_of(by), on=day))
    _output(view, as_json)


@rapid_review.command("meeting")
@click.argument("reference")
@click.option("--on", "on", required=True, help="The day of the rapid review meeting.")
@click.option("--by", default=None, help="Who records it (default: your login).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def meeting(ctx: click.Context, reference: str, on: str, by: str | None, as_json: bool) -> None:
    """Set (or move) the rapid review meeting."""
    day = date_option(on, "--on")
    service = _service(ctx)
    view = _call(lambda: service.meeting(reference, on=day, actor=actor_of(by)))
    _output(view, as_json)


@rapid_review.command("signoff")
@click.argument("reference")
@click.argument("partner")
@click.option("--by", "name", required=True, help="The name of who signed off for the partner.")
@click.option("--on", "on", default=None, help="The day (default: today).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def signoff(ctx: click.Context, reference: str, partner: str, name: str, on: str | None, as_json: bool) -> None:
    """Record a safeguarding partner's sign-off (PARTNER: local_authority, police or health)."""
    day = date_option(on, "--on")
    service = _service(ctx)
    view = _call(lambda: service.signoff(reference, partner, by=name, actor=actor_of(None), on=day))
    _output(view, as_json)


@rapid_review.command("sent")
@click.argument("reference")
@click.option("--on", "on", default=None, help="The day it was sent to the Panel (default: today).")
@click.option("--reason", default=None, help="Why it is sent with fewer than three sign-offs.")
@click.option("--by", default=None, help="Who records it (default: your login).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def sent(ctx: click.Context, reference: str, on: str | None, reason: str | None, by: str | None,
         as_json: bool) -> None:
    """Sent to the Panel (records the case's rapid-review-sent milestone)."""
    from scheduler.calendar import today_in_london

    day = date_option(on, "--on") or today_in_london()
    service = _service(ctx)
    view = _call(lambda: service.sent(reference, on=day, actor=actor_of(by), reason=reason))
    _output(view, as_json)


@rapid_review.command("draft")
@click.argument("reference")
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The .docx file to write.")
@click.option("--by", default=None, help="Who drafts it (default: your login).")
@click.pass_context
def draft(ctx: click.Context, reference: str, output: Path, by: str | None) -> None:
    """Write the draft rapid review report (.docx) from what the case holds; the partners who
    have not signed off are sent it and asked to."""
    from bot.rapid_review_report import render

    if output.suffix.lower() != ".docx":
        fail(f"-o {output}: the draft is a Word document: name a .docx file")
    service = _service(ctx)
    data = _call(lambda: service.report(reference, actor=actor_of(by)))
    template = data["partnership"].rapid_review_template
    if template is not None and not Path(template).is_file():
        fail(f"rapid_review_template {template}: no such file")
    try:
        criteria = service.settings.criteria()
    except Exception:  # noqa: BLE001 - the criteria headings only help an empty decision section
        criteria = None
    content = render(data, Path(template) if template else None, criteria)
    try:
        output.write_bytes(content)
    except OSError as exc:
        fail(f"-o {output}: cannot write: {exc.strerror or exc}")
    _call(lambda: service.mark_draft(reference, actor=actor_of(by), draft=(output.name, content)))
    click.echo(f"Draft written to {output}")


@rapid_review.command("status")
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, reference: str, as_json: bool) -> None:
    """The rapid review's steps, agencies, meeting and sign-offs."""
    service = _service(ctx, writing=False)
    view = _call(lambda: service.status(reference))
    _output(view, as_json)


@rapid_review.command("chase")
@click.option("--today", "today", default=None, help="Chase as of this day (default: today).")
@click.pass_context
def chase(ctx: click.Context, today: str | None) -> None:
    """Chase late agencies and escalate (``run`` does this on every sweep)."""
    day = date_option(today, "--today")
    service = _service(ctx)
    result = _call(lambda: service.chase(day))
    for reference, agency in result.chased:
        click.echo(f"chased {agency} ({reference})")
    for reference, agency in result.escalated:
        click.echo(f"escalated {agency} ({reference})")
    if not result.chased and not result.escalated:
        click.echo("Nothing to chase.")
