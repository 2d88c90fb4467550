"""Commands for the statutory clock: remind, digest, status, calendar, pack."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import click

from bot.cli.common import UserError, fmt_day, print_json, settings_of, table
from bot.core.dates import DateError, DateOutOfRange, check_date_range, parse_date


def parse_moment(text: str, send_time: time) -> datetime:
    """An aware datetime from ISO text; naive times are Europe/London; a bare date means the
    reminder send time on that day; "now" is now."""
    from scheduler.calendar import LONDON  # here, not at the top: ``--help`` need not load holidays

    cleaned = text.strip()
    if cleaned.lower() == "now":
        return datetime.now(tz=UTC)
    not_a_moment = f"--now: {text!r} is not a date-time (use 2026-12-29T09:00)"
    if not cleaned.isascii():  # the digits people type here are ASCII (see bot.core.dates)
        raise UserError(not_a_moment)
    try:
        moment = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError:
        try:
            day = parse_date(cleaned)
        except DateOutOfRange as exc:
            raise UserError(f"--now: {exc}") from None
        except DateError:
            raise UserError(not_a_moment) from None
        return datetime.combine(day, send_time, tzinfo=LONDON)
    try:
        check_date_range(moment.date(), "--now")
    except DateError as exc:
        raise UserError(str(exc)) from None
    if len(cleaned) <= 10:  # a date alone, e.g. 2026-12-29
        return datetime.combine(moment.date(), send_time, tzinfo=LONDON)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LONDON)
    return moment


def _runtime(ctx: click.Context, *, writing: bool = True) -> Any:
    """The runtime; ``writing=False`` for commands that only read (status, calendar, pack)."""
    from bot.cli.common import require_database
    from bot.runtime import open_runtime

    obj = ctx.ensure_object(dict)
    if "runtime" not in obj:
        settings = settings_of(ctx)
        obj["database_url"] = require_database(ctx) if not writing else settings.resolved_database_url()
        obj["runtime"] = open_runtime(settings, writing=writing)
    return obj["runtime"]


def _send_time(ctx: click.Context) -> time:
    """The reminder send time from the policy (a bare --now date means that time)."""
    from scheduler.reminders import ReminderConfigError

    try:
        return settings_of(ctx).reminder_policy().send_time
    except ReminderConfigError as exc:
        raise UserError(str(exc).splitlines()[0]) from None


@click.command()
@click.option("--now", "now_text", default="now", help="Sweep as if at this moment (ISO; London if no offset).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of the reminders sent.")
@click.option("--dry-run", is_flag=True,
              help="Show what would be sent, to whom and why; send, write and consume nothing.")
@click.pass_context
def remind(ctx: click.Context, now_text: str, as_json: bool, dry_run: bool) -> None:
    """One reminder sweep: send what is due at that moment, through the configured transports.

    Running it twice at the same moment sends nothing the second time. With --dry-run nothing
    is sent or used up: the same sweep runs and is rolled back.
    """
    now = parse_moment(now_text, _send_time(ctx))  # a bad moment opens no database
    if dry_run:
        _preview(ctx, now, as_json)
        return
    if now > datetime.now(tz=UTC) + timedelta(minutes=5):
        # A sweep "as if" later really sends, and what it sends is used up: say so.
        click.echo("warning: --now is in the future: the reminders due by then are sent now and "
                   "will not go out again on their day (remind --dry-run only shows them)", err=True)
    runtime = _runtime(ctx)
    result = runtime.sweeper().sweep(now)
    sender = runtime.sender(console=sys.stderr if as_json else sys.stdout)
    import asyncio

    report = asyncio.run(sender.drain(now))
    if as_json:
        print_json([item.as_json() for item in result.sent])
        return
    if result.held:
        click.echo(f"Nothing sent: {result.held}.")
        return
    if not result.sent:
        click.echo("No reminders due.")
    rows = [
        [
            r.case,
            r.deadline,
            r.occasion,
            fmt_day(r.due),
            ", ".join(f"{t}:{to}" for t, to in r.recipients),
        ]
        for r in result.sent
    ]
    if rows:
        click.echo(table(["Case", "Deadline", "Occasion", "Due", "Sent to"], rows))
    if report.retrying or report.dead:
        click.echo(
            f"\n{len(report.delivered)} delivered, {len(report.retrying)} queued for retry, "
            f"{len(report.dead)} failed (see `safeguard-bot status`)."
        )


def _preview(ctx: click.Context, now: datetime, as_json: bool) -> None:
    """remind --dry-run: the sweep's answer, rolled back; the outbox is not drained."""
    from bot.cli.common import require_database

    require_database(ctx)  # a preview must not create a database either
    result = _runtime(ctx).sweeper().preview(now)
    if as_json:
        print_json([item.as_json() for item in result.sent])
        return
    if result.held:
        click.echo(f"Nothing would be sent: {result.held}.")
        return
    if not result.sent:
        click.echo("No reminders due (dry run: nothing sent).")
        return
    rows = [[r.case, r.occasion, r.why, ", ".join(f"{t}:{to}" for t, to in r.recipients)] for r in result.sent]
    click.echo("Dry run: nothing was sent, written or used up.\n")
    click.echo(table(["Case", "Occasion", "Why", "Would go to"], rows))


