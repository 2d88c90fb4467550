"""The ``safeguard-bot`` command line.

Contract: every user error (a bad date, an unknown milestone, a bad setting, a case that does
not exist, a path that cannot be written) prints one line on stderr and exits with status 2;
a problem with the machine (the database locked, read-only, corrupt or unreachable, a data
directory that cannot be written) prints one line and exits with status 1. Never a traceback
for either. ``--json`` output is stable and machine-readable. Heavy imports happen inside
commands so ``deadlines`` starts fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from bot.cli.common import EXIT_ENVIRONMENT, EXIT_USAGE, EnvironmentFailure, UserError

__all__ = ["EXIT_ENVIRONMENT", "EXIT_USAGE", "EnvironmentFailure", "LazyGroup", "UserError", "cli", "main"]

# Every command lives in its own module of this package and is imported only when used (fast
# start-up, and a feature's heavy dependencies such as slack-bolt or pypdf never load for
# ``deadlines``). Modules share only bot.cli.common's public helpers.
LAZY_COMMANDS: dict[str, str] = {
    "deadlines": "bot.cli.deadlines:deadlines",
    "case": "bot.cli.case_admin:case",  # bot.cli.cases' group with case_admin's commands
    "db": "bot.cli.db:db",
    "criteria": "bot.cli.criteria:criteria",
    "chat": "bot.cli.criteria:chat",
    "run": "bot.cli.service:run",
    "parse-referral": "bot.cli.referral:parse_referral",
    "remind": "bot.cli.reminders:remind",
    "status": "bot.cli.reminders:status",
    "digest": "bot.cli.reminders:digest",
    "calendar": "bot.cli.reminders:calendar_export",
    "pack": "bot.cli.reminders:pack",
    "intake": "bot.cli.intake:intake",
    "report": "bot.cli.report:report",
    "rapid-review": "bot.cli.rapid_review:rapid_review",
    "teams-package": "bot.cli.teams:teams_package",
    "keys": "bot.cli.keys:keys",
    "retention": "bot.cli.ops:retention",
    "backup": "bot.cli.ops:backup",
    "restore": "bot.cli.ops:restore",
    "doctor": "bot.cli.doctor:doctor",
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
        returned = cli.main(args=list(argv) if argv is not None else None, prog_name="safeguard-bot",
                            standalone_mode=False, obj=obj)
        if isinstance(returned, int) and returned:  # ctx.exit(N): e.g. doctor's 1 on a failed check
            return returned
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

