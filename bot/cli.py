"""The ``safeguard-bot`` command line.

Contract: every user error (a bad date, an unknown milestone, a bad setting, a case that does
not exist, a path that cannot be written) prints one line on stderr and exits with status 2;
a problem with the machine (the database locked, read-only, corrupt or unreachable, a data
directory that cannot be written) prints one line and exits with status 1. Never a traceback
for either. ``--json`` output is stable and machine-readable. Heavy imports happen inside
commands so ``deadlines`` starts fast.
"""

from __future__ import annotations

import getpass
import importlib
import json
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import click

from bot.core.dates import DateError, parse_date
from bot.core.text import fmt_day as _fmt_day
from bot.core.text import table as _table

EXIT_USAGE = 2
EXIT_ENVIRONMENT = 1


class UserError(Exception):
    """An error the user can fix; shown as one line, exit status 2."""


class EnvironmentFailure(Exception):
    """The machine is not in a state the command can work in; one line, exit status 1."""


def _fail(message: str) -> NoReturn:
    raise UserError(message)


def _date_option(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return parse_date(value)
    except DateError as exc:
        _fail(f"{flag}: {exc}")


def _settings(ctx: click.Context) -> Any:
    from bot.settings import SettingsError, load_settings

    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        try:
            obj["settings"] = load_settings(obj.get("config_file"))
        except SettingsError as exc:
            _fail(str(exc))
    return obj["settings"]


def _database(ctx: click.Context, *, writing: bool) -> Any:
    """The engine for this command (store.db.open_database: upgraded at start-up when writing;
    read-only, and not migrated when current, when only reading). The URL is kept so ``main``
    can name the database in a one-line error."""
    from store.db import open_database

    obj = ctx.ensure_object(dict)
    url = _settings(ctx).resolved_database_url()
    obj["database_url"] = url
    return open_database(url, writing=writing)


def _case_service(ctx: click.Context, *, writing: bool = True) -> Any:
    """The case service; ``writing=False`` for commands that only read."""
    from bot.cases import CaseService

    obj = ctx.ensure_object(dict)
    if "cases" not in obj:
        obj["cases"] = CaseService(_database(ctx, writing=writing), _settings(ctx))
    return obj["cases"]


def _actor(by: str | None) -> str:
    if by:
        return by
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _warn(message: str | None) -> None:
    if message:
        click.echo(f"warning: {message}", err=True)


def _deadline_table(states: Sequence[Any], today: date | None = None) -> str:
    """Deadlines as a table plus a numbered list of their sources."""
    rows = []
    sources: list[str] = []
    for state in states:
        deadline = state.deadline
        if deadline.source not in sources:
            sources.append(deadline.source)
        status = state.status.value.replace("_", " ")
        if today is not None and state.overdue_on(today):
            status = "OVERDUE"
        if state.completed_on:
            status += f" ({state.completed_on.isoformat()})"
        rows.append(
            [
                deadline.label,
                _fmt_day(deadline.due),
                status,
                f"{deadline.rule} [{sources.index(deadline.source) + 1}]",
            ]
        )
    text = _table(["Step", "Due", "Status", "Rule [source]"], rows)
    cited = "\n".join(f"  [{i}] {source}" for i, source in enumerate(sources, start=1))
    return f"{text}\n\nSources:\n{cited}" if sources else text


# Commands that live with their feature and are imported only when used (fast start-up, and a
# feature's heavy dependencies such as slack-bolt or pypdf never load for ``deadlines``).
LAZY_COMMANDS: dict[str, str] = {
    "criteria": "bot.cli_criteria:criteria",
    "chat": "bot.cli_criteria:chat",
    "run": "bot.cli_service:run",
    "parse-referral": "bot.cli_referral:parse_referral",
    "remind": "bot.cli_reminders:remind",
    "status": "bot.cli_reminders:status",
    "digest": "bot.cli_reminders:digest",
    "calendar": "bot.cli_reminders:calendar_export",
    "pack": "bot.cli_reminders:pack",
}


class LazyGroup(click.Group):
    """A click group that imports feature commands on first use."""

    def _lazy(self, name: str) -> click.Command | None:
        target = LAZY_COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # that feature is not installed in this build
                return None
            raise
        command = getattr(module, attr, None)
        return command if isinstance(command, click.Command) else None

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names.update(name for name in LAZY_COMMANDS if self._lazy(name) is not None)
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._lazy(cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Settings TOML file (default: $SAFEGUARD_CONFIG_FILE, else embedded defaults).",
)
@click.version_option(package_name="safeguard-bot")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None) -> None:
    """Safeguarding partnership bot: the statutory clock after a serious incident."""
    ctx.ensure_object(dict)["config_file"] = config_file


# --- deadlines --------------------------------------------------------------------------------


