"""The embedded default: ``<data dir>/inbox/*.eml`` -> case -> ``<data dir>/outbox/``.

Unit tests drive ``FolderInbox.scan`` directly; the end-to-end test runs the real
``safeguard-bot run --headless`` process and only touches files, the way a user would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.runtime import open_runtime
from bot.settings import load_settings
from handlers.mail.folder_watcher import FolderInbox
from handlers.mail.intake import IntakePipeline
from scheduler.calendar import today_in_london
from store import originals
from store.models import AuditEntry, Case, IntakeMessage, OutboxMessage
from tests.support.mail import archived_name, assert_no_pii, new_message_id, referral_mail
from tests.cli.test_cli import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.subprocess]


SENDER = "priya.testwell@northtown.example.nhs.uk"


def wait_until(predicate: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not met within {timeout}s")


def drop(inbox: Path, name: str, raw: bytes) -> Path:
    """Write then rename, as the inbox expects (a half-written file is never read)."""
    inbox.mkdir(parents=True, exist_ok=True)
    temporary = inbox / f".{name}.tmp"
    temporary.write_bytes(raw)
    target = inbox / name
    os.replace(temporary, target)
    return target


@pytest.fixture
def inbox(tmp_path: Path) -> FolderInbox:
    settings = load_settings(data_dir=tmp_path / "var")
    runtime = open_runtime(settings)
    pipeline = IntakePipeline(runtime.engine, settings, runtime.cases, runtime.router)
    return FolderInbox(settings.inbox_dir, pipeline)


def test_scan_moves_each_message_after_its_outcome(inbox: FolderInbox) -> None:
    """Each message is archived, encrypted, under its ledger hash in processed/ or quarantine/
    (with a note), and its plain-text file goes: the archive gives the same bytes back."""
    a, b, c = referral_mail("docx"), referral_mail("scan"), referral_mail("auto_reply")
    drop(inbox.root, "a.eml", a)
    drop(inbox.root, "b.eml", b)
    drop(inbox.root, "c.eml", c)
    (inbox.root / "notes.txt").write_text("not mail")
    outcomes = inbox.scan()
    assert sorted(o.status for o in outcomes) == ["ignored", "opened", "quarantined"]
    assert [p.name for p in inbox.processed.iterdir()] == [archived_name(a)]
    assert sorted(p.name for p in inbox.quarantine.iterdir()) == sorted([
        archived_name(b), archived_name(b) + ".reason.txt", archived_name(c), archived_name(c) + ".reason.txt"])
    reason = (inbox.quarantine / (archived_name(b) + ".reason.txt")).read_text()
    assert "no text layer" in reason and "quarantine id: Q-" in reason
    for raw, folder in ((a, inbox.processed), (b, inbox.quarantine), (c, inbox.quarantine)):
        stored = (folder / archived_name(raw)).read_bytes()
        assert stored.startswith(originals.HEADER) and raw[:200] not in stored
        assert originals.read_bytes(folder / archived_name(raw)) == raw
    assert sorted(p.name for p in inbox.root.iterdir() if p.is_file()) == ["notes.txt"]  # not ours: left alone
    assert inbox.scan() == []


def test_two_messages_under_one_file_name_are_both_kept(inbox: FolderInbox) -> None:
    first, second = referral_mail("docx"), referral_mail("html")
    drop(inbox.root, "a.eml", first)
    inbox.scan()
    drop(inbox.root, "a.eml", second)
    inbox.scan()
    assert sorted(p.name for p in inbox.processed.iterdir()) == sorted([archived_name(first), archived_name(second)])


def test_the_same_message_again_is_not_archived_twice(inbox: FolderInbox) -> None:
    """A re-delivery (or a crash after the archive was written, before the inbox copy went):
    the archive already there is kept as it is and the inbox copy removed."""
    raw = referral_mail("docx")
    drop(inbox.root, "a.eml", raw)
    [first] = inbox.scan()
    archive = inbox.processed / archived_name(raw)
    before = archive.stat()
    drop(inbox.root, "again.eml", raw)
    [again] = inbox.scan()
    assert again.duplicate and again.reference == first.reference
    after = archive.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert list(inbox.processed.iterdir()) == [archive] and not (inbox.root / "again.eml").exists()


def test_a_message_that_keeps_crashing_is_quarantined_not_lost(inbox: FolderInbox) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    inbox.pipeline.process = broken  # type: ignore[method-assign]
    raw = referral_mail("docx")
    drop(inbox.root, "a.eml", raw)
    for _ in range(2):
        inbox.scan()
        assert (inbox.root / "a.eml").exists()
    inbox.scan()
    assert originals.read_bytes(inbox.quarantine / archived_name(raw)) == raw
    assert "RuntimeError" in (inbox.quarantine / (archived_name(raw) + ".reason.txt")).read_text()
    assert not (inbox.root / "a.eml").exists()


@pytest.mark.parametrize(("year", "why"), [(2099, "in the future"), (2001, "implausibly old")])
def test_a_file_dated_out_of_range_counts_from_when_it_was_seen(inbox: FolderInbox, year: int, why: str) -> None:
    """Issue 8 item 6: the mtime is the awareness moment, but not a mtime of 2099 or 2001."""
    path = drop(inbox.root, "a.eml", referral_mail("docx"))
    stamp = datetime(year, 6, 1, 12, 0, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))
    before = today_in_london()
    [outcome] = inbox.scan()
    assert outcome.status == "opened"
    view = inbox.pipeline.cases.get(outcome.reference or "")
    assert before <= view.la_aware <= today_in_london()
    assert [w for w in inbox.pipeline.cases.details(view.reference)["warnings"] if why in w]


def _rows(inbox: FolderInbox, model: type) -> list:  # type: ignore[type-arg]
    with Session(inbox.pipeline.engine) as session:
        return list(session.exec(select(model)).all())


def test_a_crash_three_times_is_recorded_and_both_sides_told(inbox: FolderInbox) -> None:
    """Issue 8 item 2: after three crashes the file was moved with a log line and nobody was
    told. Now: a ledger row and an audit entry, the intake quarantine notice for a human and, as
    the mail is a referral from an allow-listed sender, a threaded "received, a person will look
    at it" reply, all through the outbox."""
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("boom 'Jamie Fictional'")

    inbox.pipeline.process = broken  # type: ignore[method-assign]
    message_id = new_message_id()
    raw = referral_mail("docx", message_id=message_id)
    drop(inbox.root, "a.eml", raw)
    for _ in range(3):
        inbox.scan()
    assert (inbox.quarantine / archived_name(raw)).exists()
    [row] = _rows(inbox, IntakeMessage)
    assert (row.status, row.message_id, row.sender_domain) == ("quarantined", message_id, "northtown.example.nhs.uk")
    assert "RuntimeError" in (row.reason or "")
    quarantine_id = f"Q-{row.id}"
    assert quarantine_id in (inbox.quarantine / (archived_name(raw) + ".reason.txt")).read_text()
    assert [a.action for a in _rows(inbox, AuditEntry)] == ["intake.quarantined"]
    outbox = _rows(inbox, OutboxMessage)
    [reply] = [m for m in outbox if m.recipient == SENDER]
    [notice] = [m for m in outbox if m.recipient == "#default"]
    assert reply.payload["in_reply_to"] == message_id and quarantine_id in reply.body
    assert "a member of the partnership team" in reply.body.lower() and "RuntimeError" not in reply.body
    assert quarantine_id in notice.body and "northtown.example.nhs.uk" in notice.body
    assert "RuntimeError" in notice.body
    for message in outbox:
        assert_no_pii(message.subject + message.body)


