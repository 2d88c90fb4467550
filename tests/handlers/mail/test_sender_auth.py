"""Sender authentication: only the partnership's own server's topmost Authentication-Results counts.

The verdict on its own (handlers.mail.sender_auth.check), then through the real intake pipeline
on SQLite and PostgreSQL: forged senders are quarantined with the reason, a human is told, the
sender is not answered; genuine mail opens its case; with no authserv-id nothing changes and
``status`` says sender authentication is off.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.cases import CaseService
from bot.cli import main
from bot.routing import Router
from bot.settings import Settings, load_settings
from handlers.mail.intake import IncomingMail, IntakePipeline
from handlers.mail.sender_auth import EXCHANGE_ONLINE, check
from store.models import Case, OutboxMessage
from tests.support.mail import referral_mail

OURS = "mx.partnership.example.gov.uk"
DOMAIN = "northtown.example.nhs.uk"  # the fixture referrer's domain (on the default allow-list)
OFFICER = "officer@partnership.example.gov.uk"
RECEIVED = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
EXCHANGE_PASS = (f"spf=pass (sender IP is 40.107.22.45) smtp.mailfrom={DOMAIN}; dkim=pass (signature "
                 f"was verified) header.d={DOMAIN};dmarc=pass action=none header.from={DOMAIN};"
                 "compauth=pass reason=100")
EXCHANGE_FAIL = (f"spf=fail (sender IP is 203.0.113.9) smtp.mailfrom={DOMAIN}; dkim=none (message not "
                 f"signed) header.d=none;dmarc=fail action=oreject header.from={DOMAIN};compauth=fail reason=000")


def _msg(*results: str):  # type: ignore[no-untyped-def]
    """A message with these Authentication-Results headers, topmost first."""
    head = "".join(f"Authentication-Results: {r}\r\n" for r in results)
    return message_from_bytes((head + f"From: a@{DOMAIN}\r\nSubject: x\r\n\r\nbody\r\n").encode(),
                              policy=policy.default)


@pytest.mark.parametrize(("headers", "passed"), [
    ([f"{OURS}; dmarc=pass (p=none) header.from={DOMAIN}"], True),
    ([f"{OURS}; spf=pass smtp.mailfrom=bounces.{DOMAIN}"], True),  # relaxed alignment: subdomain
    ([f"{OURS}; dkim=pass header.d={DOMAIN} header.s=sel1"], True),
    ([f"{OURS}; spf=pass smtp.mailfrom=mailer.example.com; dkim=pass header.d=mailer.example.com"], False),
    ([f"{OURS}; dmarc=pass header.from=evil{DOMAIN}"], False),  # not aligned: another domain
    ([f"{OURS}; dmarc=fail header.from={DOMAIN}; spf=softfail smtp.mailfrom={DOMAIN}"], False),
    ([f"{OURS}; dmarc=bestguesspass header.from={DOMAIN}"], False),
    ([], False),  # no header at all
    # A sender's own header below ours does not help, whatever it claims and whoever it names.
    ([f"{OURS}; dmarc=fail header.from={DOMAIN}", f"{OURS}; dmarc=pass header.from={DOMAIN}"], False),
    ([f"{OURS}; dmarc=none", f"forger.example; dmarc=pass header.from={DOMAIN}"], False),
    # Another server's header on top: ours is not the topmost (or not there), so nothing vouches.
    ([f"relay.example.net; dmarc=pass header.from={DOMAIN}", f"{OURS}; dmarc=pass header.from={DOMAIN}"], False),
    ([EXCHANGE_PASS], False),  # Exchange's id-less header is not taken for our server's
])
def test_the_verdict_reads_only_the_trusted_topmost_header(headers: list[str], passed: bool) -> None:
    verdict = check(_msg(*headers), DOMAIN, OURS)
    assert verdict.passed is passed, verdict.reason
    if not passed:
        assert verdict.reason.startswith("sender not authenticated")


def test_exchange_onlines_header_without_an_authserv_id_counts_only_when_configured_and_topmost() -> None:
    assert check(_msg(EXCHANGE_PASS), DOMAIN, EXCHANGE_ONLINE).passed
    assert not check(_msg(EXCHANGE_FAIL), DOMAIN, EXCHANGE_ONLINE).passed  # compauth alone never counts
    assert not check(_msg(EXCHANGE_FAIL, EXCHANGE_PASS), DOMAIN, EXCHANGE_ONLINE).passed
    failed = check(_msg(EXCHANGE_FAIL), DOMAIN, EXCHANGE_ONLINE)
    assert "dmarc=fail" in failed.reason and DOMAIN in failed.reason


def _pipeline(engine: Engine, settings: Settings) -> IntakePipeline:
    return IntakePipeline(engine, settings, CaseService(engine, settings), Router(settings))


def _outbox(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def _cases(engine: Engine) -> list[Case]:
    with Session(engine) as session:
        return list(session.exec(select(Case)).all())


def _mail(raw: bytes) -> IncomingMail:
    return IncomingMail(raw=raw, received_at=RECEIVED, mailbox="test", seen_at=RECEIVED)


def _prepend(raw: bytes, *results: str) -> bytes:
    """Headers added on top, as a receiving server does (the last one given ends up topmost)."""
    for result in results:
        raw = f"Authentication-Results: {result}\r\n".encode() + raw
    return raw


@pytest.mark.parametrize("forgery", ["none", "lower", "failed"])
def test_a_spoofed_sender_is_quarantined_a_human_told_and_the_sender_not_answered(
    engine: Engine, tmp_path: Path, forgery: str
) -> None:
    settings = load_settings(data_dir=tmp_path / "var", trusted_authserv_id=OURS, intake_notify=OFFICER)
    raw = referral_mail("docx")
    if forgery == "lower":  # the forger's own "pass", under our server's honest verdict
        raw = _prepend(raw, f"{OURS}; dmarc=pass header.from={DOMAIN}", f"{OURS}; dmarc=fail header.from={DOMAIN}")
    elif forgery == "failed":
        raw = _prepend(raw, f"{OURS}; spf=fail smtp.mailfrom={DOMAIN}; dkim=none; dmarc=fail header.from={DOMAIN}")
    outcome = _pipeline(engine, settings).process(_mail(raw))
    assert (outcome.status, outcome.destination) == ("quarantined", "quarantine")
    assert (outcome.reason or "").startswith("sender not authenticated")
    [notice] = _outbox(engine)  # the officer hears; the (forged) sender gets nothing
    assert notice.recipient == OFFICER and "sender not authenticated" in notice.body
    assert _cases(engine) == []


def test_an_authenticated_sender_opens_its_case(engine: Engine, tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "var", trusted_authserv_id=OURS)
    raw = _prepend(referral_mail("docx"), "forger.example; dmarc=fail",
                   f"{OURS}; spf=pass smtp.mailfrom={DOMAIN}; dkim=pass header.d={DOMAIN}; dmarc=pass header.from={DOMAIN}")
    outcome = _pipeline(engine, settings).process(_mail(raw))
    assert outcome.status == "opened" and outcome.reference
    ack = _outbox(engine)[0]
    assert ack.recipient == f"priya.testwell@{DOMAIN}"


def test_a_mailbox_of_its_own_names_its_own_server(engine: Engine, tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "var", mailboxes=[
        {"name": "test", "host": "outlook.office365.com", "username": "scp@partnership.example.gov.uk",
         "auth": "oauth2", "trusted_authserv_id": EXCHANGE_ONLINE}])
    pipeline = _pipeline(engine, settings)
    assert pipeline.process(_mail(_prepend(referral_mail("docx"), EXCHANGE_PASS))).status == "opened"
    assert pipeline.process(_mail(_prepend(referral_mail("pdf"), EXCHANGE_FAIL))).status == "quarantined"


def test_without_an_authserv_id_the_from_domain_decides_and_status_says_so(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(data_dir=tmp_path / "var")
    assert _pipeline(engine, settings).process(_mail(referral_mail("docx"))).status == "opened"

    monkeypatch.setenv("SAFEGUARD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SAFEGUARD_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    capsys.readouterr()
    assert main(["status"]) == 0
    assert "Sender authentication: off (SAFEGUARD_TRUSTED_AUTHSERV_ID is not set" in capsys.readouterr().out
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sender_authentication"]["enabled"] is False
    monkeypatch.setenv("SAFEGUARD_TRUSTED_AUTHSERV_ID", OURS)
    assert main(["status", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["sender_authentication"]
    assert data["enabled"] is True and data["authserv_ids"] == [OURS]
