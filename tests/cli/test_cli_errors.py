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

from store.db import head_revision
from tests.cli.test_cli import run

pytestmark = [pytest.mark.integration, pytest.mark.subprocess]

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


# --- the database: locked, read-only, corrupt, out of date -------------------------------------


def test_locked_database(cli_env: dict[str, str]) -> None:
    ref = _open(cli_env)
    db = _database(cli_env)
    # ?timeout= is how long SQLite waits for a lock (default 30 s).
    env = dict(cli_env, SAFEGUARD_DATABASE_URL=f"sqlite:///{db}?timeout=1")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        line = one_line_failure(run(["case", "open", "--aware", "2026-11-20"], env), 1)
        assert "locked" in line and str(db) in line
        assert "locked" in one_line_failure(run(["case", "record", ref, "panel-notified", "--on", "2026-11-23"], env), 1)
        assert "locked" in one_line_failure(run(["db", "upgrade"], env), 1)
        # Reading commands do not wait for a writer (WAL): they answer.
        assert [c["reference"] for c in json.loads(ok(run(["case", "list", "--json"], env)))] == [ref]
        assert json.loads(ok(run(["status", "--json"], env)))["reminders"]["pending"] > 0
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _read_only_url(db: Path) -> str:
    """SQLite opens the file read-only itself: holds for root, unlike file modes."""
    return f"sqlite:///file:{db}?mode=ro&uri=true"


def test_reading_commands_work_on_a_read_only_database(cli_env: dict[str, str], tmp_path: Path) -> None:
    ref = _open(cli_env)
    db = _database(cli_env)
    _close_cleanly(db)
    before = db.read_bytes()
    env = dict(cli_env, SAFEGUARD_DATABASE_URL=_read_only_url(db))
    assert [c["reference"] for c in json.loads(ok(run(["case", "list", "--json"], env)))] == [ref]
    assert json.loads(ok(run(["case", "show", ref, "--json"], env)))["reference"] == ref
    assert ref in ok(run(["case", "show", ref], env))
    assert "reminders" in json.loads(ok(run(["status", "--json"], env)))
    assert "BEGIN:VCALENDAR" in ok(run(["calendar", "-o", "-"], env))
    assert "BEGIN:VCALENDAR" in ok(run(["calendar", ref, "-o", "-"], env))
    # pack shows the child's details, and every look is audited (issue 16): it needs a writer.
    assert "read-only" in one_line_failure(run(["pack", ref], env), 1)
    assert ok(run(["db", "current"], env)).startswith(f"current: {head_revision()};")
    assert db.read_bytes() == before
    assert not (tmp_path / "file:").exists() and not (Path.cwd() / "file:").exists()


def test_writing_commands_on_a_read_only_database_say_so(cli_env: dict[str, str]) -> None:
    ref = _open(cli_env)
    env = dict(cli_env, SAFEGUARD_DATABASE_URL=_read_only_url(_database(cli_env)))
    for args in (
        ["case", "open", "--aware", "2026-11-20"],
        ["case", "record", ref, "panel-notified", "--on", "2026-11-23"],
        ["case", "snooze", ref, "panel_notification"],
        ["remind", "--now", "2026-11-25T09:00"],
    ):
        assert "read-only" in one_line_failure(run(args, env), 1), args


def test_reading_command_on_a_read_only_database_with_an_old_schema(cli_env: dict[str, str]) -> None:
    db = _database(cli_env)
    db.parent.mkdir(parents=True)
    connection = sqlite3.connect(db)
    connection.execute("CREATE TABLE unrelated (x INTEGER)")  # a SQLite file, never migrated
    connection.commit()
    connection.close()
    env = dict(cli_env, SAFEGUARD_DATABASE_URL=_read_only_url(db))
    line = one_line_failure(run(["case", "list"], env), 1)
    assert "schema" in line and "db upgrade" in line
    assert "read-only" in one_line_failure(run(["db", "upgrade"], env), 1)
    assert "current: empty" in ok(run(["db", "current"], env))


def test_reading_command_upgrades_a_writable_database_as_before(cli_env: dict[str, str]) -> None:
    db = _database(cli_env)
    db.parent.mkdir(parents=True)
    sqlite3.connect(db).close()  # an empty file: the schema is created at first use
    assert ok(run(["case", "list"], cli_env)).strip() == "No open cases."
    assert ok(run(["db", "current"], cli_env)).startswith(f"current: {head_revision()};")
    assert json.loads(ok(run(["case", "list", "--json"], cli_env))) == []


@pytest.mark.parametrize(
    "args", [["case", "list"], ["case", "show", "SG-2026-0001"], ["case", "open", "--aware", "2026-11-20"],
             ["status"], ["remind", "--now", "2026-11-25T09:00"], ["db", "upgrade"], ["db", "current"]]
)
def test_a_file_that_is_not_a_database(cli_env: dict[str, str], args: list[str]) -> None:
    db = _database(cli_env)
    db.parent.mkdir(parents=True)
    db.write_bytes(b"These are the minutes of the partnership meeting, not a database.\n" * 64)
    line = one_line_failure(run(args, cli_env), 1)
    assert "not a SQLite database" in line and str(db) in line


