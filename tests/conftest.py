"""Shared fixtures: databases (SQLite always, PostgreSQL when reachable), settings, services.

PostgreSQL tests use a throw-away database per test run. They skip with a reason when no server
is reachable, except under CI=true, where a missing server is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from bot.cases import CaseService
from bot.settings import Settings, load_settings
from store import crypto
from store.db import make_engine, upgrade

# Taken out of the environment as it is read: the bot refuses any SAFEGUARD_* variable that is
# not one of its settings (a misspelt one must not fall back to a default), in this process
# and in the ``safeguard-bot`` processes the tests start with a copy of it.
PG_ADMIN_URL = os.environ.pop(
    "SAFEGUARD_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Child details are stored encrypted (store/crypto.py) and `run` refuses to start without a
# key: every test, and every process a test starts, has this one unless it says otherwise.
TEST_DATA_KEY = "k6Ly5cSTwGbUqH2XkQm0o3e4s1v8Z9r7t6y5u4i3o2A="
os.environ.setdefault("SAFEGUARD_DATA_KEY", TEST_DATA_KEY)
crypto.use_keys(crypto.parse_keys(os.environ["SAFEGUARD_DATA_KEY"]))  # for Settings(...) built directly


def require_server(available: bool, reason: str) -> None:
    """Skip when a server is missing, unless under CI, where it must be there."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run)")
    pytest.skip(reason)


def _pg_admin_engine() -> Engine | None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        engine.dispose()
        return None
    return engine


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped afterwards."""
    admin = _pg_admin_engine()
    require_server(admin is not None, f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    assert admin is not None
    name = f"sgbot_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def fresh_pg_url(pg_url: str) -> Iterator[str]:
    """A PostgreSQL database of its own for one test (for migration and concurrency tests)."""
    admin = _pg_admin_engine()
    assert admin is not None
    name = f"sgbot_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _reset_pg(engine: Engine) -> None:
    """Empty every table between tests (the audit log's triggers are bypassed for cleanup)."""
    with engine.begin() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
        ]
        if tables:
            conn.execute(text("SET session_replication_role = replica"))
            conn.execute(text("DELETE FROM " + "; DELETE FROM ".join(f'"{t}"' for t in tables)))
            conn.execute(text("SET session_replication_role = DEFAULT"))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An upgraded database engine: each test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
        upgrade(eng)
        yield eng
        eng.dispose()
        return
    url = request.getfixturevalue("pg_url")
    eng = make_engine(url)
    upgrade(eng)
    _reset_pg(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "var")


@pytest.fixture
def cases(engine: Engine, settings: Settings) -> CaseService:
    return CaseService(engine, settings)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running the real ``safeguard-bot`` entry point against a temp data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEGUARD_") or k == "SAFEGUARD_DATA_KEY"}
    env["SAFEGUARD_DATA_DIR"] = str(tmp_path / "var")
    return env


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that touches PostgreSQL (the ``engine`` fixture's postgresql half, or a
    database of its own) as ``postgresql`` and ``integration``, so ``pytest -m "not integration"``
    runs only what needs no server and no subprocess. Modules that start servers or the real
    entry point mark themselves (``pytestmark``)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_pg = bool(callspec and callspec.params.get("engine") == "postgresql")
        fixtures = set(getattr(item, "fixturenames", ()))
        if on_pg or {"pg_url", "fresh_pg_url"} & fixtures:
            item.add_marker(pytest.mark.postgresql)
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _data_key() -> Iterator[None]:
    """The test data key in this process's keyring for every test: a test that loads settings
    without one (the settings tests clear SAFEGUARD_*) must not leave the next without it."""
    crypto.use_keys([TEST_DATA_KEY])
    yield
    crypto.use_keys([TEST_DATA_KEY])