def test_a_file_too_large_is_recorded_and_a_human_told(tmp_path: Path) -> None:
    """Issue 8 items 2 and 13: the too-large quarantine was a file move and a log line, at a
    module constant of 100 MiB; now ``intake_max_message_bytes``, as for IMAP."""
    settings = load_settings(data_dir=tmp_path / "var", intake_max_message_bytes=4096)
    runtime = open_runtime(settings)
    inbox = FolderInbox(settings.inbox_dir, IntakePipeline(runtime.engine, settings, runtime.cases, runtime.router))
    assert inbox.max_message_bytes == 4096
    message_id = new_message_id()
    raw = referral_mail("docx", message_id=message_id)
    path = drop(inbox.root, "big.eml", raw)
    arrived = path.stat().st_mtime_ns
    inbox.scan()
    [row] = _rows(inbox, IntakeMessage)
    assert row.status == "quarantined" and "too large" in (row.reason or "") and row.message_id == message_id
    # Archived whole (streamed, a chunk at a time), under the ledger's hash of its head and size.
    archive = inbox.quarantine / originals.archive_name(row.message_sha256 or "")
    assert originals.read_bytes(archive) == raw and archive.stat().st_mtime_ns == arrived
    assert not path.exists()
    outbox = _rows(inbox, OutboxMessage)
    [notice] = [m for m in outbox if m.recipient == "#default"]
    [reply] = [m for m in outbox if m.recipient == SENDER]
    assert f"Q-{row.id}" in notice.body and "too large" in notice.body
    assert reply.payload["in_reply_to"] == message_id and "too large" in reply.body


