"""Issue 11 item 7: quarantined mail made workable, through the command line (in-process), on
SQLite and PostgreSQL, with the real folder inbox and intake pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.settings import load_settings
from handlers.mail.folder_watcher import FolderInbox
from handlers.mail.intake import IntakePipeline
from store import originals
from tests.support.cli import Cli, cli_on
from tests.support.mail import archived_name, referral_mail


@pytest.fixture
def cli(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Cli:
    return cli_on(engine, tmp_path, monkeypatch, capsys)


def _inbox() -> FolderInbox:
    """The folder inbox on the settings the environment gives now (as ``run`` builds it)."""
    from bot.runtime import open_runtime

    settings = load_settings()
    runtime = open_runtime(settings)
    return FolderInbox(settings.inbox_dir, IntakePipeline(runtime.engine, settings, runtime.cases, runtime.router))


def _drop(inbox: FolderInbox, name: str, raw: bytes) -> None:
    inbox.root.mkdir(parents=True, exist_ok=True)
    (inbox.root / f".{name}").write_bytes(raw)
    (inbox.root / f".{name}").rename(inbox.root / name)


def test_list_show_release_and_open_case(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = _inbox()
    a = referral_mail("docx", sender="Alex Sender <alex@partner.example.org>")
    b = referral_mail("plain", sender="Sam Sender <sam@other.example.org>")
    _drop(inbox, "a.eml", a)
    _drop(inbox, "b.eml", b)
    assert sorted(o.status for o in inbox.scan()) == ["quarantined", "quarantined"]
    listed = cli.ok("intake", "list", "--json").json
    assert [i["status"] for i in listed] == ["quarantined", "quarantined"]
    for item in listed:
        assert {"id", "received_at", "sender_domain", "status", "reason"} <= item.keys()
        assert item["id"].startswith("Q-")
    by_domain = {i["sender_domain"]: i["id"] for i in listed}
    first, second = by_domain["partner.example.org"], by_domain["other.example.org"]
    human = cli.ok("intake", "list").out
    assert first in human and "partner.example.org" in human
    shown = cli.ok("intake", "show", first).out
    assert "allow" in shown.lower() and "intake release" in shown

    # The allow-list is fixed; the message is released and processed again.
    monkeypatch.setenv("SAFEGUARD_SENDER_DOMAINS", "nhs.uk,partner.example.org")
    released = cli.ok("intake", "release", first).out
    assert f"Released {first}" in released
    assert (inbox.root / f"released-{first}.eml").read_bytes() == a
    assert not (inbox.quarantine / archived_name(a)).exists()
    assert (inbox.quarantine / f"{archived_name(a)}.{first}.released.txt").exists()
    outcomes = _inbox().scan()
    assert [o.status for o in outcomes] == ["opened"]
    reference = outcomes[0].reference
    after = {i["id"]: i for i in cli.ok("intake", "list", "--json").json}
    assert after[first]["status"] == "opened" and after[first]["reference"] == reference
    history = cli.ok("intake", "show", first, "--json").json["history"]
    assert [e["action"] for e in history][:2] == ["intake.quarantined", "intake.released"]

    # The other one is opened by hand.
    opened = cli.ok("intake", "open-case", second, "--aware", "2026-11-20", "--json").json
    assert opened["la_aware"] == "2026-11-20"
    after = {i["id"]: i for i in cli.ok("intake", "list", "--json").json}
    assert after[second]["status"] == "opened" and after[second]["reference"] == opened["reference"]
    assert "already has case" in cli.error(2, "intake", "open-case", second, "--aware", "2026-11-20")
    assert "not held" in cli.error(2, "intake", "release", second)
    assert "no intake message" in cli.error(2, "intake", "show", "Q-999")
    assert "not an intake id" in cli.error(2, "intake", "show", "banana")
    # Nothing was lost: both messages are still on disk, encrypted.
    assert originals.read_bytes(inbox.quarantine / archived_name(b)) == b
    assert originals.read_bytes(inbox.processed / archived_name(a)) == a


@pytest.fixture
def sqlite_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """The IMAP path once, on SQLite (its database side is the folder test's, on both)."""
    from store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'imap.db'}")
    upgrade(engine)
    return cli_on(engine, tmp_path, monkeypatch, capsys)


@pytest.mark.integration
@pytest.mark.dovecot
def test_release_from_an_imap_quarantine_folder(sqlite_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """On Dovecot: the quarantined message goes back to INBOX and is processed again there."""
    cli = sqlite_cli
    from handlers.mail.imap_watcher import ImapWatcher, connect
    from tests.conftest import require_server
    from tests.support.dovecot import DOVECOT, PASSWORD, Dovecot

    require_server(DOVECOT is not None, "dovecot is not installed (apt-get install dovecot-imapd)")
    server = Dovecot(users=1).start()
    try:
        user = server.add_user()
        for name, value in (("HOST", "127.0.0.1"), ("PORT", str(server.port)), ("USERNAME", user),
                            ("PASSWORD", PASSWORD), ("SECURITY", "plain")):
            monkeypatch.setenv(f"SAFEGUARD_IMAP_{name}", value)

        def scan() -> list:
            from bot.runtime import open_runtime

            settings = load_settings()
            runtime = open_runtime(settings)
            [box_settings] = settings.imap_mailboxes()
            watcher = ImapWatcher(box_settings, IntakePipeline(runtime.engine, settings, runtime.cases, runtime.router))
            with connect(box_settings) as box:
                watcher.ensure_folders(box)
                return watcher.scan(box)

        server.append(user, referral_mail("docx", sender="Alex Sender <alex@partner.example.org>"))
        assert [o.status for o in scan()] == ["quarantined"]
        assert server.count(user, "Quarantine") == 1
        [item] = cli.ok("intake", "list", "--json").json
        monkeypatch.setenv("SAFEGUARD_SENDER_DOMAINS", "nhs.uk,partner.example.org")
        assert "back in INBOX" in cli.ok("intake", "release", item["id"]).out
        assert (server.count(user, "INBOX"), server.count(user, "Quarantine")) == (1, 0)
        assert [o.status for o in scan()] == ["opened"]
        assert server.count(user, "Processed") == 1
        [after] = cli.ok("intake", "list", "--json").json
        assert after["id"] == item["id"] and after["status"] == "opened"
    finally:
        server.stop()
