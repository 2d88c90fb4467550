"""Microsoft 365 sign-in (OAuth2, XOAUTH2) against real servers.

- Dovecot with the ``oauth2`` passdb: every bearer token is checked by RFC 7662 introspection
  against the loopback token authority (tests/support/token_authority.py);
- the token authority itself, over HTTPS with the test's own CA: msal talks to it exactly as to
  Entra ID (OIDC discovery, then the client-credentials grant), trusting it through
  ``REQUESTS_CA_BUNDLE``;
- aiosmtpd requiring AUTH XOAUTH2 with a live token for the sending mailbox.

Skips when ``dovecot`` is missing, except under CI=true. Waits are condition waits.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.cli import main
from bot.oauth import OAuthConfig, provider_for
from bot.runtime import open_runtime
from bot.settings import Settings, load_settings
from handlers.mail.imap_watcher import REFUSED_BACKOFF, ImapWatcher
from handlers.mail.intake import IntakePipeline
from store.models import OutboxMessage
from tests.conftest import require_server
from tests.support.dovecot import DOVECOT, Dovecot
from tests.support.imap_proxy import ExpiringImapProxy
from tests.support.mail import distinct_referral, new_message_id, referral_mail
from tests.support.service import RunningService
from tests.support.smtp_server import SmtpServer
from tests.support.token_authority import TENANT, TokenAuthority, certificate_app

pytestmark = [pytest.mark.integration, pytest.mark.dovecot]

SENDER = "priya.testwell@northtown.example.nhs.uk"


def wait_until(predicate: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} not met within {timeout}s")


@pytest.fixture(scope="module")
def authority() -> Iterator[TokenAuthority]:
    server = TokenAuthority().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def dovecot(authority: TokenAuthority) -> Iterator[Dovecot]:
    require_server(DOVECOT is not None, "dovecot is not installed (apt-get install dovecot-imapd)")
    server = Dovecot(users=12, introspection_url=f"http://127.0.0.1:{authority.introspection_port}/introspect")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def trust_the_test_ca(authority: TokenAuthority, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """msal (through requests) trusts the authority's certificate only through REQUESTS_CA_BUNDLE."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.ca.ca_file))
    authority.lifetime = 3600.0
    yield
    authority.lifetime = 3600.0


def _oauth_settings(authority: TokenAuthority, client_id: str, secret: str | None, tmp_path: Path,
                    imap_port: int, user: str, **extra: object) -> Settings:
    return load_settings(
        data_dir=tmp_path / "var", imap_host="127.0.0.1", imap_port=imap_port, imap_username=user,
        imap_security="plain", imap_auth="oauth2", oauth_tenant_id=TENANT, oauth_client_id=client_id,
        oauth_client_secret=secret, oauth_authority_host=authority.host, **extra,
    )


def _app_id() -> str:
    return str(uuid.uuid4())


def test_a_referral_reaches_a_case_and_its_acknowledgement_leaves_over_xoauth2(
    authority: TokenAuthority, dovecot: Dovecot, tmp_path: Path
) -> None:
    user = dovecot.add_user()
    app = authority.secret_app(_app_id(), user)
    with SmtpServer(tokens=authority) as smtp:
        settings = _oauth_settings(
            authority, app.client_id, app.secret, tmp_path, dovecot.port, user,
            smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False, smtp_auth="oauth2",
            smtp_username=user, smtp_from=f"{user}@partnership.example.gov.uk",
        )
        referral_id = new_message_id()
        with RunningService(settings) as running:
            dovecot.append(user, referral_mail("docx", message_id=referral_id))
            [ack] = smtp.wait_for(1)
            assert ack["In-Reply-To"] == referral_id and ack["To"] == SENDER
            [case] = running.cases()
            assert case.reference in ack["Subject"]
            wait_until(lambda: dovecot.count(user, "Processed") == 1, what="referral moved to Processed")
        # Both sides signed in with tokens from the one app registration (one shared cache).
        assert smtp.handler.logins == [user] and smtp.handler.refused_logins == 0
        assert f"user=<{user}>, method=XOAUTH2" in dovecot.log()
        assert authority.issued(app.client_id) == 1


