"""Microsoft 365 sign-in settings: the names, the defaults, per-mailbox overrides, one-line errors.

No server: what a token request would need is checked before any is made (bot.oauth)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.oauth import OAuthConfig, configs_in_use
from bot.settings import SettingsError, load_settings
from handlers.transports import build_transports

TENANT = "11111111-2222-3333-4444-555555555555"


def test_defaults_are_password_sign_in_and_microsofts_authority() -> None:
    settings = load_settings()
    assert (settings.imap_auth, settings.smtp_auth, settings.mail_backend) == ("password", "password", "imap")
    assert settings.oauth_authority_host == "https://login.microsoftonline.com"
    assert settings.oauth_scope == "https://outlook.office365.com/.default"
    assert settings.trusted_authserv_id is None
    assert configs_in_use(settings) == []


def test_the_environment_names_are_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"IMAP_HOST": "outlook.office365.com", "IMAP_USERNAME": "scp@council.gov.uk",
                       "IMAP_AUTH": "oauth2", "SMTP_HOST": "smtp.office365.com", "SMTP_AUTH": "oauth2",
                       "SMTP_USERNAME": "scp@council.gov.uk", "OAUTH_TENANT_ID": TENANT,
                       "OAUTH_CLIENT_ID": "app", "OAUTH_CLIENT_SECRET": "s3cret-value",
                       "OAUTH_AUTHORITY_HOST": "https://login.microsoftonline.us",
                       "OAUTH_SCOPE": "https://outlook.office365.us/.default", "MAIL_BACKEND": "imap",
                       "TRUSTED_AUTHSERV_ID": "mx.microsoft.com"}.items():
        monkeypatch.setenv(f"SAFEGUARD_{key}", value)
    settings = load_settings()
    [box] = settings.imap_mailboxes()
    assert box.auth == "oauth2" and box.password is None
    used = configs_in_use(settings)
    assert len(used) == 2 and used[0][1] == used[1][1]  # one registration: one provider, one cache
    config = used[0][1]
    assert config.authority == f"https://login.microsoftonline.us/{TENANT}"
    assert config.scope == "https://outlook.office365.us/.default"
    assert "s3cret-value" not in repr(settings) and "s3cret-value" not in repr(config)


def test_a_mailbox_can_name_its_own_registration() -> None:
    settings = load_settings(oauth_tenant_id=TENANT, oauth_client_id="shared", oauth_client_secret="a",
                             mailboxes=[{"name": "north", "host": "outlook.office365.com", "username": "n@x.gov.uk",
                                         "auth": "oauth2", "oauth_client_id": "north-app",
                                         "oauth_client_secret": "b"}])
    [(_, config)] = configs_in_use(settings)
    assert (config.tenant_id, config.client_id, config.client_secret) == (TENANT, "north-app", "b")
    assert "mailboxes[north].oauth_client_id" in config.setting("client_id")


@pytest.mark.parametrize(("overrides", "fragment"), [
    ({}, "bad setting oauth_tenant_id (SAFEGUARD_OAUTH_TENANT_ID): needed with mailbox default"),
    ({"oauth_tenant_id": TENANT}, "bad setting oauth_client_id (SAFEGUARD_OAUTH_CLIENT_ID)"),
    ({"oauth_tenant_id": TENANT, "oauth_client_id": "c"}, "bad setting oauth_client_secret (SAFEGUARD_OAUTH_CLIENT_SECRET)"),
    ({"oauth_tenant_id": TENANT, "oauth_client_id": "c", "oauth_client_secret": "s",
      "oauth_certificate_file": "/etc/hostname"}, "not both"),
    ({"oauth_tenant_id": TENANT, "oauth_client_id": "c", "oauth_certificate_file": "/nonexistent.pem",
      "oauth_certificate_thumbprint": "AB"}, "bad setting oauth_certificate_file (SAFEGUARD_OAUTH_CERTIFICATE_FILE): cannot read"),
    ({"oauth_tenant_id": TENANT, "oauth_client_id": "c", "oauth_certificate_file": "/etc/hostname"},
     "SAFEGUARD_OAUTH_CERTIFICATE_THUMBPRINT"),
    ({"oauth_tenant_id": TENANT, "oauth_client_id": "c", "oauth_client_secret": "s",
      "oauth_authority_host": "http://login.example"}, "must be https://host"),
])
def test_an_incomplete_registration_is_refused_in_one_line(overrides: dict[str, object], fragment: str) -> None:
    settings = load_settings(imap_host="outlook.office365.com", imap_username="scp@x.gov.uk", imap_auth="oauth2",
                             **overrides)
    [(needed_by, config)] = configs_in_use(settings)
    with pytest.raises(SettingsError) as raised:
        config.check(needed_by)
    assert fragment in str(raised.value) and "\n" not in str(raised.value)


def test_a_certificate_file_without_a_private_key_is_refused(tmp_path: Path) -> None:
    pem = tmp_path / "cert.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    config = OAuthConfig.of(load_settings(oauth_tenant_id=TENANT, oauth_client_id="c", oauth_certificate_file=pem,
                                          oauth_certificate_thumbprint="AB"))
    with pytest.raises(SettingsError, match="holds no unencrypted PEM private key"):
        config.check("SAFEGUARD_SMTP_AUTH=oauth2")


def test_smtp_auth_none_sends_no_credentials_and_oauth2_needs_the_mailbox() -> None:
    transport = build_transports(load_settings(smtp_host="relay.x.gov.uk", smtp_username="u", smtp_password="p",
                                               smtp_auth="none"))["email"]
    assert (transport.username, transport.password, transport.tokens) == (None, None, None)  # type: ignore[attr-defined]
    with pytest.raises(SettingsError, match="smtp_username"):
        build_transports(load_settings(smtp_host="smtp.office365.com", smtp_auth="oauth2"))
    oauth = build_transports(load_settings(smtp_host="smtp.office365.com", smtp_auth="oauth2",
                                           smtp_from="SCP <scp@x.gov.uk>", oauth_tenant_id=TENANT,
                                           oauth_client_id="c", oauth_client_secret="s"))["email"]
    assert oauth.username == "scp@x.gov.uk" and oauth.tokens is not None  # type: ignore[attr-defined]


def test_run_stops_on_an_incomplete_registration_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SAFEGUARD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SAFEGUARD_SMTP_HOST", "smtp.office365.com")
    monkeypatch.setenv("SAFEGUARD_SMTP_AUTH", "oauth2")
    monkeypatch.setenv("SAFEGUARD_SMTP_USERNAME", "scp@x.gov.uk")
    capsys.readouterr()
    assert main(["run", "--headless"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "SAFEGUARD_OAUTH_TENANT_ID" in line


def test_the_graph_backend_needs_a_registration_and_uses_graphs_scope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(mail_backend="graph", imap_username="scp@x.gov.uk", oauth_tenant_id=TENANT,
                             oauth_client_id="c", oauth_client_secret="s")
    [(_, config)] = configs_in_use(settings)
    assert config.scope == "https://graph.microsoft.com/.default"
    us = load_settings(mail_backend="graph", imap_username="scp@x.gov.uk", graph_base_url="https://graph.microsoft.us/v1.0")
    assert configs_in_use(us)[0][1].scope == "https://graph.microsoft.us/.default"
    explicit = load_settings(mail_backend="graph", imap_username="scp@x.gov.uk", oauth_scope="https://other/.default")
    assert configs_in_use(explicit)[0][1].scope == "https://other/.default"

    monkeypatch.setenv("SAFEGUARD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SAFEGUARD_MAIL_BACKEND", "graph")
    monkeypatch.setenv("SAFEGUARD_IMAP_USERNAME", "scp@x.gov.uk")
    capsys.readouterr()
    assert main(["run", "--headless"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "SAFEGUARD_OAUTH_TENANT_ID" in line and "SAFEGUARD_MAIL_BACKEND=graph" in line
