"""remind --dry-run and e-mail-only partnerships, in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.support.cli import Cli, cli_on


@pytest.fixture
def cli(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Cli:
    return cli_on(engine, tmp_path, monkeypatch, capsys)


def _counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(text("SELECT count(*) FROM reminder WHERE status = 'pending'")).scalar_one(),
            conn.execute(text("SELECT count(*) FROM outbox")).scalar_one(),
            conn.execute(text("SELECT count(*) FROM reminder")).scalar_one(),
        )


def test_dry_run_shows_the_same_and_uses_nothing_up(cli: Cli, engine: Engine, tmp_path: Path) -> None:
    ref = cli.open("2026-11-02")
    before = _counts(engine)
    preview = cli.ok("remind", "--dry-run", "--now", "2026-11-10T10:00", "--json").json
    assert _counts(engine) == before
    outbox = tmp_path / "var" / "outbox"
    assert not outbox.exists() or not list(outbox.iterdir())
    assert {(i["case"], i["deadline"], i["occasion"]) for i in preview} == {
        (ref, "panel_notification", "overdue"), (ref, "partners_notification", "overdue")}
    assert all(i["why"] and i["recipients"] for i in preview)
    again = cli.ok("remind", "--dry-run", "--now", "2026-11-10T10:00", "--json").json
    assert again == preview
    human = cli.ok("remind", "--dry-run", "--now", "2026-11-10T10:00").out
    assert "nothing was sent" in human and "working day overdue" in human
    sent = cli.ok("remind", "--now", "2026-11-10T10:00", "--json").json
    assert sent == preview  # the real sweep sends exactly what the preview said
    assert cli.ok("remind", "--dry-run", "--now", "2026-11-10T10:00", "--json").json == []
    assert "not a working day" in cli.ok("remind", "--dry-run", "--now", "2026-11-14T10:00").out


def test_dry_run_without_a_database_creates_none(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAFEGUARD_DATABASE_URL")
    monkeypatch.setenv("SAFEGUARD_DATA_DIR", str(tmp_path / "empty"))
    assert "no database at" in cli.error(1, "remind", "--dry-run")
    assert not (tmp_path / "empty").exists()