@cli.command()
@click.option("--aware", required=True, help="Date the LA became aware (day 0).")
@click.option("--notified", default=None, help="Date the Panel was notified.")
@click.option(
    "--rapid-review-submitted", "rapid", default=None, help="Date the rapid review was sent."
)
@click.option("--decision", default=None, help="Date of the decision to initiate an LCSPR.")
@click.option("--publication", default=None, help="Planned publication date of the LCSPR.")
@click.option("--partnership", default=None, help="Partnership key (closure days, anchors).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def deadlines(
    ctx: click.Context,
    aware: str,
    notified: str | None,
    rapid: str | None,
    decision: str | None,
    publication: str | None,
    partnership: str | None,
    as_json: bool,
) -> None:
    """Every statutory deadline from the dates given (no database needed)."""
    from bot.core.lifecycle import (
        CaseFacts,
        LifecycleError,
        RecordedMilestone,
        check_awareness,
        derive_deadlines,
    )
    from bot.settings import SettingsError
    from scheduler.deadlines import due_date
    from scheduler.timescales import Milestone, TimescaleConfigError

    dates: dict[str, date | None] = {
        "--aware": _date_option(aware, "--aware"),
        "--notified": _date_option(notified, "--notified"),
        "--rapid-review-submitted": _date_option(rapid, "--rapid-review-submitted"),
        "--decision": _date_option(decision, "--decision"),
        "--publication": _date_option(publication, "--publication"),
    }
    la_aware = dates["--aware"]
    assert la_aware is not None

    try:
        check_awareness(la_aware)
    except LifecycleError as exc:
        # The calculator still answers (historic or training examples), with a warning.
        _warn(f"--aware: {exc}")
    # Each date must not precede the one it follows from.
    order = [
        ("--notified", "--aware"),
        ("--rapid-review-submitted", "--notified"),
        ("--rapid-review-submitted", "--aware"),
        ("--decision", "--aware"),
        ("--publication", "--decision"),
        ("--publication", "--aware"),
    ]
    for later, earlier in order:
        later_date, earlier_date = dates[later], dates[earlier]
        if later_date and earlier_date and later_date < earlier_date:
            _fail(f"{later} {later_date.isoformat()} is before {earlier} {earlier_date.isoformat()}")

    milestones = [
        (Milestone.PANEL_NOTIFIED, dates["--notified"]),
        (Milestone.RAPID_REVIEW_SENT, dates["--rapid-review-submitted"]),
        (Milestone.DECISION_LOCAL_REVIEW, dates["--decision"]),
        (Milestone.PUBLICATION_PLANNED, dates["--publication"]),
    ]
    facts = CaseFacts(
        la_aware=la_aware,
        milestones=tuple(RecordedMilestone(kind, on) for kind, on in milestones if on),
    )
    settings = _settings(ctx)
    try:
        chosen = settings.partnership(partnership)
        timescales = settings.timescales_for(chosen)
        calendar = settings.calendar_for(chosen)
    except (SettingsError, TimescaleConfigError) as exc:
        _fail(str(exc))
    states = derive_deadlines(facts, timescales, calendar)

    # Sources disagree on the rapid review anchor: say what the other reading would give.
    notes: dict[str, str] = {}
    rapid_rule = timescales.get("rapid_review")
    alternatives = [e for e in rapid_rule.allowed_counts_from if e != rapid_rule.counts_from]
    for alternative in alternatives:
        anchor = facts.events().get(alternative)
        if anchor is None:
            continue
        other = timescales.with_counts_from("rapid_review", alternative)
        other_due = due_date(other.get("rapid_review"), anchor, calendar)
        current = next((s for s in states if s.deadline.key == "rapid_review"), None)
        if current and other_due != current.deadline.due:
            notes["rapid_review"] = (
                f"counted from {alternative.value.replace('_', ' ')} "
                f"({anchor.isoformat()}) it would be {other_due.isoformat()}"
            )

    if as_json:
        from bot.cases import deadline_json

        out = []
        for state in states:
            item = deadline_json(state)
            if state.deadline.key in notes:
                item["note"] = notes[state.deadline.key]
            out.append(item)
        _print_json(out)
        return
    click.echo(f"LA became aware: {_fmt_day(la_aware)} (day 0)")
    click.echo(_deadline_table(states))
    for key, note in notes.items():
        click.echo(f"\nNote on {key}: {note}")


# --- case -------------------------------------------------------------------------------------


@cli.group()
def case() -> None:
    """Open cases, record milestones, see deadlines."""


