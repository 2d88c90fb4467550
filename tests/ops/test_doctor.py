"""``safeguard-bot doctor`` against the real Dovecot, aiosmtpd and the Slack Web API stand-in,
each once with a good setting and once with a broken one (issue 16 item 6)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store.db import make_engine, upgrade
from tests.conftest import require_server
from tests.support.cli import cli_on
from tests.support.dovecot import DOVECOT, PASSWORD, Dovecot
from tests.support.slack_api import SlackApi, free_port
from tests.support.smtp_server import SmtpServer


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    require_server(DOVECOT is not None, "dovecot is not installed (apt-get install dovecot-imapd)")
    server = Dovecot().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def servers(dovecot: Dovecot) -> Iterator[tuple[Dovecot, SmtpServer, SlackApi]]:
    slack = SlackApi().start()
    with SmtpServer() as smtp:
        yield dovecot, smtp, slack
    slack.stop()


@pytest.mark.integration
@pytest.mark.dovecot
def test_doctor_one_line_per_part_and_exit_1_on_a_broken_setting(
        servers: tuple[Dovecot, SmtpServer, SlackApi], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    dovecot, smtp, slack = servers
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")  # the database is not what is tested here
    upgrade(engine)
    cli = cli_on(engine, tmp_path, monkeypatch, capsys)
    user = dovecot.add_user()
    good = {"SAFEGUARD_IMAP_HOST": "127.0.0.1", "SAFEGUARD_IMAP_PORT": str(dovecot.port),
            "SAFEGUARD_IMAP_USERNAME": user, "SAFEGUARD_IMAP_PASSWORD": PASSWORD,
            "SAFEGUARD_IMAP_SECURITY": "plain",
            "SAFEGUARD_SMTP_HOST": "127.0.0.1", "SAFEGUARD_SMTP_PORT": str(smtp.port),
            "SAFEGUARD_SMTP_STARTTLS": "false", "SAFEGUARD_SMTP_AUTH": "none",
            "SAFEGUARD_SLACK_BOT_TOKEN": "xoxb-good", "SAFEGUARD_SLACK_API_BASE_URL": slack.base_url}
    for name, value in good.items():
        monkeypatch.setenv(name, value)
    result = cli("doctor")
    assert result.code == 0, result.out
    lines = result.out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok    settings", "ok    database", "ok    data key", "ok    imap mailbox default", "ok    smtp",
        "ok    slack"]
    assert PASSWORD not in result.out and "xoxb-good" not in result.out
    assert slack.calls_to("auth.test")

    broken = {"SAFEGUARD_IMAP_PASSWORD": ("wrong-password", "imap mailbox default"),
              "SAFEGUARD_SMTP_PORT": (str(free_port()), "smtp")}
    for name, (value, part) in broken.items():
        monkeypatch.setenv(name, value)
        failed = cli("doctor")
        assert failed.code == 1
        [line] = [line for line in failed.out.splitlines() if line.startswith("FAIL")]
        assert line.startswith(f"FAIL  {part}:") and "wrong-password" not in line
        monkeypatch.setenv(name, good[name])
    slack.fail_next("auth.test", 200, {"ok": False, "error": "invalid_auth"})  # a revoked token
    failed = cli("doctor")
    assert failed.code == 1
    [line] = [line for line in failed.out.splitlines() if line.startswith("FAIL")]
    assert line.startswith("FAIL  slack:") and "invalid_auth" in line

    monkeypatch.delenv("SAFEGUARD_DATA_KEY")
    failed = cli("doctor")
    assert failed.code == 1 and "FAIL  data key: none configured" in failed.out
    monkeypatch.setenv("SAFEGUARD_DATABASE_URLL", "x")  # a misspelt setting: settings fail, one line
    failed = cli("doctor")
    assert failed.code == 1 and failed.out.startswith("FAIL  settings:") and len(failed.out.splitlines()) == 1
