"""The Microsoft Graph mail backend against a loopback stand-in of Graph's documented endpoints.

The real Service (Graph watcher + outbox sender with the sendMail transport) and the real
intake pipeline; tokens from msal against the loopback HTTPS token authority (its own CA,
trusted through REQUESTS_CA_BUNDLE); the stand-in (tests/support/graph_api.py) checks every
token. Covered: intake and acknowledgement end to end, paging, an expired delta token (410,
resync without duplicates, also after a crash between commit and move), 429 with Retry-After.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.settings import Settings, load_settings
from handlers.mail import graph_watcher
from handlers.mail.intake import AFTER_COMMIT
from store.models import MailSyncState
from tests.support.graph_api import GraphApi
from tests.support.mail import distinct_referral, new_message_id, referral_mail
from tests.support.service import RunningService
from tests.support.token_authority import TENANT, TokenAuthority

pytestmark = [pytest.mark.integration]

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


@pytest.fixture
def graph(authority: TokenAuthority, monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphApi]:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.ca.ca_file))
    with GraphApi(authority) as api:
        yield api


def _settings(authority: TokenAuthority, graph: GraphApi, tmp_path: Path) -> tuple[Settings, str]:
    mailbox = f"scp-{uuid.uuid4().hex[:8]}@partnership.example.gov.uk"
    app = authority.secret_app(str(uuid.uuid4()), mailbox)
    settings = load_settings(
        data_dir=tmp_path / "var", mail_backend="graph", imap_username=mailbox, smtp_from=mailbox,
        graph_base_url=graph.base_url,
        graph_poll_seconds=0.2, oauth_tenant_id=TENANT, oauth_client_id=app.client_id,
        oauth_client_secret=app.secret, oauth_authority_host=authority.host,
    )
    return settings, mailbox


def test_a_referral_reaches_a_case_and_its_acknowledgement_leaves_by_sendmail(
    authority: TokenAuthority, graph: GraphApi, tmp_path: Path
) -> None:
    settings, mailbox = _settings(authority, graph, tmp_path)
    referral_id = new_message_id()
    # It reached the mailbox on Friday 27 Nov 2026: that is the awareness day, not today.
    received = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)
    with RunningService(settings) as running:
        graph.deliver(mailbox, referral_mail("docx", message_id=referral_id), received=received)
        wait_until(lambda: graph.mailbox(mailbox).sent, what="acknowledgement sent")
        [ack] = graph.mailbox(mailbox).sent
        assert ack["In-Reply-To"] == referral_id and ack["To"] == SENDER and ack["From"] == mailbox
        [case] = running.cases()
        assert case.reference in ack["Subject"]
        assert running.runtime.cases.get(case.reference).la_aware == date(2026, 11, 27)
        wait_until(lambda: graph.count(mailbox, "Processed") == 1, what="moved to Processed")
        assert graph.count(mailbox, "Inbox") == 0
        with Session(running.runtime.engine) as session:
            [state] = session.exec(select(MailSyncState)).all()
        assert "$deltatoken=" in state.delta_link
    # Moved only after the commit; the sendMail body was the MIME message, threaded.
    assert graph.calls("POST", "/move") and graph.calls("POST", "/sendMail")


def test_a_folder_of_several_pages_is_read_to_the_end(
    authority: TokenAuthority, graph: GraphApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph_watcher, "PAGE_SIZE", 2)
    settings, mailbox = _settings(authority, graph, tmp_path)
    for n in range(5):  # waiting before the bot starts: a first round of three pages
        graph.deliver(mailbox, distinct_referral("plain", 100 + n))
    with RunningService(settings) as running:
        wait_until(lambda: len(running.cases()) == 5, timeout=30, what="five cases")
        wait_until(lambda: graph.count(mailbox, "Processed") == 5, what="all five moved")
    assert len(graph.calls("GET", "$skiptoken=")) >= 2  # pages two and three of the first round


def test_an_expired_delta_token_resyncs_without_duplicates(
    authority: TokenAuthority, graph: GraphApi, tmp_path: Path
) -> None:
    """A crash after the commit and before the move, then 410: one case, one acknowledgement."""
    settings, mailbox = _settings(authority, graph, tmp_path)
    crashed: list[str] = []

    def crash_once(stage: str) -> None:
        if stage == AFTER_COMMIT and not crashed:
            crashed.append(stage)
            graph.expire_delta_tokens()  # and the sync state is gone by the time it is back
            raise RuntimeError("killed between commit and move")

    with RunningService(settings, checkpoint=crash_once) as running:
        graph.deliver(mailbox, distinct_referral("docx", 201))
        wait_until(lambda: crashed, what="the crash")
        wait_until(lambda: graph.count(mailbox, "Processed") == 1, timeout=30, what="moved after the resync")
        graph.expire_delta_tokens()
        graph.deliver(mailbox, distinct_referral("docx", 202))
        wait_until(lambda: len(running.cases()) == 2, timeout=30, what="the second case after another 410")
        wait_until(lambda: len(graph.mailbox(mailbox).sent) == 2, what="two acknowledgements")
        assert len(running.cases()) == 2
    assert [status for _, _, status in graph.calls("GET", "/delta")].count(410) >= 1
    assert graph.count(mailbox, "Processed") == 2 and graph.count(mailbox, "Inbox") == 0
    acks = graph.mailbox(mailbox).sent
    assert len({str(a["In-Reply-To"]) for a in acks}) == 2


def test_throttling_waits_as_retry_after_says_and_loses_nothing(
    authority: TokenAuthority, graph: GraphApi, tmp_path: Path
) -> None:
    settings, mailbox = _settings(authority, graph, tmp_path)
    with RunningService(settings) as running:
        wait_until(lambda: graph.calls("GET", "/delta"), what="the first round")
        graph.throttle(4, retry_after=1)
        graph.deliver(mailbox, referral_mail("docx"))
        wait_until(lambda: len(running.cases()) == 1, timeout=30, what="case despite throttling")
        wait_until(lambda: graph.mailbox(mailbox).sent, timeout=30, what="acknowledgement despite throttling")
        wait_until(lambda: graph.count(mailbox, "Processed") == 1, what="moved")
    throttled = [r for r in graph.requests if r[2] == 429]
    assert len(throttled) == 4
    assert len(graph.mailbox(mailbox).sent) == 1 and len(running.cases()) == 1


def test_an_app_without_access_to_the_mailbox_backs_off_and_tells_a_human(
    authority: TokenAuthority, graph: GraphApi, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The app's RBAC scope is another mailbox: 403, no tight loop, an alert, the mail left alone."""
    import logging

    from store.models import OutboxMessage

    settings, mailbox = _settings(authority, graph, tmp_path)
    other = f"other-{mailbox}"
    settings = load_settings(**{**settings.model_dump(exclude_unset=True), "imap_username": other,
                                "oauth_client_secret": settings.oauth_client_secret.get_secret_value()})
    graph.deliver(other, referral_mail("docx"))
    caplog.set_level(logging.WARNING, logger="handlers.mail.graph_watcher")
    with RunningService(settings) as running:
        def alerts() -> list[OutboxMessage]:
            with Session(running.runtime.engine) as session:
                return [m for m in session.exec(select(OutboxMessage)).all() if m.payload.get("kind") == "alert"]

        wait_until(alerts, what="an alert")
        wait_until(lambda: any("trying again in" in r.getMessage() for r in caplog.records), what="backoff")
    [alert] = alerts()
    assert "403" in alert.body and "Mail.ReadWrite" in alert.body
    waits = [float(r.getMessage().rsplit("trying again in ", 1)[1].split()[0])
             for r in caplog.records if "trying again in" in r.getMessage()]
    assert min(waits) >= 60
    assert graph.count(other, "Inbox") == 1 and running.cases() == []


def test_an_expired_token_is_refreshed_once_and_reading_goes_on(
    authority: TokenAuthority, graph: GraphApi, tmp_path: Path
) -> None:
    settings, mailbox = _settings(authority, graph, tmp_path)
    with RunningService(settings) as running:
        wait_until(lambda: graph.calls("GET", "/delta"), what="the first round")
        authority.revoke_all(settings.oauth_client_id or "")
        graph.deliver(mailbox, referral_mail("docx"))
        wait_until(lambda: len(running.cases()) == 1, what="case after the refresh")
    assert any(status == 401 for _, _, status in graph.requests)
    assert authority.issued(settings.oauth_client_id) == 2