@case.command("open")
@click.option("--aware", required=True, help="Date the LA became aware of the incident.")
@click.option("--summary", default=None, help="A short summary (stays in the case record).")
@click.option("--incident", default=None, help="Date of the incident, if known.")
@click.option("--partnership", default=None, help="Partnership key (default: the first).")
@click.option("--by", default=None, help="Who is opening the case (default: your login).")
@click.option("--owner", default=None, help="Case owner for reminders: a Slack user ID or an e-mail.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def case_open(
    ctx: click.Context,
    aware: str,
    summary: str | None,
    incident: str | None,
    partnership: str | None,
    by: str | None,
    owner: str | None,
    as_json: bool,
) -> None:
    """Open a case and create its deadlines."""
    from bot.core.lifecycle import future_warning
    from scheduler.calendar import today_in_london

    la_aware = _date_option(aware, "--aware")
    incident_date = _date_option(incident, "--incident")
    assert la_aware is not None
    service = _case_service(ctx)
    view = _domain_call(
        lambda: service.open_case(
            la_aware=la_aware,
            actor=_actor(by),
            summary=summary,
            incident_date=incident_date,
            partnership_key=partnership,
            owner=owner,
        )
    )
    _warn(future_warning("awareness", la_aware, today_in_london()))
    for warning in view.warnings:
        _warn(warning)
    if as_json:
        _print_json(view.as_json())
        return
    click.echo(f"Opened case {view.reference} (LA became aware {_fmt_day(view.la_aware)})\n")
    click.echo(_deadline_table(view.deadlines, today_in_london()))


