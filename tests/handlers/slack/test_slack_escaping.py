"""Outsider text cannot format, mention or link in the partnership's Slack channel (issue 8).

End to end: the intake pipeline, the outbox sender and the Slack Web API call bodies themselves.
Everything is posted by the real ``SlackTransport`` to the loopback Web API stand-in, and the
assertions are about the recorded ``chat.postMessage`` bodies: what Slack would have rendered.
The hostile strings are the ones anyone on the internet can put in a From header or a form.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine

from bot.cases import CaseService
from bot.routing import Router
from bot.settings import Settings, load_settings
from handlers.mail.intake import IncomingMail, IntakePipeline
from handlers.transports.interface import OutboundMessage
from handlers.transports.local import FolderTransport
from handlers.transports.sender import OutboxSender, RetryPolicy
from handlers.transports.slack import SlackTransport, escape_mrkdwn
from handlers.transports.smtp import SmtpTransport
from scheduler.calendar import LONDON, WorkingCalendar
from scheduler.digest import send_digests
from scheduler.reminders import load_policy
from store import outbox
from store.db import session_scope
from tests.fixtures import build_referrals as fx
from tests.support.mail import referral_mail
from tests.support.slack_api import Call, SlackApi

pytestmark = pytest.mark.integration

CHANNEL = "C0NOTICE"
RECEIVED = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
HOSTILE_FROM = "a@[<!channel>]"
HOSTILE_AGENCY = "<!channel> *URGENT* <https://evil.example/login|Open case SG-1>"
HOSTILE_RECIPIENT = "<!channel>@council.gov.uk"


@pytest.fixture
def slack() -> Iterator[SlackApi]:
    stub = SlackApi().start()
    yield stub
    stub.stop()


@pytest.fixture
def slack_settings(tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path / "var",
        slack_bot_token="xoxb-test-token",
        partnerships=[{"key": "default", "name": "Testshire SCP", "slack_channel": CHANNEL}],
    )


def _transport(slack: SlackApi) -> SlackTransport:
    return SlackTransport(AsyncWebClient(token="xoxb-test-token", base_url=slack.base_url))


def _deliver(engine: Engine, slack: SlackApi, tmp_path: Path) -> None:
    sender = OutboxSender(engine, {"slack": _transport(slack), "folder": FolderTransport(tmp_path / "out")})
    report = asyncio.run(sender.drain(datetime.now(tz=UTC) + timedelta(minutes=1)))
    assert report.delivered and not report.dead and not report.retrying


def mrkdwn_texts(body: dict[str, Any]) -> list[str]:
    """Every string of a chat.postMessage body that Slack parses as mrkdwn: ``text`` and each
    mrkdwn text object in the blocks (section text and fields, context elements)."""
    found = [body.get("text", "")]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node.get("text", ""))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(body.get("blocks") or [])
    return found


def assert_inert(call: Call) -> None:
    """No mention, no link, no angle bracket at all: Slack shows outsider text as text."""
    for text in mrkdwn_texts(call.body):
        assert "<!channel>" not in text and "<!here>" not in text and "<https://" not in text, text
        assert "<" not in text and ">" not in text, f"unescaped angle bracket in {text!r}"


def _hostile_agency_mail() -> bytes:
    body = fx.plain_body().replace(fx.REFERRER["agency"], HOSTILE_AGENCY)
    msg = message_from_bytes(referral_mail("plain"), policy=policy.default)
    msg.set_content(body)
    return msg.as_bytes()


def test_quarantine_notice_shows_a_hostile_sender_domain_as_text(
    engine: Engine, slack_settings: Settings, slack: SlackApi, tmp_path: Path
) -> None:
    pipeline = IntakePipeline(engine, slack_settings, CaseService(engine, slack_settings), Router(slack_settings))
    raw = referral_mail("docx", sender=HOSTILE_FROM)
    outcome = pipeline.process(IncomingMail(raw=raw, received_at=RECEIVED, mailbox="test"))
    assert outcome.status == "quarantined"
    _deliver(engine, slack, tmp_path)
    [post] = slack.calls_to("chat.postMessage")
    assert post.body["channel"] == CHANNEL and outcome.quarantine_id in post.body["text"]
    assert_inert(post)
    # The officer still sees what the domain was, literally.
    assert "[&lt;!channel&gt;]" in post.body["text"]


def test_channel_notice_names_the_sender_domain_not_the_typed_agency(
    engine: Engine, slack_settings: Settings, slack: SlackApi, tmp_path: Path
) -> None:
    pipeline = IntakePipeline(engine, slack_settings, CaseService(engine, slack_settings), Router(slack_settings))
    outcome = pipeline.process(IncomingMail(raw=_hostile_agency_mail(), received_at=RECEIVED, mailbox="test"))
    assert outcome.status == "opened"
    # The typed agency is kept in the case record, for officers.
    details = pipeline.cases.details(outcome.reference or "")
    assert details["referrer"]["agency"] == HOSTILE_AGENCY
    _deliver(engine, slack, tmp_path)
    [post] = slack.calls_to("chat.postMessage")
    assert post.body["channel"] == CHANNEL
    assert_inert(post)
    posted = json.dumps(post.body)
    assert "evil.example" not in posted and "URGENT" not in posted and "channel&gt;" not in posted
    assert outcome.reference in post.body["text"] and "northtown.example.nhs.uk" in post.body["text"]
    assert "Next deadline" in post.body["text"]


def test_the_transport_escapes_whatever_a_builder_hands_it(slack: SlackApi) -> None:
    """The mechanism: even if outsider text got into a notice body, Slack would show it as text."""
    message = OutboundMessage(1, "slack", CHANNEL, "[SG-2026-0001] New referral",
                              f"New case SG-2026-0001 from {HOSTILE_AGENCY} & co.",
                              {"kind": "intake_notice", "reference": "SG-2026-0001"})
    asyncio.run(_transport(slack).send(message))
    [post] = slack.calls_to("chat.postMessage")
    assert_inert(post)
    assert "&lt;!channel&gt; *URGENT* &lt;https://evil.example/login|Open case SG-1&gt; &amp; co." in post.body["text"]
    # The renderer's own formatting (a bold title) survives, its values escaped exactly once.
    [section] = post.body["blocks"]
    assert section["text"]["text"].startswith(":inbox_tray: *[SG-2026-0001] New referral*\n")
    assert "&amp;amp;" not in json.dumps(post.body)
    assert post.body.get("link_names") in (None, False, 0, "0", "false")


def test_dead_letter_alert_shows_a_hostile_recipient_as_text(
    engine: Engine, slack: SlackApi
) -> None:
    with session_scope(engine) as session:
        outbox.enqueue(session, transport="email", recipient=HOSTILE_RECIPIENT, subject="Re: referral",
                       body="Your referral could not be read.", dedupe_key="reject:1",
                       payload={"kind": "intake_reject"})
    sender = OutboxSender(
        engine,
        {"email": SmtpTransport(hostname="127.0.0.1", port=1, sender="bot@x.gov.uk", start_tls=False, timeout=2),
         "slack": _transport(slack)},
        retry=RetryPolicy(max_attempts=1),
        alert_recipient=("slack", "C0ALERTS"),
    )
    report = asyncio.run(sender.drain(datetime.now(tz=UTC) + timedelta(minutes=1)))
    assert report.dead and report.delivered
    [post] = slack.calls_to("chat.postMessage")
    assert post.body["channel"] == "C0ALERTS"
    assert_inert(post)
    assert "&lt;!channel&gt;@council.gov.uk" in post.body["text"]
    [section] = post.body["blocks"]
    assert section["text"]["text"].startswith(":warning: *safeguard-bot could not deliver message ")


def test_reminder_keeps_the_bots_formatting_and_escapes_its_values(slack: SlackApi) -> None:
    payload = {
        "kind": "reminder", "reference": "SG-2026-0001", "deadline": "panel_notification",
        "label": "Notify the Panel <b>", "occasion": "before", "phrase": "due in 2 working days",
        "due": "2026-12-31", "due_text": "Thu 31 Dec 2026", "rule": "5 working days <!here>",
        "source": "Children Act 2004 s16C(1) & WT2023",
    }
    message = OutboundMessage(2, "slack", CHANNEL, "Reminder", "Reminder: Notify the Panel <b>", payload)
    asyncio.run(_transport(slack).send(message))
    [post] = slack.calls_to("chat.postMessage")
    assert_inert(post)
    section, context, actions = post.body["blocks"]
    assert section["text"]["text"] == (
        ":hourglass_flowing_sand: *Reminder: SG-2026-0001*\n*Notify the Panel &lt;b&gt;* is "
        "due in 2 working days (due Thu 31 Dec 2026)."
    )
    assert [e["text"] for e in context["elements"]] == [
        "Rule: 5 working days &lt;!here&gt;", "Source: Children Act 2004 s16C(1) &amp; WT2023"]
    assert json.loads(actions["elements"][0]["value"]) == {"reference": "SG-2026-0001", "deadline": "panel_notification"}


def test_digest_is_plain_text_and_the_renderer_makes_the_headings_bold(
    engine: Engine, cases: CaseService, slack: SlackApi
) -> None:
    cases.open_case(la_aware=date(2026, 12, 22), actor="t")
    router = lambda key, audience, owner: [("slack", CHANNEL)]  # noqa: E731
    moment = datetime.combine(date(2026, 12, 29), time(9, 0), tzinfo=LONDON)
    [digest] = send_digests(engine, moment, load_policy(), lambda key: WorkingCalendar(), router)
    assert "*" not in digest.text  # the builder formats nothing
    sender = OutboxSender(engine, {"slack": _transport(slack)})
    assert asyncio.run(sender.drain(moment)).delivered
    [post] = slack.calls_to("chat.postMessage")
    assert_inert(post)
    shown = [b["text"]["text"] for b in post.body["blocks"] if b["type"] == "section"]
    assert shown[0] == "*Open cases: 1*"
    assert shown[2].startswith("*Due this week (2):*\n• SG-2026-0001: ")
    assert "*" not in post.body["text"]


def test_escape_mrkdwn_is_slacks_three_entities_only() -> None:
    assert escape_mrkdwn("a & b < c > d *e* _f_ `g` :h:") == "a &amp; b &lt; c &gt; d *e* _f_ `g` :h:"
