"""Backup and restore (issue 16): SQLite's online backup API (a consistent copy while the
service writes), ``pg_dump``/``pg_restore`` (custom format) for PostgreSQL. The encrypted
columns are copied as they are stored: a backup holds no child detail in plain text.

Restore goes into an empty database only, and checks the backup's schema revision first: one
this version of the bot does not know (a newer bot's backup) is refused, an older one is
brought up to date by the usual migrations afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import URL, make_url

from store.db import _known_revisions, make_engine, upgrade

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


class BackupError(RuntimeError):
    """The backup or restore cannot be done; one line that says why."""


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _libpq(url: URL) -> tuple[list[str], dict[str, str]]:
    """pg_dump's connection arguments and environment (the password in PGPASSWORD, never on
    the command line where `ps` would show it)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    args = ["-h", url.host or "localhost", "-p", str(url.port or 5432)]
    if url.username:
        args += ["-U", url.username]
    return args, env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy even while the service writes."""
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def backup(database_url: str, target: Path) -> str:
    """Write a backup of the database to ``target``; returns the format ("sqlite" or "pg_dump")."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        source = _sqlite_path(url)
        if not source.exists():
            raise BackupError(f"no database at {source}")
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        _copy_sqlite(source, partial)
        os.replace(partial, target)
        return "sqlite"
    args, env = _libpq(url)
    result = subprocess.run([_tool("pg_dump"), *args, "--format=custom", "--no-owner", "--file", str(target),
                             str(url.database)], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
    return "pg_dump"


def _revision_of_sqlite(file: Path) -> str | None:
    with closing(sqlite3.connect(f"file:{file}?mode=ro", uri=True)) as conn:
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{file} is not a safeguard-bot backup ({exc})") from None
    return row[0] if row else None


def _revision_of_dump(file: Path) -> str | None:
    result = subprocess.run([_tool("pg_restore"), "--data-only", "--table=alembic_version", "--file=-", str(file)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{file} is not a readable pg_dump backup")
    match = re.search(r"^COPY public\.alembic_version .*?;\n(\S+)\n", result.stdout, re.MULTILINE)
    return match.group(1) if match else None


def _check_revision(revision: str | None, file: Path) -> None:
    if revision is None:
        raise BackupError(f"{file} holds no safeguard-bot schema (no alembic_version)")
    if revision not in _known_revisions():
        raise BackupError(f"{file} is at schema revision {revision}, which this version does not know: "
                          "restore it with the version that made it, or a newer one")


def restore(database_url: str, source: Path) -> str:
    """Restore ``source`` into the (empty) database; returns the backup's schema revision."""
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    with source.open("rb") as handle:
        magic = handle.read(16)
    url = make_url(database_url)
    sqlite_target = url.get_backend_name() == "sqlite"
    if magic.startswith(SQLITE_MAGIC) != sqlite_target or not magic.startswith((SQLITE_MAGIC, PG_MAGIC)):
        kind = "SQLite" if magic.startswith(SQLITE_MAGIC) else "pg_dump" if magic.startswith(PG_MAGIC) else "unknown"
        raise BackupError(f"{source} is a {kind} backup; the database is {url.get_backend_name()}")
    revision = _revision_of_sqlite(source) if sqlite_target else _revision_of_dump(source)
    _check_revision(revision, source)
    engine = make_engine(database_url)
    try:
        if inspect(engine).get_table_names():
            raise BackupError("the database is not empty: restore goes into an empty database only")
    finally:
        engine.dispose()
    if sqlite_target:
        _copy_sqlite(source, _sqlite_path(url))
    else:
        args, env = _libpq(url)
        result = subprocess.run([_tool("pg_restore"), *args, "--no-owner", "--exit-on-error",
                                 "--dbname", str(url.database), str(source)],
                                env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BackupError(f"pg_restore failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
    engine = make_engine(database_url)
    try:
        upgrade(engine)  # an older backup: the usual migrations bring it up to date
    finally:
        engine.dispose()
    assert revision is not None
    return revision
