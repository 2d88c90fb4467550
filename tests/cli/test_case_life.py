"""A case's whole life, as a partnership business manager lives it: a referral e-mail reaches
the folder inbox, the case opens with the partnership's default owner, the LA-aware date is
corrected once, the steps are recorded and the case closes itself at its end. Through the
command line (in-process) and the real intake pipeline, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.settings import load_settings
from handlers.mail.folder_watcher import FolderInbox
from handlers.mail.intake import IntakePipeline
from scheduler.calendar import LONDON
from tests.support.cli import Cli, cli_on
from tests.support.mail import PII, referral_mail


@pytest.fixture
def cli(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Cli:
    return cli_on(engine, tmp_path, monkeypatch, capsys)


SETTINGS = '''
[[partnerships]]
key = "northtown"
name = "Northtown Safeguarding Children Partnership"
reference_prefix = "NT"
team_email = "safeguarding@northtown.example.gov.uk"
contact_name = "Pat Example (business manager)"
contact_phone = "01632 960000"
default_owner = "case.officer@northtown.example.gov.uk"
'''


def test_from_a_referral_email_to_closed_with_one_correction(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.runtime import open_runtime

    (tmp_path / "cwd" / "safeguard-bot.toml").write_text(SETTINGS)  # found where it is run
    settings = load_settings()
    runtime = open_runtime(settings)
    inbox = FolderInbox(settings.inbox_dir, IntakePipeline(runtime.engine, settings, runtime.cases, runtime.router))
    arrived = datetime.now(tz=LONDON).replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=14)
    settings.inbox_dir.mkdir(parents=True)
    mail = settings.inbox_dir / "referral.eml"
    mail.write_bytes(referral_mail("docx"))
    os.utime(mail, (arrived.timestamp(), arrived.timestamp()))
    [outcome] = inbox.scan()
    assert outcome.status == "opened"
    ref = outcome.reference
    aware = arrived.date()

    [item] = cli.ok("intake", "list", "--json").json
    assert (item["status"], item["reference"]) == ("opened", ref)
    [listed] = cli.ok("case", "list", "--json").json
    assert listed["reference"] == ref and listed["owner"] == "case.officer@northtown.example.gov.uk"

    # The acknowledgement names the partnership and its contact; the detail is attached.
    import asyncio

    asyncio.run(runtime.sender().drain(datetime.now(tz=LONDON)))
    acks = sorted(settings.outbox_dir.glob("*.eml"))
    ack = next(p.read_text() for p in acks if "Referral received" in p.read_text())
    assert "Northtown Safeguarding Children Partnership" in ack and "Pat Example" in ack
    assert "What happens next" in ack

    # The one correction: the LA knew two days before the e-mail arrived.
    earlier = aware - timedelta(days=2)
    corrected = cli.ok("case", "correct", ref, "--aware", earlier.isoformat(),
                       "--reason", "the LA knew at the strategy meeting two days earlier", "--json").json
    assert corrected["la_aware"] == earlier.isoformat()

    day = (aware + timedelta(days=1)).isoformat()
    for milestone in ("partners-notified", "panel-notified", "rapid-review-sent", "panel-responded"):
        cli.ok("case", "record", ref, milestone, "--on", day)
    final = cli.ok("case", "record", ref, "decision-no-review", "--on", day, "--json").json
    assert final["status"] == "closed"
    assert final["status_reason"].startswith("end reached: no local review")
    assert {d["status"] for d in final["deadlines"]} <= {"met", "missed", "not_applicable"}
    assert cli.ok("case", "list", "--json").json == []
    assert [c["reference"] for c in cli.ok("case", "list", "--status", "closed", "--json").json] == [ref]

    actions = [e["action"] for e in cli.ok("case", "history", ref, "--json").json]
    assert actions[0] == "case.opened" and "case.aware_corrected" in actions and actions[-1] == "case.closed"
    shown = cli.ok("case", "show", ref).out + cli.ok("case", "history", ref).out
    for pii in PII:
        assert pii not in shown
    assert "e-mail from" in cli.ok("case", "show", ref).out
