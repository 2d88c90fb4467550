"""Migrations: an empty database upgrades to head, and the models match the migrated schema."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import store.case_subjects  # noqa: F401
import store.conversations  # noqa: F401
import store.intake  # noqa: F401
import store.models  # noqa: F401
from store.db import current_revision, head_revision, is_up_to_date, make_engine, upgrade

TABLES = {"partnership", "case_file", "milestone", "deadline", "audit_log", "reminder", "outbox", "worker", "conversation", "slack_event", "case_subject", "intake_message"}


def _check(url: str) -> None:
    engine = make_engine(url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert is_up_to_date(engine)
    assert TABLES <= set(inspect(engine).get_table_names())
    upgrade(engine)  # idempotent: a second start-up changes nothing
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    engine.dispose()


def test_empty_sqlite_upgrades_to_head(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'nested' / 'db.sqlite'}")


def test_empty_postgresql_upgrades_to_head(fresh_pg_url: str) -> None:
    _check(fresh_pg_url)


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
