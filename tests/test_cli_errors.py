"""One-line errors from the real entry point: bad dates, database and file-system problems.

Exit status 2 is for what the user typed or configured (a date, a path, a setting); 1 for the
machine's state (a locked, read-only or corrupt database, a data directory that cannot be
written). Either way: one line on stderr, never a traceback.

These tests run as root in CI, where file modes do not stop writes; every read-only situation
here is made with something that holds for root too: SQLite's own ``mode=ro``, a path under a
regular file, or the immutable attribute (``chattr +i``) where the file system allows it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.test_cli import run

PREFIX = "safeguard-bot: error: "


def one_line_failure(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The single stderr line of a refused command that exited with ``code``."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(PREFIX), lines[0]
    return lines[0][len(PREFIX):]


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def _open(env: dict[str, str], aware: str = "2026-11-20") -> str:
    return json.loads(ok(run(["case", "open", "--aware", aware, "--json"], env)))["reference"]


def _database(env: dict[str, str]) -> Path:
    return Path(env["SAFEGUARD_DATA_DIR"]) / "safeguard.db"


def _close_cleanly(db: Path) -> None:
    """Checkpoint the WAL so the -wal and -shm files go, as after a clean shutdown."""
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


# --- dates: ASCII digits only, years 1900 to 2099 ---------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["deadlines", "--aware", "9999-12-20"],
        ["deadlines", "--aware", "2026-11-20", "--decision", "9999-07-01"],
        ["deadlines", "--aware", "2026-11-20", "--decision", "2026-12-01", "--publication", "9999-01-01"],
        ["deadlines", "--aware", "1066-10-14"],
        ["case", "open", "--aware", "9999-12-20"],
        ["case", "open", "--aware", "2026-11-20", "--incident", "0001-01-01"],
        ["criteria", "--answer", "harm=died", "--aware", "9999-12-20"],
        ["remind", "--now", "9999-12-31T23:59"],
        ["remind", "--now", "9999-12-31"],
        ["digest", "--now", "9999-12-31T09:00"],
    ],
)
def test_dates_outside_the_supported_years_are_refused(cli_env: dict[str, str], args: list[str]) -> None:
    line = one_line_failure(run(args, cli_env), 2)
    assert "1900" in line and "2099" in line


def test_a_far_future_milestone_is_refused(cli_env: dict[str, str]) -> None:
    ref = _open(cli_env)
    line = one_line_failure(
        run(["case", "record", ref, "decision-local-review", "--on", "9999-07-01"], cli_env), 2
    )
    assert "--on" in line and "2099" in line
    assert json.loads(ok(run(["case", "show", ref, "--json"], cli_env)))["milestones"] == []


def test_reminders_on_a_far_future_moment_with_cases_open(cli_env: dict[str, str]) -> None:
    _open(cli_env)
    assert "2099" in one_line_failure(run(["remind", "--now", "9999-12-31T23:59"], cli_env), 2)


@pytest.mark.parametrize(
    "text", ["２０２６-12-22", "٢٠٢٦-١٢-٢٢", "22/12/２０２６", "२२ December 2026", "22/12/۲۰۲۶"]
)
def test_dates_with_non_ascii_digits_are_refused(cli_env: dict[str, str], text: str) -> None:
    assert "not a date" in one_line_failure(run(["deadlines", "--aware", text], cli_env), 2)


@pytest.mark.parametrize("text", ["２０２６-12-29", "2026-12-29T０９:00", "٢٠٢٦-١٢-٢٩"])
def test_remind_moment_with_non_ascii_digits_is_refused(cli_env: dict[str, str], text: str) -> None:
    assert "--now" in one_line_failure(run(["remind", "--now", text], cli_env), 2)