# --- files and directories ---------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/dev/null/deadlines.ics", "{file}/deadlines.ics", "{dir}"])
def test_calendar_to_an_unwritable_path(cli_env: dict[str, str], tmp_path: Path, target: str) -> None:
    _open(cli_env)
    regular = tmp_path / "a-file"
    regular.write_text("x")
    path = target.format(file=regular, dir=tmp_path)
    line = one_line_failure(run(["calendar", "-o", path], cli_env), 2)
    assert path in line and "cannot write" in line


@pytest.mark.parametrize(
    "args",
    [["deadlines", "--aware", "2026-11-20"], ["case", "open", "--aware", "2026-11-20"],
     ["case", "list"], ["case", "show", "{ref}"], ["case", "record", "{ref}", "panel-notified", "--on", "2026-11-23"],
     ["calendar", "-o", "-"], ["pack", "{ref}"],
     ["criteria", "--answer", "age=under_18", "--answer", "abuse_or_neglect=known", "--answer", "harm=died",
      "--answer", "location=in_area",
      "--answer", "looked_after=no", "--answer", "care_leaver_under_25=no", "--aware", "2026-11-20"],
     ["run", "--headless"]],
)
def test_a_missing_timescales_file(cli_env: dict[str, str], args: list[str]) -> None:
    ref = _open(cli_env)
    env = dict(cli_env, SAFEGUARD_TIMESCALES_FILE="/nope")
    line = one_line_failure(run([a.format(ref=ref) for a in args], env), 2)
    assert "/nope" in line and "timescales" in line


def test_a_data_dir_under_a_regular_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    regular = tmp_path / "not-a-dir"
    regular.write_text("x")
    env = dict(cli_env, SAFEGUARD_DATA_DIR=str(regular / "var"))
    for args in (["run", "--headless"], ["case", "open", "--aware", "2026-11-20"], ["case", "list"], ["db", "upgrade"]):
        line = one_line_failure(run(args, env), 1)
        assert str(regular / "var") in line, args
    ok(run(["deadlines", "--aware", "2026-11-20"], env))  # needs no data dir


@contextmanager
def read_only_tree(root: Path) -> Iterator[None]:
    """Make ``root`` and everything in it read-only in a way that holds for this user.

    Not root: file modes. Root ignores those, so: the immutable attribute, which stops root
    too; where the file system or container refuses it, the test is skipped (the mode=ro tests
    above still cover the read-only database for root).
    """
    paths = [root, *root.rglob("*")]
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    done: list[Path] = []
    try:
        for p in paths:
            result = subprocess.run(["chattr", "+i", str(p)], capture_output=True, text=True)
            if result.returncode != 0:
                pytest.skip(f"cannot make files immutable here (chattr: {result.stderr.strip()})")
            done.append(p)
        yield
    except FileNotFoundError:
        pytest.skip("chattr is not installed")
    finally:
        for p in reversed(done):
            subprocess.run(["chattr", "-i", str(p)], check=True)


def test_read_only_data_directory(cli_env: dict[str, str]) -> None:
    ref = _open(cli_env)
    data = Path(cli_env["SAFEGUARD_DATA_DIR"])
    _close_cleanly(data / "safeguard.db")
    (data / "safeguard-bot.log").write_text("")  # a directory a previous run has written to
    with read_only_tree(data):
        # Reading commands answer (WAL without its -shm file: opened immutable).
        assert [c["reference"] for c in json.loads(ok(run(["case", "list", "--json"], cli_env)))] == [ref]
        assert ref in ok(run(["case", "show", ref], cli_env))
        assert "reminders" in json.loads(ok(run(["status", "--json"], cli_env)))
        assert "BEGIN:VCALENDAR" in ok(run(["calendar", "-o", "-"], cli_env))
        assert "read-only" in one_line_failure(run(["pack", ref], cli_env), 1)  # the look is audited
        ok(run(["deadlines", "--aware", "2026-11-20"], cli_env))
        # Writing commands and the service refuse in one line.
        assert "read-only" in one_line_failure(run(["case", "open", "--aware", "2026-11-20"], cli_env), 1)
        assert "read-only" in one_line_failure(run(["remind", "--now", "2026-11-25T09:00"], cli_env), 1)
        line = one_line_failure(run(["run", "--headless"], cli_env), 1)
        assert str(data) in line


def test_reading_commands_on_postgresql(cli_env: dict[str, str], fresh_pg_url: str) -> None:
    env = dict(cli_env, SAFEGUARD_DATABASE_URL=fresh_pg_url)
    # A database never migrated: the reading command brings it up to date, as at start-up.
    assert json.loads(ok(run(["case", "list", "--json"], env))) == []
    ref = _open(env)
    assert [c["reference"] for c in json.loads(ok(run(["case", "list", "--json"], env)))] == [ref]
    assert json.loads(ok(run(["status", "--json"], env)))["reminders"]["pending"] > 0
    assert ref in ok(run(["pack", ref], env))


def test_postgresql_that_cannot_be_reached(cli_env: dict[str, str]) -> None:
    env = dict(cli_env, SAFEGUARD_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")
    for args in (["case", "list"], ["case", "open", "--aware", "2026-11-20"]):
        line = one_line_failure(run(args, env), 1)
        assert "cannot use the database" in line and "127.0.0.1" in line
