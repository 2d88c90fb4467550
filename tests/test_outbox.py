"""The outbox and its transports: real SMTP (aiosmtpd on loopback), a folder, the console."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import Engine

from handlers.transports import PermanentError, TransientError, deliver_due
from handlers.transports.mail import ConsoleTransport, FolderTransport, SmtpTransport
from store import outbox
from store.db import session_scope
from store.models import utcnow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Collect:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.refuse: int | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if self.refuse:
            return f"{self.refuse} refused for test"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append(envelope.content)
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Collect, int]]:
    from aiosmtpd.controller import Controller

    handler = _Collect()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _queue(engine: Engine, key: str = "ack:<m1@example>", **extra: object) -> int:
    with session_scope(engine) as session:
        return outbox.enqueue(
            session, channel=str(extra.pop("channel", "email")), recipient="referrer@example.nhs.uk",
            subject="Referral received: SG-2026-001", body="Your referral has been received.",
            dedupe_key=key, payload={"in_reply_to": "<m1@example>", **extra},  # type: ignore[arg-type]
        )


def test_enqueue_is_idempotent_on_dedupe_key(engine: Engine) -> None:
    first = _queue(engine)
    assert _queue(engine) == first
    assert outbox.counts(engine) == {"pending": 1}


def test_smtp_delivery_is_threaded_and_marked_sent(engine: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    handler, port = smtp_server
    row_id = _queue(engine, attachments=[{"filename": "deadlines.ics", "content_type": "text/calendar",
                                          "data": "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"}])
    result = asyncio.run(deliver_due(engine, {"email": SmtpTransport("127.0.0.1", port)}))
    assert result == {"sent": 1, "retry": 0, "dead": 0}
    assert len(handler.messages) == 1
    msg = message_from_bytes(handler.messages[0], policy=policy.default)
    assert msg["In-Reply-To"] == "<m1@example>" and msg["References"] == "<m1@example>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert [p.get_filename() for p in msg.iter_attachments()] == ["deadlines.ics"]
    row = outbox.get(engine, row_id)
    assert row is not None and row.status == "sent" and row.sent_at is not None
    assert asyncio.run(deliver_due(engine, {"email": SmtpTransport("127.0.0.1", port)}))["sent"] == 0


def test_smtp_outage_delays_and_never_drops(engine: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    handler, port = smtp_server
    row_id = _queue(engine)
    down = SmtpTransport("127.0.0.1", _free_port(), timeout=2)
    assert asyncio.run(deliver_due(engine, {"email": down})) == {"sent": 0, "retry": 1, "dead": 0}
    row = outbox.get(engine, row_id)
    assert row is not None and row.status == "pending" and row.attempts == 1
    assert row.last_error and "SMTP unavailable" in row.last_error
    assert outbox.claim_due(engine) == []  # backing off
    later = utcnow() + timedelta(minutes=2)
    items = outbox.claim_due(engine, now=later)
    assert [i.id for i in items] == [row_id]
    asyncio.run(SmtpTransport("127.0.0.1", port).send(items[0]))
    outbox.mark_sent(engine, row_id)
    assert len(handler.messages) == 1


def test_permanent_refusal_goes_dead(engine: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    handler, port = smtp_server
    handler.refuse = 550
    row_id = _queue(engine)
    assert asyncio.run(deliver_due(engine, {"email": SmtpTransport("127.0.0.1", port)}))["dead"] == 1
    row = outbox.get(engine, row_id)
    assert row is not None and row.status == "dead" and "550" in (row.last_error or "")


def test_temporary_refusal_is_retried(engine: Engine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    handler, port = smtp_server
    handler.refuse = 451
    _queue(engine)
    assert asyncio.run(deliver_due(engine, {"email": SmtpTransport("127.0.0.1", port)}))["retry"] == 1


def test_a_crash_while_sending_is_reclaimed_after_the_lease(engine: Engine) -> None:
    row_id = _queue(engine)
    assert [i.id for i in outbox.claim_due(engine)] == [row_id]  # then the worker dies
    assert outbox.claim_due(engine) == []  # leased
    again = outbox.claim_due(engine, now=utcnow() + outbox.LEASE + timedelta(seconds=1))
    assert [i.id for i in again] == [row_id]


def test_gives_up_after_max_attempts(engine: Engine) -> None:
    row_id = _queue(engine)
    statuses = [outbox.mark_failed(engine, row_id, "boom") for _ in range(outbox.MAX_ATTEMPTS)]
    assert statuses[-2] == "pending" and statuses[-1] == "dead"


def test_backoff_grows_and_is_capped() -> None:
    assert outbox.backoff(1) == timedelta(seconds=30)
    assert outbox.backoff(2) == timedelta(minutes=1)
    assert outbox.backoff(30) == outbox.MAX_DELAY


def test_folder_transport_writes_whole_eml_files(engine: Engine, tmp_path: Path) -> None:
    row_id = _queue(engine, channel="folder")
    folder = tmp_path / "outbox"
    result = asyncio.run(deliver_due(engine, {"folder": FolderTransport(folder)}))
    assert result["sent"] == 1
    files = list(folder.iterdir())
    assert [f.name for f in files] == [f"{row_id:08d}.eml"]
    msg = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert msg["To"] == "referrer@example.nhs.uk"
    assert msg.get_content().strip() == "Your referral has been received."


def test_console_transport_and_missing_transport(engine: Engine) -> None:
    _queue(engine, key="a", channel="console")
    _queue(engine, key="b", channel="slack")
    out = io.StringIO()
    result = asyncio.run(deliver_due(engine, {"console": ConsoleTransport(out)}))
    assert result == {"sent": 1, "retry": 1, "dead": 0}
    assert "Subject: Referral received: SG-2026-001" in out.getvalue()


def test_unknown_channel_is_refused_before_touching_the_session() -> None:
    with pytest.raises(ValueError, match="unknown outbox channel"):
        outbox.enqueue(None, channel="pigeon", recipient="x", body="", dedupe_key="k")  # type: ignore[arg-type]