def test_run_headless_reads_the_inbox_folder_end_to_end(cli_env: dict[str, str], tmp_path: Path) -> None:
    data = Path(cli_env["SAFEGUARD_DATA_DIR"])
    env = dict(cli_env, PYTHONPATH=str(ROOT))
    message_id = new_message_id()
    raw = referral_mail("docx", message_id=message_id)
    drop(data / "inbox", "referral.eml", raw)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--headless"], env=env, cwd=ROOT,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_until(lambda: (data / "inbox" / "processed" / archived_name(raw)).exists(), 60, "message processed")
        wait_until(lambda: len(list((data / "outbox").glob("*.eml"))) == 1, 30, "acknowledgement written")
        bomb = referral_mail("zip_bomb")
        drop(data / "inbox", "unreadable.eml", bomb)
        wait_until(lambda: (data / "inbox" / "quarantine" / (archived_name(bomb) + ".reason.txt")).exists(), 30,
                   "bomb quarantined")
        wait_until(lambda: len(list((data / "outbox").glob("*.eml"))) == 2, 30, "sender told")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert "inbox" in err
    finally:
        if process.poll() is None:
            process.kill()
    ack_file = sorted((data / "outbox").glob("*.eml"))[0]
    ack = message_from_bytes(ack_file.read_bytes(), policy=policy.default)
    assert ack["In-Reply-To"] == message_id and ack["To"] == "priya.testwell@northtown.example.nhs.uk"
    assert [p.get_filename() for p in ack.iter_attachments()][0].endswith("-deadlines.ics")
    channel = [json.loads(p.read_text()) for p in (data / "outbox").glob("*-folder.json")]
    notices = [m for m in channel if m["recipient"] == "#default"]
    assert len(notices) == 2  # the new case, and the quarantined bomb
    for message in channel:
        assert_no_pii(message["body"])
    settings = load_settings(data_dir=data)
    engine = open_runtime(settings).engine
    with Session(engine) as session:
        assert len(session.exec(select(Case)).all()) == 1


def test_killed_between_fetch_and_commit_then_restarted_gives_one_case(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """SIGKILL with the file read but nothing committed, then again with the case committed but
    the file not yet moved: each time the file is still in the inbox, and a restart makes one
    case and one acknowledgement of it, never two."""
    data = Path(cli_env["SAFEGUARD_DATA_DIR"])
    env = dict(cli_env, PYTHONPATH=str(ROOT))
    message_id = new_message_id()
    raw = referral_mail("docx", message_id=message_id)
    drop(data / "inbox", "referral.eml", raw)
    settings = load_settings(data_dir=data)

    def state() -> tuple[int, int, bool]:
        engine = open_runtime(settings).engine
        with Session(engine) as session:
            cases = len(session.exec(select(Case)).all())
            acks = len([m for m in session.exec(select(OutboxMessage)).all() if m.recipient == SENDER])
        engine.dispose()
        return cases, acks, (data / "inbox" / "referral.eml").exists()

    for stage, expected in (("after_fetch", 0), ("after_commit", 1)):
        marker = tmp_path / f"{stage}.pid"
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.paused_service", stage, str(marker)], env=env, cwd=ROOT,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        try:
            wait_until(marker.exists, 60, f"watcher paused {stage}")
            assert int(marker.read_text()) == process.pid
            process.send_signal(signal.SIGKILL)
            process.wait(30)
        finally:
            if process.poll() is None:
                process.kill()
        assert state() == (expected, expected, True), stage

    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--headless"], env=env, cwd=ROOT,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_until(lambda: (data / "inbox" / "processed" / archived_name(raw)).exists(), 60, "archived after restart")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
    finally:
        if process.poll() is None:
            process.kill()
    assert state() == (1, 1, False)
    acks = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in (data / "outbox").glob("*.eml")]
    assert [ack["In-Reply-To"] for ack in acks] == [message_id]
