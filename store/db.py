"""Engines, sessions and schema upgrades for SQLite (default) and PostgreSQL.

SQLite runs in WAL mode with foreign keys on and a busy timeout, so the CLI and the service
can share one file. PostgreSQL is used when several workers share the load.

Commands that only read (``case list``, ``status``...) open the database read-only and never
migrate a current schema, so they work on a read-only copy, under a read-only mount, and while
another process holds the write lock. Environment failures (locked, read-only, not a database,
unreachable) are described in one line by ``describe_error`` for the command line.

Alembic is imported only to migrate: whether the schema is current is a plain query of the
``alembic_version`` table compared with the head read from the migration files as text
(store/revisions.py), so a command on a current schema never loads Alembic, Mako or Pygments.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from store import revisions

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 0x5AFE_B07  # arbitrary, fixed advisory-lock key for schema upgrades
# How long SQLite waits for another process's write lock, unless the URL says (?timeout=N).
DEFAULT_SQLITE_TIMEOUT = 30.0


class DatabaseUnavailable(RuntimeError):
    """The database cannot be used as asked (its schema is not current and cannot be brought up
    to date here, or it is newer than this code); the message is one line naming it."""


def _sqlite_file(parsed: URL) -> Path | None:
    """The database file of a plain SQLite URL; None for :memory: and ``file:`` URIs (those
    are passed to SQLite as written)."""
    database = parsed.database
    if not database or database == ":memory:" or parsed.query.get("uri") in ("true", "1"):
        return None
    return Path(database)


def _sqlite_timeout(parsed: URL) -> float:
    try:
        return float(parsed.query.get("timeout", DEFAULT_SQLITE_TIMEOUT))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_SQLITE_TIMEOUT


def missing_sqlite_file(url: str) -> bool:
    """Whether ``url`` names a SQLite file that does not exist (yet)."""
    parsed = make_url(url)
    file = _sqlite_file(parsed) if parsed.get_backend_name() == "sqlite" else None
    return file is not None and not file.exists()


def database_label(url: str) -> str:
    """How error messages name the database: the SQLite file, else the URL without password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        file = _sqlite_file(parsed)
        return str(file.resolve()) if file is not None else str(parsed.database)
    return parsed.render_as_string(hide_password=True)


def _open_sqlite_read_only(file: Path, timeout: float) -> sqlite3.Connection:
    """A read-only connection to ``file`` that works in a directory nobody may write to.

    ``mode=ro`` lets SQLite refuse every write itself. A WAL database needs its -shm file,
    which a read-only connection cannot create in a read-only directory; when that is the only
    obstacle and there is no -wal file (so nothing is waiting to be checkpointed and no writer
    is connected), the file is opened ``immutable``: read as it is, without locks.
    """
    uri = file.resolve().as_uri()
    connection = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout, check_same_thread=False)
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the WAL
        return connection
    except sqlite3.OperationalError as exc:
        connection.close()
        wal = Path(f"{file}-wal")
        if exc.sqlite_errorname != "SQLITE_CANTOPEN" or not file.is_file():
            raise
        if wal.exists() and wal.stat().st_size > 0:
            raise
    except BaseException:
        connection.close()
        raise
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=timeout, check_same_thread=False)