def test_a_certificate_credential_signs_in(authority: TokenAuthority, dovecot: Dovecot, tmp_path: Path) -> None:
    user = dovecot.add_user()
    app, pem = certificate_app(_app_id(), user, tmp_path)
    authority.register(app)
    settings = _oauth_settings(authority, app.client_id, None, tmp_path, dovecot.port, user,
                               oauth_certificate_file=pem, oauth_certificate_thumbprint=app.thumbprint)
    with RunningService(settings) as running:
        dovecot.append(user, referral_mail("docx"))
        wait_until(lambda: len(running.cases()) == 1, what="case opened")
    assert authority.issued(app.client_id) == 1


def test_a_token_that_expires_during_a_long_idle_is_replaced_when_it_reconnects(
    authority: TokenAuthority, dovecot: Dovecot, tmp_path: Path
) -> None:
    """Exchange ends the session when its token expires; the watcher reconnects with a new one."""
    user = dovecot.add_user()
    app = authority.secret_app(_app_id(), user)
    authority.lifetime = 3.0
    with ExpiringImapProxy(dovecot.port, authority) as proxy:
        # The poll and the IDLE are far longer than the token: only its expiry ends the session.
        settings = _oauth_settings(authority, app.client_id, app.secret, tmp_path, proxy.port, user,
                                   imap_poll_seconds=600, imap_idle_seconds=600)
        with RunningService(settings) as running:
            dovecot.append(user, distinct_referral("docx", 1))
            wait_until(lambda: len(running.cases()) == 1, what="first case")
            wait_until(lambda: proxy.cut >= 1 and proxy.sessions >= 2, timeout=20,
                       what="session cut at token expiry, then a new session")
            dovecot.append(user, distinct_referral("docx", 2))
            wait_until(lambda: len(running.cases()) == 2, what="second case, on the new session")
    assert authority.issued(app.client_id) >= 2
    assert dovecot.count(user, "INBOX") == 0 and dovecot.count(user, "Processed") == 2


