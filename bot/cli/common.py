"""What every ``safeguard-bot`` command shares: its errors, its options' parsing, its settings,
database and case service, and how it prints. Public names, used by every module in bot.cli.

Only click and the pure core are imported here; everything heavier is imported inside the
helper that needs it, so ``deadlines`` starts fast.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, NoReturn

import click

from bot.core.dates import DateError, parse_date
from bot.core.text import fmt_day, table

EXIT_USAGE = 2
EXIT_ENVIRONMENT = 1


class UserError(Exception):
    """An error the user can fix; shown as one line, exit status 2."""


class EnvironmentFailure(Exception):
    """The machine is not in a state the command can work in; one line, exit status 1."""


def fail(message: str) -> NoReturn:
    raise UserError(message)


def date_option(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return parse_date(value)
    except DateError as exc:
        fail(f"{flag}: {exc}")


def settings_of(ctx: click.Context) -> Any:
    from bot.settings import SettingsError, load_settings

    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        try:
            obj["settings"] = load_settings(obj.get("config_file"))
        except SettingsError as exc:
            fail(str(exc))
    return obj["settings"]


def database_of(ctx: click.Context, *, writing: bool) -> Any:
    """The engine for this command (store.db.open_database: upgraded at start-up when writing;
    read-only, and not migrated when current, when only reading). The URL is kept so ``main``
    can name the database in a one-line error."""
    from store.db import open_database

    obj = ctx.ensure_object(dict)
    url = settings_of(ctx).resolved_database_url()
    obj["database_url"] = url
    return open_database(url, writing=writing)


def case_service(ctx: click.Context, *, writing: bool = True) -> Any:
    """The case service; ``writing=False`` for commands that only read."""
    from bot.cases import CaseService

    obj = ctx.ensure_object(dict)
    if "cases" not in obj:
        obj["cases"] = CaseService(database_of(ctx, writing=writing), settings_of(ctx))
    return obj["cases"]


def actor_of(by: str | None) -> str:
    if by:
        return by
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def warn(message: str | None) -> None:
    if message:
        click.echo(f"warning: {message}", err=True)


def deadline_table(states: Sequence[Any], today: date | None = None) -> str:
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
        if getattr(deadline, "provisional", False):
            status += " (provisional)"
        rows.append(
            [
                deadline.label,
                fmt_day(deadline.due),
                status,
                f"{deadline.rule} [{sources.index(deadline.source) + 1}]",
            ]
        )
    text = table(["Step", "Due", "Status", "Rule [source]"], rows)
    cited = "\n".join(f"  [{i}] {source}" for i, source in enumerate(sources, start=1))
    notes = [
        f"  {state.deadline.label}: {warning}"
        for state in states
        for warning in getattr(state.deadline, "warnings", ())
    ]
    if notes:
        text += "\n\nWarnings:\n" + "\n".join(notes)
    return f"{text}\n\nSources:\n{cited}" if sources else text




def domain_call(call: Callable[[], Any]) -> Any:
    """Run a service call, turning domain refusals into one-line user errors."""
    from bot.cases import CaseNotFound, InvalidOwner
    from bot.core.lifecycle import LifecycleError
    from bot.settings import SettingsError
    from scheduler.timescales import TimescaleConfigError

    try:
        return call()
    except (CaseNotFound, InvalidOwner, LifecycleError, SettingsError, TimescaleConfigError) as exc:
        fail(str(exc.args[0]) if exc.args else str(exc))



__all__ = [
    "EXIT_ENVIRONMENT",
    "EXIT_USAGE",
    "EnvironmentFailure",
    "UserError",
    "actor_of",
    "case_service",
    "database_of",
    "date_option",
    "deadline_table",
    "domain_call",
    "fail",
    "fmt_day",
    "print_json",
    "settings_of",
    "table",
    "warn",
]