def make_engine(url: str, *, pool_size: int = 5, read_only: bool = False) -> Engine:
    """An engine for ``url``; creates the SQLite file's folder when needed.

    ``read_only``: connections that cannot write (SQLite ``mode=ro``, PostgreSQL read-only
    transactions) and do not take SQLite's write lock, for commands that only read.
    ``?timeout=N`` on a SQLite URL is how long to wait for another writer (default 30 s).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        file = _sqlite_file(parsed)
        timeout = _sqlite_timeout(parsed)
        if read_only and file is not None:
            engine = create_engine(
                URL.create("sqlite", database=str(file)),
                creator=lambda: _open_sqlite_read_only(file, timeout),
            )
        else:
            if file is not None and not read_only:
                file.parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": timeout})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            if not read_only:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            if not read_only:
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection) -> None:  # type: ignore[no-untyped-def]
            # Writers take the write lock up front: two read-then-write transactions can then
            # never deadlock on the lock upgrade, they simply queue (busy_timeout). Readers
            # take no lock at all in WAL mode, so they never wait for a writer.
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    connect_args: dict[str, Any] = {}
    if read_only:  # keep any options the URL sets (search_path...), add read-only transactions
        options = str(parsed.query.get("options", "")).strip()
        connect_args["options"] = f"{options} -c default_transaction_read_only=on".strip()
    return create_engine(url, pool_size=pool_size, pool_pre_ping=True, connect_args=connect_args)


def open_database(url: str, *, writing: bool = True) -> Engine:
    """An engine on a database whose schema is current.

    Writing (the default, and the service): the schema is upgraded when it is not current,
    as at every start-up. Reading: a read-only engine; a current schema is used as it is (no
    migration, no write lock), an out-of-date one is upgraded only if the database can be
    written, else DatabaseUnavailable says so in one line. A SQLite file that does not exist
    yet is created either way (a fresh machine's ``case list`` answers "No open cases.").
    """
    if writing or missing_sqlite_file(url):
        engine = make_engine(url)
        if not is_up_to_date(engine):
            _check_known(engine, url)
            upgrade(engine)
        return engine
    reader = make_engine(url, read_only=True)
    if is_up_to_date(reader):
        return reader
    _check_known(reader, url)
    writer = make_engine(url)
    try:
        upgrade(writer)
    except DBAPIError as exc:
        if describe_error(exc, url) is None:
            raise
        current = current_revision(reader)
        raise DatabaseUnavailable(
            f"the database {database_label(url)} has schema {current or 'none'}, not the "
            f"latest ({head_revision()}), and cannot be upgraded here ({str(exc.orig).strip()}): "
            "run `safeguard-bot db upgrade` where it can be written"
        ) from None
    finally:
        writer.dispose()
    return reader


def _check_known(engine: Engine, url: str) -> None:
    """Refuse a schema newer than this code (a newer safeguard-bot migrated it)."""
    current = current_revision(engine)
    if current is not None and current not in _known_revisions():
        raise DatabaseUnavailable(
            f"the database {database_label(url)} has schema {current}, which this version of "
            "safeguard-bot does not know (a newer version migrated it): upgrade safeguard-bot"
        )


def _known_revisions() -> set[str]:
    return revisions.known_revisions()


def describe_error(exc: BaseException, url: str) -> str | None:
    """One line for a database failure that is about the machine, not the code; else None.

    Locked, read-only, not a database, corrupt, cannot be opened, disk full, server
    unreachable: the person running the command can act on each. Anything else (an integrity
    error, a bug) is left to surface as it is.
    """
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    where = database_label(url)
    name = str(getattr(orig, "sqlite_errorname", "") or "")
    detail = str(orig).splitlines()[0] if str(orig) else type(orig).__name__
    if name:
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            waited = _sqlite_timeout(make_url(url))
            return (
                f"the database {where} is locked by another process (waited {waited:g} s); "
                "try again when it has finished"
            )
        if name.startswith("SQLITE_READONLY") or (name.startswith("SQLITE_CANTOPEN") and _read_only_file(url)):
            return f"the database {where} is read-only ({detail}); this command needs to write to it"
        if name == "SQLITE_NOTADB":
            return f"{where} is not a SQLite database ({detail}); check SAFEGUARD_DATABASE_URL and SAFEGUARD_DATA_DIR"
        if name.startswith("SQLITE_CORRUPT"):
            return f"the database {where} is corrupt ({detail}); restore it from a backup"
        if name.startswith(("SQLITE_CANTOPEN", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_PERM", "SQLITE_AUTH")):
            return f"cannot use the database {where} ({detail})"
        return None
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate == "25006":  # read_only_sql_transaction
        return f"the database {where} is read-only ({detail}); this command needs to write to it"
    if isinstance(exc, OperationalError):  # e.g. PostgreSQL unreachable, or refused us
        return f"cannot use the database {where} ({detail})"
    return None


def _read_only_file(url: str) -> bool:
    """Whether the SQLite file exists but this process may not write it or its directory
    (which SQLite needs for the -wal and -shm files)."""
    file = _sqlite_file(make_url(url))
    if file is None or not file.exists():
        return False
    return not (os.access(file, os.W_OK) and os.access(file.parent, os.W_OK))


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates %: a URL-encoded path (file%3A...) must not be read as a template.
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to call at every start-up."""
    from alembic import command

    config = _alembic_config(engine)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several workers starting at once: one migrates, the others wait and find it done.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


VERSION_TABLE = "alembic_version"  # Alembic's default; env.py does not change it


def current_revision(engine: Engine) -> str | None:
    """The schema's revision, None for an empty database: what Alembic's MigrationContext
    answers, read with a plain query so that checking a current schema never imports Alembic."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
        if len(rows) <= 1:
            return rows[0] if rows else None
        # Several heads stamped (branches): let Alembic answer, and refuse, as it always has.
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The latest revision this code knows, read from the migration files as text."""
    return revisions.head_revision()


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def advisory_lock(session: Session, name: str) -> None:
    """Hold a lock named ``name`` until the session's transaction ends, so PostgreSQL workers
    handling the same thing (one message, one sender, one form content) take turns instead of
    both acting on it. SQLite needs none: every writer already holds the database's write lock
    from BEGIN IMMEDIATE (make_engine)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends normally, rolled back otherwise."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