@click.command()
@click.option("--now", "now_text", default="now", help="As if at this moment.")
@click.option("--force", is_flag=True, help="Send even if today is not the digest day.")
@click.pass_context
def digest(ctx: click.Context, now_text: str, force: bool) -> None:
    """Queue and deliver the weekly digest (first working day of the week, 09:00)."""
    from scheduler.digest import send_digests

    now = parse_moment(now_text, _send_time(ctx))
    runtime = _runtime(ctx)
    sent = send_digests(runtime.engine, now, runtime.policy, runtime.calendar_for, runtime.router, force=force)
    import asyncio

    asyncio.run(runtime.sender().drain(now))
    if not sent:
        click.echo("No digest due (already sent this week, or not the first working day).")
    for item in sent:
        click.echo(item.text + "\n")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """What is running, what is queued, what failed."""
    from sqlmodel import Session

    from store import outbox, workers
    from store import reminders as reminder_store
    from store.db import database_label

    runtime = _runtime(ctx, writing=False)
    now = datetime.now(tz=UTC)
    with Session(runtime.engine) as session:
        running = workers.running(session)
        reminders = reminder_store.counts_by_status(session)
        messages = outbox.counts_by_status(session)
        dead = outbox.recent(session, outbox.DEAD, limit=10)
        next_reminder = reminder_store.next_pending_send_at(session)
        next_future = reminder_store.next_pending_send_at(session, after=now)
        overdue_reminders = reminder_store.pending_due(session, now)

    def aware(moment: datetime | None) -> datetime | None:
        if moment is None:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    live = [w for w in running if now - (aware(w.last_seen) or now) < timedelta(minutes=2)]
    data = {
        "workers": [
            {"id": w.id, "host": w.host, "pid": w.pid, "components": w.components,
             "last_seen": aware(w.last_seen).isoformat() if w.last_seen else None,
             "alive": w in live}
            for w in running
        ],
        "reminders": reminders,
        "outbox": messages,
        "next_reminder_at": aware(next_reminder).isoformat() if next_reminder else None,
        "dead_letters": [
            {"id": m.id, "transport": m.transport, "recipient": m.recipient,
             "attempts": m.attempts, "error": m.last_error}
            for m in dead
        ],
    }
    data["next_due_at"] = aware(next_future).isoformat() if next_future else None  # never in the past
    data["sender_authentication"] = _sender_authentication(runtime.settings)
    data["settings_file"] = str(runtime.settings.source_file) if runtime.settings.source_file else None
    data["database"] = database_label(runtime.settings.resolved_database_url())
    if as_json:
        print_json(data)
        return
    _print_status(runtime.settings, data["database"], live, reminders, messages, dead,
                  overdue_reminders, next_future, now)