@case.command("list")
@click.option("--all", "include_closed", is_flag=True, help="Include closed cases.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def case_list(ctx: click.Context, include_closed: bool, as_json: bool) -> None:
    """Open cases with their next deadline."""
    from scheduler.calendar import today_in_london

    views = _case_service(ctx, writing=False).list(include_closed=include_closed)
    if as_json:
        _print_json([_case_summary_json(v) for v in views])
        return
    if not views:
        click.echo("No open cases.")
        return
    today = today_in_london()
    rows = []
    for view in views:
        nxt = view.next_deadline
        due = "-"
        step = "-"
        if nxt is not None:
            due = _fmt_day(nxt.deadline.due) + (" OVERDUE" if nxt.overdue_on(today) else "")
            step = nxt.deadline.label
        rows.append([view.reference, _fmt_day(view.la_aware), step, due, view.status])
    click.echo(_table(["Reference", "LA aware", "Next step", "Due", "Status"], rows))


def _case_summary_json(view: Any) -> dict[str, Any]:
    nxt = view.next_deadline
    return {
        "reference": view.reference,
        "partnership": view.partnership,
        "status": view.status,
        "la_aware": view.la_aware.isoformat(),
        "next_deadline": (
            {"key": nxt.deadline.key, "label": nxt.deadline.label, "due": nxt.deadline.due.isoformat()}
            if nxt
            else None
        ),
    }


@case.command("show")
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def case_show(ctx: click.Context, reference: str, as_json: bool) -> None:
    """A case's milestones and deadlines."""
    from scheduler.calendar import today_in_london

    service = _case_service(ctx, writing=False)
    view = _domain_call(lambda: service.get(reference))
    if as_json:
        _print_json(view.as_json())
        return
    _print_case(view, today_in_london())


def _print_case(view: Any, today: date) -> None:
    click.echo(f"Case {view.reference}  ({view.partnership}, {view.status})")
    click.echo(f"LA became aware: {_fmt_day(view.la_aware)}")
    if view.incident_date:
        click.echo(f"Incident date:   {_fmt_day(view.incident_date)}")
    if view.summary:
        click.echo(f"Summary:         {view.summary}")
    click.echo(f"Opened by {view.opened_by} at {view.opened_at:%Y-%m-%d %H:%M} UTC\n")
    if view.milestones:
        rows = [[m.kind.replace("_", "-"), _fmt_day(m.on), m.recorded_by] for m in view.milestones]
        click.echo(_table(["Milestone", "On", "Recorded by"], rows) + "\n")
    click.echo(_deadline_table(view.deadlines, today))


@case.command("record")
@click.argument("reference")
@click.argument("milestone")
@click.option("--on", "on", required=True, help="Date it happened (or the planned date).")
@click.option("--by", default=None, help="Who is recording it (default: your login).")
@click.option("--note", default=None, help="A short note for the record.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def case_record(
    ctx: click.Context,
    reference: str,
    milestone: str,
    on: str,
    by: str | None,
    note: str | None,
    as_json: bool,
) -> None:
    """Record a milestone: deadlines are met, and the ones that now apply are added.

    MILESTONE is one of: partners-aware, panel-notified, partners-notified,
    notification-not-required, rapid-review-sent, panel-responded, decision-local-review,
    decision-no-review, decision-national-review, publication-planned, final-report-sent,
    published.
    """
    from bot.core.lifecycle import MILESTONE_RULES, LifecycleError, future_warning, parse_milestone
    from scheduler.calendar import today_in_london

    try:
        kind = parse_milestone(milestone)
    except LifecycleError as exc:
        _fail(str(exc))
    occurred = _date_option(on, "--on")
    assert occurred is not None
    service = _case_service(ctx)
    view = _domain_call(
        lambda: service.record_milestone(reference, kind, on=occurred, actor=_actor(by), note=note)
    )
    if not MILESTONE_RULES[kind].future_allowed:
        _warn(future_warning(kind.value.replace("_", "-"), occurred, today_in_london()))
    if as_json:
        _print_json(view.as_json())
        return
    click.echo(f"Recorded {kind.value.replace('_', '-')} on {_fmt_day(occurred)} for {view.reference}\n")
    click.echo(_deadline_table(view.deadlines, today_in_london()))


@case.command("snooze")
@click.argument("reference")
@click.argument("deadline")
@click.option("--by", default=None)
@click.pass_context
def case_snooze(ctx: click.Context, reference: str, deadline: str, by: str | None) -> None:
    """Quieten a deadline's reminders until the next working day (the deadline does not move)."""
    from datetime import UTC, datetime

    service = _case_service(ctx)
    day = _domain_call(
        lambda: service.snooze(reference, deadline, now=datetime.now(tz=UTC), actor=_actor(by))
    )
    click.echo(f"Reminders for {reference} {deadline} snoozed until {_fmt_day(day)}.")


def _domain_call(call: Callable[[], Any]) -> Any:
    """Run a service call, turning domain refusals into one-line user errors."""
    from bot.cases import CaseNotFound, InvalidOwner
    from bot.core.lifecycle import LifecycleError
    from bot.settings import SettingsError
    from scheduler.timescales import TimescaleConfigError

    try:
        return call()
    except (CaseNotFound, InvalidOwner, LifecycleError, SettingsError, TimescaleConfigError) as exc:
        _fail(str(exc.args[0]) if exc.args else str(exc))


# --- db ---------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Bring the database schema to the latest version."""
    from store.db import current_revision, make_engine, upgrade

    settings = _settings(ctx)
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

    settings = _settings(ctx)
    url = settings.resolved_database_url()
    ctx.ensure_object(dict)["database_url"] = url
    missing = missing_sqlite_file(url)
    current = None if missing else current_revision(make_engine(url, read_only=True))
    head = head_revision()
    click.echo(f"current: {current or 'empty'}; latest: {head}")


def _error(message: str, status: int) -> int:
    lines = str(message).strip().splitlines() or ["(no detail)"]
    click.echo(f"safeguard-bot: error: {lines[0]}", err=True)
    return status


def _classify(exc: Exception, obj: dict[str, Any]) -> int | None:
    """The exit status for an error that is not a bug (after printing its one line), else None.

    Imports lazily: ``deadlines`` must not pay for SQLAlchemy to start.
    """
    import sys

    config_errors: tuple[type[Exception], ...] = ()
    for module, name in (("scheduler.timescales", "TimescaleConfigError"),
                         ("scheduler.reminders", "ReminderConfigError"),
                         ("bot.core.criteria", "CriteriaConfigError")):
        if module in sys.modules:
            config_errors += (getattr(sys.modules[module], name),)
    if isinstance(exc, config_errors):
        # A partnership's own rules file named in settings: a bad setting, like any other.
        return _error(str(exc), EXIT_USAGE)
    if isinstance(exc, EnvironmentFailure):
        return _error(str(exc), EXIT_ENVIRONMENT)
    if "store.db" in sys.modules:
        from store.db import DatabaseUnavailable, describe_error

        if isinstance(exc, DatabaseUnavailable):
            return _error(str(exc), EXIT_ENVIRONMENT)
        if "database_url" in obj and (described := describe_error(exc, obj["database_url"])):
            return _error(described, EXIT_ENVIRONMENT)
    if isinstance(exc, OSError):  # a directory or file the command needs, e.g. the data dir
        where = f"{exc.filename}: " if exc.filename else ""
        return _error(f"cannot use {where}{exc.strerror or exc}", EXIT_ENVIRONMENT)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: one-line errors; exit status 2 for anything the user can
    fix in what they typed or configured, 1 for the machine's state (see the module doc)."""
    obj: dict[str, Any] = {}
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="safeguard-bot",
                 standalone_mode=False, obj=obj)
    except UserError as exc:
        return _error(str(exc), EXIT_USAGE)
    except click.ClickException as exc:
        return _error(exc.format_message(), exc.exit_code)
    except click.exceptions.Abort:
        click.echo("safeguard-bot: aborted", err=True)
        return 130
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except BrokenPipeError:
        return 0
    except Exception as exc:
        status = _classify(exc, obj)
        if status is None:
            raise
        return status
    return 0
