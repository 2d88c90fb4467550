"""The outbox sender against real peers: the Slack Web API stand-in and an aiosmtpd server."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from slack_sdk.web.async_client import AsyncWebClient

from handlers.transports.local import ConsoleTransport, FolderTransport
from handlers.transports.sender import OutboxSender, RetryPolicy
from handlers.transports.slack import SlackTransport
from handlers.transports.smtp import SmtpTransport
from store import outbox
from store.db import session_scope
from store.models import OutboxMessage
from tests.support.slack_api import SlackApi
from tests.support.smtp_server import SmtpServer

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 29, 9, 0, tzinfo=UTC)
REMINDER = {
    "kind": "reminder", "reference": "SG-2026-0001", "deadline": "panel_notification",
    "label": "Notify the Panel", "occasion": "before", "phrase": "due in 2 working days",
    "due": "2026-12-31", "due_text": "Thu 31 Dec 2026", "rule": "5 working days after the LA became aware",
    "source": "Children Act 2004 s16C(1)",
}


@pytest.fixture
def slack() -> SlackApi:
    stub = SlackApi().start()
    yield stub
    stub.stop()


def queue(engine: Engine, transport: str, recipient: str, key: str, payload: dict | None = None) -> None:
    with session_scope(engine) as session:
        outbox.enqueue(session, transport=transport, recipient=recipient, subject="Reminder",
                       body="Reminder: SG-2026-0001 due", payload=payload or REMINDER,
                       dedupe_key=key, not_before=NOW)


def statuses(engine: Engine) -> list[tuple[str, int]]:
    with Session(engine) as session:
        return [(m.status, m.attempts) for m in session.exec(select(OutboxMessage).order_by(OutboxMessage.id))]


def test_slack_429_then_200_delivers_once_after_the_outage(engine: Engine, slack: SlackApi) -> None:
    queue(engine, "slack", "C0CHANNEL", "r1")
    slack.fail_next("chat.postMessage", 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3"})
    sender = OutboxSender(engine, {"slack": SlackTransport(AsyncWebClient(token="xoxb-test", base_url=slack.base_url))})
    first = asyncio.run(sender.deliver_once(NOW))
    assert first.retrying and not first.delivered
    assert statuses(engine) == [("pending", 1)]
    assert not asyncio.run(sender.deliver_once(NOW + timedelta(seconds=2)))  # honours Retry-After
    second = asyncio.run(sender.deliver_once(NOW + timedelta(seconds=4)))
    assert second.delivered
    assert statuses(engine) == [("sent", 2)]
    posts = slack.calls_to("chat.postMessage")
    assert len(posts) == 2  # the refused attempt and the one that landed
    blocks = posts[-1].body["blocks"]
    actions = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["reminder_record_done", "reminder_snooze", "case_view"]
    assert posts[-1].body["channel"] == "C0CHANNEL"
    assert not asyncio.run(sender.deliver_once(NOW + timedelta(hours=1)))


def test_smtp_refusing_then_accepting(engine: Engine) -> None:
    with SmtpServer(refuse_first=1) as server:
        queue(engine, "email", "owner@council.gov.uk", "m1")
        sender = OutboxSender(
            engine,
            {"email": SmtpTransport(hostname="127.0.0.1", port=server.port, sender="bot@partnership.gov.uk", start_tls=False)},
            retry=RetryPolicy(base_delay=timedelta(seconds=10)),
        )
        assert asyncio.run(sender.deliver_once(NOW)).retrying
        assert not asyncio.run(sender.deliver_once(NOW + timedelta(seconds=5)))
        assert asyncio.run(sender.deliver_once(NOW + timedelta(seconds=11))).delivered
        [mail] = server.wait_for(1)
        assert mail["To"] == "owner@council.gov.uk"
        assert mail["Auto-Submitted"] == "auto-generated"
        assert server.handler.attempts == 2
    assert statuses(engine) == [("sent", 2)]


def test_permanent_failure_goes_dead_and_raises_an_alert(engine: Engine, slack: SlackApi) -> None:
    queue(engine, "slack", "C0GONE", "r2")
    slack.fail_next("chat.postMessage", 200, {"ok": False, "error": "channel_not_found"})
    console = io.StringIO()
    sender = OutboxSender(
        engine,
        {"slack": SlackTransport(AsyncWebClient(token="xoxb-test", base_url=slack.base_url)),
         "console": ConsoleTransport(console)},
        alert_recipient=("console", "#alerts"),
    )
    report = asyncio.run(sender.drain(NOW))
    assert report.dead and report.delivered
    assert statuses(engine) == [("dead", 1), ("sent", 1)]
    assert "could not deliver" in console.getvalue() or "gave up" in console.getvalue()
    assert "channel_not_found" in console.getvalue()


def test_transient_failures_stop_after_max_attempts(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    queue(engine, "email", "owner@council.gov.uk", "m2")
    sender = OutboxSender(
        engine,
        {"email": SmtpTransport(hostname="127.0.0.1", port=1, sender="bot@x.gov.uk", start_tls=False, timeout=2),
         "folder": FolderTransport(tmp_path)},
        retry=RetryPolicy(max_attempts=3, base_delay=timedelta(seconds=1)),
        alert_recipient=("folder", "#alerts"),
    )
    moment = NOW
    for _ in range(3):
        asyncio.run(sender.deliver_once(moment))
        moment += timedelta(minutes=5)
    asyncio.run(sender.drain(moment))
    assert statuses(engine)[0] == ("dead", 3)
    alert = json.loads(next(tmp_path.glob("*-folder.json")).read_text())
    assert alert["payload"]["kind"] == "alert"


def test_a_dead_sender_lease_expires_and_the_message_is_retried(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    queue(engine, "folder", "#default", "r3")
    with session_scope(engine) as session:
        [claimed] = outbox.claim(session, NOW, lease=timedelta(minutes=2))
    # The claiming sender "died" here. Within the lease nobody else takes it...
    sender = OutboxSender(engine, {"folder": FolderTransport(tmp_path)})
    assert not asyncio.run(sender.deliver_once(NOW + timedelta(minutes=1)))
    # ...after it, another sender does.
    assert asyncio.run(sender.deliver_once(NOW + timedelta(minutes=3))).delivered == [claimed.id]
    assert statuses(engine) == [("sent", 2)]


def test_folder_transport_is_idempotent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from handlers.transports.interface import OutboundMessage

    transport = FolderTransport(tmp_path / "out")
    message = OutboundMessage(7, "folder", "#x", "S", "B", {"raw_email": "Subject: S\n\nB"})
    asyncio.run(transport.send(message))
    asyncio.run(transport.send(message))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["00000007-folder.json", "00000007.eml"]


def test_email_reply_is_threaded_and_carries_the_ics(engine: Engine) -> None:
    with SmtpServer() as server:
        with session_scope(engine) as session:
            outbox.enqueue(
                session, transport="email", recipient="referrer@nhs.net", subject="Re: Referral",
                body="Case SG-2026-0001 opened.", dedupe_key="ack:1", not_before=NOW,
                payload={"in_reply_to": "<ref-1@nhs.net>", "from": "safeguarding@partnership.gov.uk",
                         "attachments": [{"filename": "deadlines.ics", "content_type": "text/calendar",
                                          "data": "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"}]},
            )
        sender = OutboxSender(engine, {"email": SmtpTransport(
            hostname="127.0.0.1", port=server.port, sender="bot@partnership.gov.uk", start_tls=False)})
        assert asyncio.run(sender.deliver_once(NOW)).delivered
        [mail] = server.wait_for(1)
    assert mail["In-Reply-To"] == "<ref-1@nhs.net>" and mail["References"] == "<ref-1@nhs.net>"
    assert mail["From"] == "safeguarding@partnership.gov.uk"
    [ics] = [part for part in mail.walk() if part.get_filename() == "deadlines.ics"]
    assert ics.get_content_type() == "text/calendar"
