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


def settings_label(settings: Any) -> str:
    """How a command names where its settings came from."""
    source = settings.source_file
    return str(source) if source else "no settings file (environment and embedded defaults)"


def require_database(ctx: click.Context) -> str:
    """The database URL, for a command that only reads: a SQLite file that does not exist is
    not created (an empty database would answer "No open cases." for a partnership that has
    many, somewhere else). EnvironmentFailure says where it looked; exit status 1."""
    from bot.settings import DISCOVERED_FILES
    from store.db import database_label, missing_sqlite_file

    settings = settings_of(ctx)
    url = settings.resolved_database_url()
    ctx.ensure_object(dict)["database_url"] = url
    if missing_sqlite_file(url):
        looked = ", ".join(str(p) for p in DISCOVERED_FILES)
        raise EnvironmentFailure(
            f"no database at {database_label(url)} (settings: {settings_label(settings)}; "
            f"settings are looked for in --config, $SAFEGUARD_CONFIG_FILE, {looked}): "
            "run this where the service runs, or point --config or SAFEGUARD_DATA_DIR at it"
        )
    return url


def database_of(ctx: click.Context, *, writing: bool, must_exist: bool | None = None) -> Any:
    """The engine for this command (store.db.open_database: upgraded at start-up when writing;
    read-only, and not migrated when current, when only reading). A command that only reads
    (or ``must_exist``) needs the database to exist (require_database). The URL is kept so
    ``main`` can name the database in a one-line error."""
    from store.db import open_database

    obj = ctx.ensure_object(dict)
    if (not writing) if must_exist is None else must_exist:
        url = require_database(ctx)
    else:
        url = settings_of(ctx).resolved_database_url()
    obj["database_url"] = url
    return open_database(url, writing=writing)


def case_service(ctx: click.Context, *, writing: bool = True, must_exist: bool | None = None) -> Any:
    """The case service; ``writing=False`` for commands that only read."""
    from bot.cases import CaseService

    obj = ctx.ensure_object(dict)
    if "cases" not in obj:
        obj["cases"] = CaseService(database_of(ctx, writing=writing, must_exist=must_exist),
                                   settings_of(ctx))
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
    from sqlalchemy.exc import StatementError

    from bot.cases import CaseNotFound, InvalidOwner
    from bot.core.lifecycle import LifecycleError
    from bot.settings import SettingsError
    from scheduler.timescales import TimescaleConfigError
    from store.crypto import DataKeyInvalid, DataKeyMissing

    try:
        return call()
    except (CaseNotFound, InvalidOwner, LifecycleError, SettingsError, TimescaleConfigError) as exc:
        fail(str(exc.args[0]) if exc.args else str(exc))
    except (DataKeyMissing, DataKeyInvalid) as exc:  # child details and no (right) key
        fail(str(exc))
    except StatementError as exc:  # the same, raised by the ORM while writing or reading
        if isinstance(exc.orig, (DataKeyMissing, DataKeyInvalid)):
            fail(str(exc.orig))
        raise



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
    "require_database",
    "settings_label",
    "settings_of",
    "table",
    "warn",
]
