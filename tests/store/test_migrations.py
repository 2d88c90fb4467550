"""Migrations: an empty database upgrades to head, and the models match the migrated schema."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel

import store.models  # noqa: F401  (every table: the same single import env.py makes)
from store import revisions as revision_files
from store.db import MIGRATIONS_DIR, current_revision, head_revision, is_up_to_date, make_engine, upgrade

TABLES = {"partnership", "case_file", "milestone", "deadline", "audit_log", "reminder", "outbox", "worker", "conversation", "slack_event", "case_subject", "intake_message",
          "mail_sync_state", "rapid_review", "rapid_review_agency", "rapid_review_file", "rapid_review_signoff",
          "teams_conversation"}


def _check(url: str) -> None:
    engine = make_engine(url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    read = current_revision(engine)
    with engine.connect() as conn:  # the plain query agrees with Alembic's own reading
        assert MigrationContext.configure(conn).get_current_revision() == read
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


def _legacy_ledger_row_survives(url: str) -> None:
    """A row written before 0006 keeps matching its message on the Message-ID alone (a message
    committed just before the upgrade and re-fetched after it is still a duplicate), while two
    different messages may now share a Message-ID."""
    from datetime import UTC, datetime

    from sqlalchemy import text
    from sqlmodel import Session

    from store import intake as ledger

    engine = make_engine(url)
    upgrade(engine, "0005_intake")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO intake_message (message_id, status, mailbox, received_at, processed_at) "
            "VALUES ('<old@x>', 'opened', 'inbox', :t, :t)"), {"t": datetime(2026, 11, 30, tzinfo=UTC)})
    upgrade(engine)
    with Session(engine) as session:
        row = ledger.by_identity(session, "<old@x>", "a" * 64)
        assert row is not None and row.message_sha256 is None
        received = datetime(2026, 12, 1, tzinfo=UTC)
        for digest in ("b" * 64, "c" * 64):
            ledger.record(session, message_id="<new@x>", message_sha256=digest, status="opened",
                          mailbox="inbox", received_at=received)
        session.commit()
        assert ledger.by_identity(session, "<new@x>", "c" * 64).message_sha256 == "c" * 64  # type: ignore[union-attr]
    engine.dispose()


def test_intake_identity_migration_keeps_legacy_rows_sqlite(tmp_path: Path) -> None:
    _legacy_ledger_row_survives(f"sqlite:///{tmp_path / 'legacy.db'}")


def test_intake_identity_migration_keeps_legacy_rows_postgresql(fresh_pg_url: str) -> None:
    _legacy_ledger_row_survives(fresh_pg_url)


# Deployed databases record these ids in alembic_version: renaming one strands them.
REVISIONS = [
    "0001",
    "0002_conversations",
    "0004",
    "0005_intake",
    "0006_intake_identity",
    "0007_intake_replies",
    "0008_slack_submission",
]


def test_migration_chain_is_linear_and_keeps_deployed_revision_ids() -> None:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())  # head first
    assert all(len(r._all_down_revisions) <= 1 for r in revisions)
    assert revisions[-1].down_revision is None
    chain = [r.revision for r in reversed(revisions)]
    assert chain[: len(REVISIONS)] == REVISIONS, "a deployed revision id was renamed or re-ordered"
    for older, newer in zip(reversed(revisions), list(reversed(revisions))[1:]):
        assert newer.down_revision == older.revision


def test_models_module_alone_registers_every_table() -> None:
    """env.py imports store.models only: every table must be defined there, none elsewhere
    (a fresh interpreter, so tables other modules registered in this one cannot hide a gap)."""
    import subprocess
    import sys

    probe = (
        "import store.models\n"
        "from sqlmodel import SQLModel\n"
        "print(' '.join(sorted(SQLModel.metadata.tables)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert set(out.split()) == TABLES
    env = (Path(store.models.__file__).parent / "migrations" / "env.py").read_text()
    store_imports = [line for line in env.splitlines() if line.startswith(("import store", "from store"))]
    assert [line.split("#")[0].strip() for line in store_imports] == ["import store.models"]


def test_no_table_is_defined_outside_the_models_module() -> None:
    from sqlmodel import SQLModel

    import store.case_subjects  # noqa: F401
    import store.conversations  # noqa: F401
    import store.intake  # noqa: F401

    modules = {
        mapper.class_.__module__
        for mapper in SQLModel._sa_registry.mappers  # type: ignore[attr-defined]
        if getattr(mapper.class_, "__table__", None) is not None
        and mapper.class_.__module__.startswith("store")
    }
    assert modules == {"store.models"}


def test_revisions_read_as_text_agree_with_alembic() -> None:
    """store/revisions.py reads the chain without Alembic (fast start-up); it must be Alembic's."""
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    assert revision_files.head_revision() == scripts.get_current_head()
    assert revision_files.known_revisions() == {script.revision for script in scripts.walk_revisions()}
    assert revision_files.read_chain() == {
        script.revision: tuple(script._all_down_revisions) for script in scripts.walk_revisions()
    }


def test_revisions_refuse_a_forked_chain(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (tmp_path / "b.py").write_text("revision = 'b'\ndown_revision = 'a'\n")
    (tmp_path / "c.py").write_text('revision: str = "c"\ndown_revision = "a"  # a second head\n')
    try:
        revision_files.head_revision(tmp_path)
    except revision_files.RevisionsUnreadable as exc:
        assert "2 heads (b, c)" in str(exc)
    else:
        raise AssertionError("a forked chain must be refused")
    assert revision_files.known_revisions(tmp_path) == {"a", "b", "c"}