def _print_status(settings: Any, database: str, live: list[Any], reminders: dict[str, int],
                  messages: dict[str, int], dead: list[Any], waiting: tuple[int, datetime | None],
                  next_future: datetime | None, now: datetime) -> None:
    """status in words: London times, no JSON, and "next due" always ahead of now."""
    from bot.cli.common import settings_label
    from scheduler.calendar import LONDON

    def when(moment: datetime) -> str:
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return aware.astimezone(LONDON).strftime("%a %d %b %Y %H:%M") + " (London)"

    click.echo(f"Settings: {settings_label(settings)}")
    click.echo(f"Database: {database}")
    if live:
        click.echo(f"Service: running ({len(live)} worker{'s' if len(live) != 1 else ''})")
        for w in live:
            click.echo(f"  {w.id}: {w.components}; last seen {when(w.last_seen)}")
    else:
        click.echo("Service: not running (start it with `safeguard-bot run`)")
    count, oldest = waiting
    line = f"Reminders: {reminders.get('pending', 0) - count} planned"
    if reminders.get("sent"):
        line += f", {reminders['sent']} sent"
    click.echo(line)
    if count and oldest is not None:
        click.echo(f"  {count} fell due since {when(oldest)} and have not gone out"
                   + (" yet" if live else ": the service is not running; when it runs, it sends the "
                      "latest one for each step"))
    click.echo(f"  next due: {when(next_future)}" if next_future else "  next due: none planned")
    queued = messages.get("pending", 0) + messages.get("retrying", 0)
    click.echo(f"Messages: {messages.get('sent', 0)} delivered, {queued} waiting to be delivered, "
               f"{messages.get('dead', 0)} failed")
    click.echo(str(_sender_authentication(settings)["text"]))
    if dead:
        click.echo("Failed deliveries (they will not be retried):")
        for m in dead:
            click.echo(f"  #{m.id} by {m.transport} to {m.recipient} after {m.attempts} attempts: {m.last_error}")


def _sender_authentication(settings) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """On (whose Authentication-Results are read) or off: handlers.mail.sender_auth."""
    from handlers.mail.sender_auth import status as sender_auth_status

    return sender_auth_status(settings)


@click.command("calendar")
@click.argument("reference", required=False)
@click.option("--output", "-o", default=None, help="File to write (default: REF.ics or deadlines.ics; '-' for stdout).")
@click.pass_context
def calendar_export(ctx: click.Context, reference: str | None, output: str | None) -> None:
    """Write an .ics file of open deadlines that Outlook imports (case reference and step only)."""
    from bot.calendar_export import deadlines_ics

    runtime = _runtime(ctx, writing=False)
    from bot.cases import CaseNotFound

    try:
        views = [runtime.cases.get(reference)] if reference else runtime.cases.list()
    except CaseNotFound as exc:
        raise UserError(str(exc)) from None
    data = deadlines_ics(views, runtime.policy.send_time)
    target = output or (f"{views[0].reference}.ics" if reference and views else "deadlines.ics")
    if target == "-":
        sys.stdout.buffer.write(data)
        return
    try:
        Path(target).write_bytes(data)
    except OSError as exc:  # the path the user chose: a directory, under a file, read-only
        raise UserError(f"-o {target}: cannot write ({exc.strerror or type(exc).__name__})") from None
    count = sum(1 for v in views for s in v.deadlines if s.status.value == "open")
    click.echo(f"Wrote {count} deadline(s) to {target}")


@click.command()
@click.argument("reference")
@click.option("--by", default=None, help="Who is looking (for the audit; default: your login).")
@click.pass_context
def pack(ctx: click.Context, reference: str, by: str | None) -> None:
    """The information the DfE notification form asks for, copy-ready (it times out at 20 min).
    It shows the child's details, so the look is audited (``case history``)."""
    from bot.cases import CaseNotFound
    from bot.cli.common import actor_of
    from bot.notification_pack import build_pack

    runtime = _runtime(ctx, writing=True)
    try:
        view = runtime.cases.get(reference)
    except CaseNotFound as exc:
        raise UserError(str(exc)) from None
    details = runtime.cases.child_details(reference, actor=actor_of(by), via="pack")
    partnership = runtime.settings.partnership(view.partnership) if any(
        p.key == view.partnership for p in runtime.settings.partnerships) else None
    click.echo(build_pack(view, details, partnership))


