"""Mail intake settings: mailboxes, the sender allow-list, and one-line errors at start-up."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings
from tests.cli.test_cli import run

pytestmark = [pytest.mark.integration, pytest.mark.subprocess]


def test_defaults_watch_the_inbox_folder_and_allow_public_sector_domains() -> None:
    settings = load_settings()
    assert settings.imap_mailboxes() == []
    assert settings.sender_domains == ["gov.uk", "nhs.net", "nhs.uk", "police.uk", "sch.uk"]
    assert settings.sender_allowed("Trust.NHS.net") and settings.sender_allowed("northtown.gov.uk")
    assert not settings.sender_allowed("evilnhs.net") and not settings.sender_allowed("gov.uk.example.com")
    assert not settings.sender_allowed(None)


def test_environment_configures_imap_and_domains(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEGUARD_IMAP_HOST", "imap.example.gov.uk")
    monkeypatch.setenv("SAFEGUARD_IMAP_USERNAME", "scp")
    monkeypatch.setenv("SAFEGUARD_IMAP_PASSWORD", "hunter2")
    monkeypatch.setenv("SAFEGUARD_SENDER_DOMAINS", "gov.uk, @Example.ORG")
    monkeypatch.setenv("SAFEGUARD_MAILBOXES",
                       '[{"name": "second", "host": "h2", "username": "u", "password": "p", "security": "starttls"}]')
    settings = load_settings()
    first, second = settings.imap_mailboxes()
    assert (first.name, first.resolved_port, first.processed_folder) == ("default", 993, "Processed")
    assert (second.name, second.resolved_port) == ("second", 143)
    assert "hunter2" not in repr(settings)
    assert settings.sender_domains == ["gov.uk", "example.org"]


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"imap_host": "h"}, "imap_username/imap_password"),
        ({"mailboxes": [{"host": "h", "username": "u", "password": "p", "partnership": "nope"}]},
         "unknown partnership 'nope'"),
    ],
)
def test_incomplete_mailboxes_are_refused(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        load_settings(**overrides).imap_mailboxes()


def test_bad_domain_names_the_key() -> None:
    with pytest.raises(SettingsError, match="sender_domains"):
        load_settings(sender_domains=["not a domain"])


def test_run_refuses_an_incomplete_mailbox_in_one_line(cli_env: dict[str, str]) -> None:
    result = run(["run", "--headless"], dict(cli_env, SAFEGUARD_IMAP_HOST="imap.example.gov.uk"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith("both are needed when imap_host is set")
    assert "Traceback" not in result.stderr