def test_a_wrong_secret_stops_start_up_with_one_line_naming_the_setting(
    authority: TokenAuthority, dovecot: Dovecot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user = dovecot.add_user()
    app = authority.secret_app(_app_id(), user)
    env = {"DATA_DIR": str(tmp_path / "var"), "IMAP_HOST": "127.0.0.1", "IMAP_PORT": str(dovecot.port),
           "IMAP_USERNAME": user, "IMAP_SECURITY": "plain", "IMAP_AUTH": "oauth2",
           "OAUTH_TENANT_ID": TENANT, "OAUTH_CLIENT_ID": app.client_id,
           "OAUTH_CLIENT_SECRET": "not-the-secret", "OAUTH_AUTHORITY_HOST": authority.host}
    for key, value in env.items():
        monkeypatch.setenv(f"SAFEGUARD_{key}", value)
    capsys.readouterr()
    assert main(["run", "--headless"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert "SAFEGUARD_OAUTH_CLIENT_SECRET" in lines[0] and "AADSTS7000215" in lines[0]
    assert "not-the-secret" not in lines[0]


def test_a_refused_sign_in_backs_off_and_tells_a_human_without_touching_the_mail(
    authority: TokenAuthority, dovecot: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The authority refuses the secret (it expired after start-up): no tight loop, an alert."""
    user = dovecot.add_user()
    app = authority.secret_app(_app_id(), user)
    dovecot.append(user, referral_mail("docx"))
    settings = _oauth_settings(authority, app.client_id, "an-expired-secret", tmp_path, dovecot.port, user)
    runtime = open_runtime(settings)
    pipeline = IntakePipeline(runtime.engine, settings, runtime.cases, runtime.router)
    [box] = settings.imap_mailboxes()
    tokens = provider_for(OAuthConfig.of(settings, box))
    watcher = ImapWatcher(box, pipeline, tokens=tokens)
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    caplog.set_level(logging.WARNING, logger="handlers.mail.imap_watcher")

    def alerts() -> list[OutboxMessage]:
        with Session(runtime.engine) as session:
            return [m for m in session.exec(select(OutboxMessage)).all() if m.payload.get("kind") == "alert"]

    thread.start()
    try:
        wait_until(lambda: alerts(), what="an alert queued")
        wait_until(lambda: any("reconnecting in" in r.getMessage() for r in caplog.records), what="backoff logged")
    finally:
        stop.set()
        thread.join(10)
    [alert] = alerts()
    assert f"mailbox {box.name}" in alert.subject and "AADSTS7000215" in alert.body
    waits = [float(r.getMessage().rsplit("reconnecting in ", 1)[1].split()[0])
             for r in caplog.records if "reconnecting in" in r.getMessage()]
    assert waits and min(waits) >= REFUSED_BACKOFF
    assert dovecot.count(user, "INBOX") == 1  # the referral waits for sign-in to work again


def test_the_authority_unreachable_for_a_while_loses_nothing(
    authority: TokenAuthority, dovecot: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    user = dovecot.add_user()
    app = authority.secret_app(_app_id(), user)
    authority.lifetime = 2.0
    caplog.set_level(logging.WARNING, logger="handlers.mail.imap_watcher")
    with ExpiringImapProxy(dovecot.port, authority) as proxy:
        settings = _oauth_settings(authority, app.client_id, app.secret, tmp_path, proxy.port, user,
                                   imap_poll_seconds=600, imap_idle_seconds=600)
        with RunningService(settings) as running:
            dovecot.append(user, distinct_referral("docx", 11))
            wait_until(lambda: len(running.cases()) == 1, what="first case")
            authority.stop()
            try:
                # The session ends with its token; a new token cannot be had.
                wait_until(lambda: any("is unreachable" in r.getMessage() for r in caplog.records),
                           what="the watcher finds the authority unreachable")
                dovecot.append(user, distinct_referral("docx", 12))
                dovecot.append(user, distinct_referral("docx", 13))
                assert len(running.cases()) == 1
            finally:
                authority.start()
            wait_until(lambda: len(running.cases()) == 3, timeout=30, what="mail of the outage processed")
            wait_until(lambda: dovecot.count(user, "Processed") == 3, what="all three moved")
    assert dovecot.count(user, "INBOX") == 0 and dovecot.count(user, "Quarantine") == 0


def test_a_refused_token_is_refreshed_once_for_imap_and_for_smtp(
    authority: TokenAuthority, dovecot: Dovecot, tmp_path: Path
) -> None:
    """The servers stop taking a token msal still holds as good: one fresh token, then it works."""
    import asyncio

    from handlers.mail.imap_watcher import connect
    from handlers.transports import build_transports
    from handlers.transports.interface import OutboundMessage

    user = dovecot.add_user()
    app = authority.secret_app(_app_id(), user)
    with SmtpServer(tokens=authority) as smtp:
        settings = _oauth_settings(authority, app.client_id, app.secret, tmp_path, dovecot.port, user,
                                   smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False,
                                   smtp_auth="oauth2", smtp_username=user)
        [box] = settings.imap_mailboxes()
        tokens = provider_for(OAuthConfig.of(settings, box))
        tokens.token()
        authority.revoke_all(app.client_id)
        connect(box, tokens=tokens).logout()
        assert authority.issued(app.client_id) == 2

        authority.revoke_all(app.client_id)
        transport = build_transports(settings)["email"]
        message = OutboundMessage(id=1, transport="email", recipient=SENDER, subject="Test",
                                  body="A test message.", payload={})
        asyncio.run(transport.send(message))
        [sent] = smtp.wait_for(1)
        assert sent["Subject"] == "Test" and smtp.handler.refused_logins == 1 and smtp.handler.logins == [user]
        assert authority.issued(app.client_id) == 3


@pytest.mark.parametrize(("change", "setting", "code"), [
    ({"client_secret": "wrong"}, "SAFEGUARD_OAUTH_CLIENT_SECRET", "AADSTS7000215"),
    ({"client_id": "00000000-0000-0000-0000-000000000000"}, "SAFEGUARD_OAUTH_CLIENT_ID", "AADSTS700016"),
    ({"tenant_id": "not-our-tenant"}, "SAFEGUARD_OAUTH_TENANT_ID", "AADSTS90002"),
])
def test_each_refused_credential_names_its_setting_and_quotes_the_code(
    authority: TokenAuthority, change: dict[str, str], setting: str, code: str
) -> None:
    from bot.oauth import OAuthRefused, TokenProvider

    app = authority.secret_app(_app_id(), "nobody")
    values = {"tenant_id": TENANT, "client_id": app.client_id, "client_secret": app.secret,
              "certificate_file": None, "certificate_thumbprint": None, "authority_host": authority.host,
              "scope": "https://outlook.office365.com/.default"}
    values.update(change)
    with pytest.raises(OAuthRefused) as refused:
        TokenProvider(OAuthConfig(**values)).token()  # type: ignore[arg-type]
    message = str(refused.value)
    assert setting in message and code in message and "\n" not in message
    assert app.secret not in message


def test_a_wrong_certificate_names_the_certificate_file(authority: TokenAuthority, tmp_path: Path) -> None:
    from bot.oauth import OAuthRefused, TokenProvider

    app, _ = certificate_app(_app_id(), "nobody", tmp_path)
    authority.register(app)
    _, other_pem = certificate_app("someone-else", "nobody", tmp_path)  # a key Entra never saw
    config = OAuthConfig(tenant_id=TENANT, client_id=app.client_id, client_secret=None,
                         certificate_file=other_pem, certificate_thumbprint=app.thumbprint,
                         authority_host=authority.host, scope="https://outlook.office365.com/.default")
    with pytest.raises(OAuthRefused, match=r"SAFEGUARD_OAUTH_CERTIFICATE_FILE.*AADSTS700027"):
        TokenProvider(config).token()


def test_forged_senders_over_imap_are_quarantined_and_genuine_mail_opens_its_case(
    authority: TokenAuthority, dovecot: Dovecot, tmp_path: Path
) -> None:
    """The receiving server's verdict is the topmost Authentication-Results (Dovecot's APPEND
    stands in for delivery, so the test writes that header as the partnership's server would)."""
    ours = "mx.partnership.example.gov.uk"
    user = dovecot.add_user()
    app = authority.secret_app(_app_id(), user)
    officer = "officer@partnership.example.gov.uk"
    settings = _oauth_settings(authority, app.client_id, app.secret, tmp_path, dovecot.port, user,
                               trusted_authserv_id=ours, intake_notify=officer)
    domain = SENDER.split("@")[1]
    genuine = (f"Authentication-Results: {ours}; spf=pass smtp.mailfrom={domain}; "
               f"dkim=pass header.d={domain}; dmarc=pass header.from={domain}\r\n").encode()
    forged_lower = (f"Authentication-Results: {ours}; spf=fail smtp.mailfrom={domain}; dmarc=fail "
                    f"header.from={domain}\r\nAuthentication-Results: {ours}; dmarc=pass header.from={domain}\r\n").encode()
    with RunningService(settings) as running:
        dovecot.append(user, genuine + distinct_referral("docx", 301))
        dovecot.append(user, forged_lower + distinct_referral("docx", 302))
        dovecot.append(user, distinct_referral("docx", 303))  # no Authentication-Results at all
        wait_until(lambda: dovecot.count(user, "Processed") == 1 and dovecot.count(user, "Quarantine") == 2,
                   what="one processed, two quarantined")
        assert len(running.cases()) == 1
        with Session(running.runtime.engine) as session:
            rows = session.exec(select(OutboxMessage)).all()
    # One acknowledgement (to the genuine sender), two notices to the officer, nothing to forgers.
    to_sender = [r for r in rows if r.recipient == SENDER]
    notices = [r for r in rows if r.recipient == officer]
    assert len(to_sender) == 1 and to_sender[0].payload.get("in_reply_to")
    assert len(notices) == 2 and all("sender not authenticated" in n.body for n in notices)
