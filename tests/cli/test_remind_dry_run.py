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
        (ref, "panel_notification", "overdue"), (ref, "partners_notification", "overdue"),
        (ref, "rapid_review", "before")}  # 10 working days before its due date (config/reminders.toml)
    assert all(i["why"] and i["recipients"] for i in preview)
    again = cli.ok("remind", "--dry-run", "--now", "2026-11-10T10:00", "--json").json
    assert again == preview
    human = cli.ok("remind", "--dry-run", "--now", "2026-11-10T10:00").out
    assert "nothing was sent" in human and "working day overdue" in human
    real = cli.ok("remind", "--now", "2026-11-10T10:00", "--json")
    sent = real.json
    assert sent == preview  # the real sweep sends exactly what the preview said
    assert cli.ok("remind", "--dry-run", "--now", "2026-11-10T10:00", "--json").json == []
    assert "not a working day" in cli.ok("remind", "--dry-run", "--now", "2026-11-14T10:00").out


def test_dry_run_without_a_database_creates_none(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAFEGUARD_DATABASE_URL")
    monkeypatch.setenv("SAFEGUARD_DATA_DIR", str(tmp_path / "empty"))
    assert "no database at" in cli.error(1, "remind", "--dry-run")
    assert not (tmp_path / "empty").exists()


def _team_config(tmp_path: Path, *, slack: bool = False) -> Path:
    config = tmp_path / "team.toml"
    config.write_text(
        '[[partnerships]]\nkey = "northtown"\nname = "Northtown Safeguarding Children Partnership"\n'
        'team_email = "safeguarding-team@northtown.gov.uk"\n'
        + ('slack_channel = "C0123CHAN"\n' if slack else "")
    )
    return config


@pytest.mark.integration  # a real SMTP server (aiosmtpd)
def test_an_email_only_partnership_gets_its_reminders_threaded_with_the_step(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from email.message import Message

    from tests.support.smtp_server import SmtpServer

    monkeypatch.setenv("SAFEGUARD_CONFIG_FILE", str(_team_config(tmp_path)))
    with SmtpServer() as server:
        monkeypatch.setenv("SAFEGUARD_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SAFEGUARD_SMTP_PORT", str(server.port))
        monkeypatch.setenv("SAFEGUARD_SMTP_STARTTLS", "false")
        ref = cli.open("2026-11-02")
        sent = cli.ok("remind", "--now", "2026-11-05T10:00", "--json").json
        assert {r["recipient"] for item in sent for r in item["recipients"]} == {
            "safeguarding-team@northtown.gov.uk"}
        assert all(r["transport"] == "email" for item in sent for r in item["recipients"])
        messages = server.wait_for(2)
        cli.ok("remind", "--now", "2026-11-10T10:00")  # the escalations, the day after
        messages = server.wait_for(4)
        digest = cli.ok("digest", "--now", "2026-11-09T09:30", "--force")
        assert "Northtown" in digest.out or ref in digest.out
        messages = server.wait_for(5)
    reminders = [m for m in messages if ref in str(m["Subject"])]
    assert len(reminders) >= 4
    threads = {str(m["References"]) for m in reminders}
    assert threads == {f"<case-{ref.lower()}@localhost>"}
    assert all(str(m["In-Reply-To"]) == f"<case-{ref.lower()}@localhost>" for m in reminders)
    assert len({str(m["Message-ID"]) for m in reminders}) == len(reminders)

    def calendars(message: Message) -> list[bytes]:
        return [part.get_payload(decode=True) for part in message.walk()
                if part.get_content_type() == "text/calendar"]

    for message in reminders:
        (ics,) = calendars(message)
        assert ref.encode() in ics and b"BEGIN:VEVENT" in ics and b"Testchild" not in ics
    assert any(str(m["To"]) == "safeguarding-team@northtown.gov.uk" and "week of" in str(m["Subject"])
               for m in messages)


def test_team_email_as_well_as_slack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.routing import Router
    from bot.settings import load_settings

    for name in [n for n in __import__("os").environ if n.startswith("SAFEGUARD_") and n != "SAFEGUARD_DATA_KEY"]:
        monkeypatch.delenv(name)
    settings = load_settings(_team_config(tmp_path, slack=True), slack_bot_token="xoxb-test")
    router = Router(settings)
    assert router("northtown", "channel", None) == [
        ("slack", "C0123CHAN"), ("folder", "safeguarding-team@northtown.gov.uk")]
    without_slack = Router(load_settings(_team_config(tmp_path, slack=True)))
    assert without_slack("northtown", "channel", None) == [("folder", "safeguarding-team@northtown.gov.uk")]
    neither = Router(load_settings(data_dir=tmp_path))
    assert neither("default", "channel", None) == [("folder", "#default")]


def test_a_real_sweep_in_the_future_warns_that_it_uses_reminders_up(cli: Cli) -> None:
    cli.open("2026-11-02")
    assert "--now is in the future" in cli.ok("remind", "--now", "2099-01-05T10:00", "--json").err
    assert "--now is in the future" not in cli.ok("remind", "--dry-run", "--now", "2099-01-06T10:00").err
