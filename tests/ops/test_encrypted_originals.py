"""Referral originals encrypted at rest (issue 16 item 1, the inbox folder's processed/ and
quarantine/), with real files, the real intake pipeline and the real command line:

- after a folder intake of the docx and pdf referrals, no file under the data dir, nor any file
  name, holds the child's name, date of birth, address or NHS number, or the file's own name;
- a quarantined message released comes back byte for byte with its arrival time, and is
  processed again (awareness: the day it first arrived);
- an archive cut short or altered is refused in one line; without a key nothing is touched;
- ``keys rotate`` re-encrypts the archive, and a rotation stopped half way finishes when rerun;
- ``retention --apply`` deletes an erased case's originals (a dry run and a held case keep them);
- originals an older version kept in plain text are encrypted at the first scan, and stay
  releasable before that.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from bot.doctor import checks_for
from bot.runtime import open_runtime
from bot.settings import load_settings
from handlers.mail.folder_watcher import FolderInbox
from handlers.mail.intake import IncomingMail, IntakePipeline
from scheduler.calendar import today_in_london
from store import crypto, originals
from store.db import make_engine, upgrade
from store.models import AuditEntry, Case, IntakeMessage
from tests.conftest import TEST_DATA_KEY
from tests.fixtures import build_referrals as fx
from tests.support.cli import Cli, cli_on
from tests.support.mail import PII, archived_name, distinct_referral, referral_mail

FILE_NAME = f"Referral - {fx.CHILD['name']}.eml"  # what people call the file: the child's name
STRANGER = "Sam Sender <sam@elsewhere.example.org>"  # not on the allow-list: quarantined
DAY_NS = 86_400 * 10**9


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'intake.db'}")
    upgrade(engine)
    return engine


@pytest.fixture
def cli(sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Cli:
    return cli_on(sqlite_engine, tmp_path, monkeypatch, capsys)


def _inbox(config: Path | None = None) -> FolderInbox:
    """The folder inbox on the settings the environment gives now, as ``run`` builds it."""
    settings = load_settings(config)
    runtime = open_runtime(settings)
    return FolderInbox(settings.inbox_dir, IntakePipeline(runtime.engine, settings, runtime.cases, runtime.router))


def _drop(inbox: FolderInbox, name: str, raw: bytes, *, arrived_ns: int | None = None) -> Path:
    """Write then rename, as the inbox expects; ``arrived_ns``: its arrival time (mtime)."""
    inbox.root.mkdir(parents=True, exist_ok=True)
    partial = inbox.root / f".{name}.partial"
    partial.write_bytes(raw)
    if arrived_ns is not None:
        os.utime(partial, ns=(arrived_ns, arrived_ns))
    return partial.rename(inbox.root / name)


def _days_ago(days: int) -> int:
    """An arrival time ``days`` ago, to the nanosecond (so "kept" means kept exactly)."""
    return (time.time_ns() - days * DAY_NS) // 10**9 * 10**9 + 123_456_789


def _rows(engine: Engine) -> list[IntakeMessage]:
    with Session(engine) as session:
        return list(session.exec(select(IntakeMessage).order_by(IntakeMessage.id)).all())


def _traces(raw: bytes) -> list[bytes]:
    """What would give the child away in a stored copy of ``raw``: each detail in plain text,
    the file's own name, and each line of the message's encoded form (the .eml carries the
    docx/pdf base64-encoded, so a plain copy of it shows no name in plain text)."""
    body = raw.split(b"\n\n", 1)[1]
    encoded = [line for line in body.splitlines() if len(line) >= 60]
    assert encoded, "the fixture carries its form as an encoded attachment"
    return [item.encode() for item in PII] + [FILE_NAME.encode(), b"Referral - "] + encoded


def _everything_under(data: Path) -> list[Path]:
    return [p for p in data.rglob("*") if p.is_file()]


@pytest.mark.parametrize("kind", ["docx", "pdf"])
def test_no_child_detail_nor_file_name_under_the_data_dir_after_a_folder_intake(
        kind: str, tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "var")
    runtime = open_runtime(settings)
    inbox = FolderInbox(settings.inbox_dir, IntakePipeline(runtime.engine, settings, runtime.cases, runtime.router))
    opened = referral_mail(kind)
    held = referral_mail(kind, sender=STRANGER)  # the same form from outside the allow-list
    _drop(inbox, FILE_NAME, opened)
    assert sorted(o.status for o in inbox.scan()) == ["opened"]
    _drop(inbox, FILE_NAME, held)
    assert [o.status for o in inbox.scan()] == ["quarantined"]
    view = runtime.cases.details(runtime.cases.list()[0].reference)
    assert view["child"]["name"] == fx.CHILD["name"]  # it was read and stored, not dropped
    runtime.engine.dispose()  # the SQLite WAL checkpointed into the file: every byte it keeps

    files = _everything_under(settings.data_dir)
    assert {p.parent.name for p in files} >= {"processed", "quarantine"}
    assert (settings.inbox_dir / "processed" / archived_name(opened)).exists()
    assert (settings.inbox_dir / "quarantine" / archived_name(held)).exists()
    traces = _traces(opened) + _traces(held)
    for path in files:
        name = str(path.relative_to(settings.data_dir))
        for trace in traces[: len(PII) + 2]:
            assert trace.decode() not in name, f"{name!r} names the child"
        content = path.read_bytes()
        for trace in traces:
            assert trace not in content, f"{name} holds {trace[:40]!r} in plain text"
    # The check would see a plain copy: the stored message is the one that names the child.
    assert all(any(t in raw for t in _traces(raw)[len(PII) + 2:]) for raw in (opened, held))
    assert originals.read_bytes(settings.inbox_dir / "quarantine" / archived_name(held)) == held


def test_a_released_message_comes_back_byte_identical_with_its_arrival_time_and_is_processed_again(
        cli: Cli, monkeypatch: pytest.MonkeyPatch, sqlite_engine: Engine) -> None:
    inbox = _inbox()
    raw = referral_mail("docx", sender="Alex Sender <alex@partner.example.org>")
    arrived = _days_ago(2)
    _drop(inbox, FILE_NAME, raw, arrived_ns=arrived)
    [held] = inbox.scan()
    assert held.status == "quarantined" and held.quarantine_id
    archive = inbox.quarantine / archived_name(raw)
    assert archive.stat().st_mtime_ns == arrived and not (inbox.root / FILE_NAME).exists()

    monkeypatch.setenv("SAFEGUARD_SENDER_DOMAINS", "nhs.uk,partner.example.org")
    assert f"Released {held.quarantine_id}" in cli.ok("intake", "release", held.quarantine_id).out
    released = inbox.root / f"released-{held.quarantine_id}.eml"
    assert released.read_bytes() == raw and released.stat().st_mtime_ns == arrived
    assert sorted(p.name for p in inbox.root.iterdir() if p.is_file()) == [released.name]  # no temporary left
    assert not archive.exists()
    assert (inbox.quarantine / f"{archive.name}.{held.quarantine_id}.released.txt").exists()

    [again] = _inbox().scan()
    assert again.status == "opened" and not released.exists()
    case = cli.ok("case", "show", again.reference or "", "--json").json
    assert case["la_aware"] == today_in_london(datetime.fromtimestamp(arrived / 10**9, tz=UTC)).isoformat()
    assert originals.read_bytes(inbox.processed / archived_name(raw)) == raw


def test_a_person_can_take_a_copy_of_an_original_to_read_and_the_copy_is_audited(
        cli: Cli, tmp_path: Path) -> None:
    """A form the intake could not read is read by a person before they open its case by hand:
    ``intake show ID --save-original FILE`` decrypts it to a new file (mode 0600, its arrival
    time kept), audited with the case it belongs to; nothing is overwritten."""
    inbox = _inbox()
    raw = referral_mail("docx", sender=STRANGER)
    arrived = _days_ago(1)
    _drop(inbox, FILE_NAME, raw, arrived_ns=arrived)
    [held] = inbox.scan()
    qid = held.quarantine_id or ""
    copy = tmp_path / "to-read.eml"
    shown = cli.ok("intake", "show", qid, "--save-original", str(copy), "--by", "dana@council")
    assert copy.read_bytes() == raw and copy.stat().st_mtime_ns == arrived
    assert copy.stat().st_mode & 0o777 == 0o600 and "delete it once read" in shown.err
    assert (inbox.quarantine / archived_name(raw)).exists()  # still held: a copy, not a release
    assert "exists" in cli.error(1, "intake", "show", qid, "--save-original", str(copy))
    assert copy.read_bytes() == raw
    trail = cli.ok("intake", "show", qid, "--json").json["history"]
    assert [(e["actor"], e["action"]) for e in trail if e["action"] == "intake.original_saved"] == [
        ("dana@council", "intake.original_saved")]
    reference = cli.ok("intake", "open-case", qid, "--aware", today_in_london().isoformat(), "--json").json["reference"]
    copy.unlink()
    cli.ok("intake", "show", qid, "--save-original", str(copy), "--by", "erin@council")
    history = cli.ok("case", "history", reference, "--json").json
    assert [e["actor"] for e in history if e["action"] == "intake.original_saved"] == ["erin@council"]


def test_an_original_on_an_imap_mailbox_is_read_on_the_mail_server(
        cli: Cli, sqlite_engine: Engine, tmp_path: Path) -> None:
    from store import intake as ledger

    with Session(sqlite_engine) as session:
        row = ledger.record(session, message_id="<m@x>", message_sha256="a" * 64, status="quarantined",
                            mailbox="social-care", received_at=datetime(2026, 11, 30, tzinfo=UTC))
        session.commit()
        qid = f"Q-{row.id}"
    error = cli.error(1, "intake", "show", qid, "--save-original", str(tmp_path / "x.eml"))
    assert "on the mail server" in error and not (tmp_path / "x.eml").exists()


def test_a_damaged_archive_is_refused_in_one_line(cli: Cli) -> None:
    inbox = _inbox()
    raw = referral_mail("docx", sender=STRANGER)
    _drop(inbox, FILE_NAME, raw)
    [held] = inbox.scan()
    archive = inbox.quarantine / archived_name(raw)
    whole = archive.read_bytes()
    archive.write_bytes(whole[: len(whole) // 2])  # cut short, as a full disk or a bad copy would
    error = cli.error(1, "intake", "release", held.quarantine_id or "")
    assert "damaged" in error and archive.name in error and fx.CHILD["name"] not in error
    assert not list(inbox.root.glob("*.eml")) and not list(inbox.root.glob(".*"))  # nothing half-released
    lines = whole.splitlines(keepends=True)
    archive.write_bytes(lines[0] + lines[1][:-20] + b"AAAAAAAAAAAAAAAAAAAA\n" + b"".join(lines[2:]))  # altered
    assert "altered" in cli.error(1, "intake", "release", held.quarantine_id or "")
    archive.write_bytes(whole)
    assert "Released" in cli.ok("intake", "release", held.quarantine_id or "").out


def test_without_a_key_the_watcher_reads_and_moves_nothing(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    inbox = _inbox_on(tmp_path)
    legacy = inbox.processed / FILE_NAME
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(referral_mail("docx"))
    waiting = _drop(inbox, "referral.eml", referral_mail("docx"))
    crypto.use_keys(None)
    with caplog.at_level(logging.ERROR, logger="handlers.mail.folder_watcher"):
        assert inbox.scan() == [] and inbox.scan() == []
    [line] = [r.getMessage() for r in caplog.records]
    assert "no data key" in line and "left in the inbox" in line and "referral.eml" not in line
    assert waiting.exists() and legacy.exists() and _rows(inbox.pipeline.engine) == []
    assert sorted(p.name for p in inbox.processed.iterdir()) == [FILE_NAME]


def _inbox_on(tmp_path: Path) -> FolderInbox:
    settings = load_settings(data_dir=tmp_path / "var")
    runtime = open_runtime(settings)
    return FolderInbox(settings.inbox_dir, IntakePipeline(runtime.engine, settings, runtime.cases, runtime.router))


def test_keys_rotate_rotates_the_archive_and_a_rotation_stopped_half_way_finishes(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = _inbox()
    messages = [distinct_referral("docx", n) for n in range(3)] + [referral_mail("pdf", sender=STRANGER)]
    for n, raw in enumerate(messages):
        _drop(inbox, f"{n}.eml", raw, arrived_ns=_days_ago(3 - n))
    assert sorted(o.status for o in inbox.scan()) == ["opened"] * 3 + ["quarantined"]
    folders = originals.folders_of(inbox.root)
    archives = originals.archived(folders)
    times = {p.name: p.stat().st_mtime_ns for p in archives}
    assert len(archives) == 4

    new = crypto.generate_key()
    monkeypatch.setenv("SAFEGUARD_DATA_KEY", f"{new},{TEST_DATA_KEY}")
    crypto.use_keys([new, TEST_DATA_KEY])
    # A rotation that stopped after two files (a kill between two renames leaves exactly this:
    # each file whole, under one key or the other).
    for path in archives[:2]:
        assert originals.rotate(path)
    out = cli.ok("keys", "rotate").out
    assert "re-encrypted 2 archived referral original(s)" in out and "(2 already under the current key)" in out
    assert all(originals.is_current(p) for p in originals.archived(folders))
    assert "re-encrypted 0 archived" in cli.ok("keys", "rotate").out  # nothing left to do

    crypto.use_keys([new])  # the old key removed, as the command says
    by_name = {archived_name(raw): raw for raw in messages}
    for path in originals.archived(folders):
        assert originals.read_bytes(path) == by_name[path.name]
        assert path.stat().st_mtime_ns == times[path.name]  # the awareness moment kept


def _closed_long_ago(engine: Engine, reference: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(Case).where(Case.reference == reference)
                     .values(status="closed", status_changed_at=datetime(2019, 1, 10, tzinfo=UTC)))


def _six_years(tmp_path: Path) -> Path:
    """A settings file whose partnership keeps child details six years after a case closes."""
    config = tmp_path / "settings.toml"
    config.write_text('[[partnerships]]\nkey = "default"\nname = "Testshire SCP"\nreference_prefix = "TS"\n'
                      "retention_years_after_close = 6\n")
    return config


def test_retention_deletes_an_erased_cases_originals_and_a_held_case_keeps_them(
        cli: Cli, sqlite_engine: Engine, tmp_path: Path) -> None:
    config = _six_years(tmp_path)
    inbox = _inbox(config)
    erased, held = distinct_referral("docx", 1), distinct_referral("pdf", 2)
    resent = distinct_referral("docx", 1)  # the same form again: updates the first case
    by_hand = referral_mail("html", sender=STRANGER)  # quarantined, then a case opened by hand
    for n, raw in enumerate((erased, held, resent, by_hand)):
        _drop(inbox, f"{n}.eml", raw, arrived_ns=_days_ago(4 - n))
    outcomes = inbox.scan()
    assert [o.status for o in outcomes] == ["opened", "opened", "updated", "quarantined"]
    erased_ref, held_ref = outcomes[0].reference or "", outcomes[1].reference or ""
    quarantine_id = outcomes[3].quarantine_id or ""
    by_hand_ref = cli.ok("--config", str(config), "intake", "open-case", quarantine_id, "--aware", "2018-09-03",
                         "--json").json["reference"]
    for reference in (erased_ref, held_ref, by_hand_ref):
        _closed_long_ago(sqlite_engine, reference)
    cli.ok("--config", str(config), "case", "hold", held_ref, "--reason", "inquiry preservation order")
    kept = {
        "erased": inbox.processed / archived_name(erased), "resent": inbox.processed / archived_name(resent),
        "held": inbox.processed / archived_name(held), "by_hand": inbox.quarantine / archived_name(by_hand),
    }
    assert all(p.exists() for p in kept.values())

    dry = cli.ok("--config", str(config), "retention", "--dry-run", "--json").json
    assert {c["reference"] for c in dry["cases"]} == {erased_ref, held_ref, by_hand_ref}
    assert all(p.exists() for p in kept.values())  # a dry run deletes nothing

    cli.ok("--config", str(config), "retention", "--apply")
    assert [name for name, p in kept.items() if p.exists()] == ["held"]
    assert originals.read_bytes(kept["held"]) == held
    with Session(sqlite_engine) as session:
        details = {e.detail["reference"]: e.detail for e in session.exec(select(AuditEntry))
                   if e.action == "case.erased"}
    assert {ref: d["originals_removed"] for ref, d in details.items()} == {erased_ref: 2, by_hand_ref: 1}


def test_the_original_of_mail_that_never_became_a_case_follows_the_same_period_from_arrival(
        cli: Cli, sqlite_engine: Engine, tmp_path: Path) -> None:
    config = _six_years(tmp_path)
    inbox = _inbox(config)
    old, recent = referral_mail("docx", sender=STRANGER), referral_mail("pdf", sender=STRANGER)
    for n, raw in enumerate((old, recent)):
        _drop(inbox, f"{n}.eml", raw)
    old_q, recent_q = (o.quarantine_id or "" for o in inbox.scan())
    with sqlite_engine.begin() as conn:  # the first arrived in 2018 (the ledger's date: the intake's own)
        conn.execute(update(IntakeMessage).where(IntakeMessage.id == int(old_q[2:]))
                     .values(received_at=datetime(2018, 9, 3, 10, tzinfo=UTC)))
    archive = {q: inbox.quarantine / archived_name(raw) for q, raw in ((old_q, old), (recent_q, recent))}

    dry = cli.ok("--config", str(config), "retention", "--dry-run", "--json").json
    assert dry["cases"] == [] and dry["messages"] == [
        {"id": old_q, "received_on": "2018-09-03", "erase_on": "2024-09-03"}]
    assert all(p.exists() for p in archive.values())
    out = cli.ok("--config", str(config), "retention", "--apply").out
    assert "Mail that never became a case" in out and old_q in out and "original erased" in out
    assert not archive[old_q].exists() and archive[recent_q].exists()
    trail = cli.ok("intake", "show", old_q, "--json").json["history"]
    assert [e["detail"]["policy_years"] for e in trail if e["action"] == "intake.original_erased"] == [6]
    assert cli.ok("--config", str(config), "retention", "--dry-run", "--json").json["messages"] == []
    assert "not kept" in cli.error(1, "intake", "show", old_q, "--save-original", str(tmp_path / "x.eml"))


def test_originals_an_older_version_kept_in_plain_text_are_encrypted_at_the_first_scan(
        cli: Cli, sqlite_engine: Engine) -> None:
    """As an older version left them: processed/<file>.eml, quarantine/<file>.eml with its note
    <file>.eml.reason.txt, a released one's note <file>.eml.Q-n.released.txt, and a message
    quarantined unread (too large), whose ledger hash is of its head and size."""
    inbox = _inbox()
    pipeline = inbox.pipeline
    opened = referral_mail("docx")
    held = referral_mail("docx", sender=STRANGER)
    large = referral_mail("pdf")
    arrived = _days_ago(5)
    when = datetime.fromtimestamp(arrived / 10**9, tz=UTC)
    assert pipeline.process(IncomingMail(raw=opened, received_at=when, mailbox="inbox")).status == "opened"
    quarantined = pipeline.process(IncomingMail(raw=held, received_at=when, mailbox="inbox"))
    head = large.split(b"\n\n", 1)[0] + b"\n\n"
    unread = pipeline.quarantine(IncomingMail(raw=head, received_at=when, mailbox="inbox"), "too large",
                                 unread_size=len(large))
    inbox.processed.mkdir(parents=True)
    inbox.quarantine.mkdir()
    legacy = {
        inbox.processed / FILE_NAME: opened,
        inbox.quarantine / FILE_NAME: held,
        inbox.quarantine / f"Big - {fx.CHILD['name']}.eml": large,
    }
    for path, raw in legacy.items():
        path.write_bytes(raw)
        os.utime(path, ns=(arrived, arrived))
    for path, outcome in ((inbox.quarantine / FILE_NAME, quarantined),
                          (inbox.quarantine / f"Big - {fx.CHILD['name']}.eml", unread)):
        path.with_name(path.name + ".reason.txt").write_text(  # an older version quoted attachment names
            f"status: quarantined\nquarantine id: {outcome.quarantine_id}\n"
            f"reason: attachment 'Jamie Fictional.docx' unreadable\nmessage id: {outcome.message_id}\n")
    (inbox.quarantine / f"Older - {fx.CHILD['name']}.eml.{quarantined.quarantine_id}.released.txt").write_text(
        f"status: quarantined\nquarantine id: {quarantined.quarantine_id}\n")

    assert [c.ok for c in checks_for(load_settings()) if c.part == "originals"] == [False]
    assert inbox.scan() == []
    [c] = [c for c in checks_for(load_settings()) if c.part == "originals"]
    assert c.ok and "3 archived" in c.message
    kept = [*inbox.processed.iterdir(), *inbox.quarantine.iterdir()]
    assert not [p.name for p in kept if fx.CHILD["name"] in p.name or p.name.endswith(".eml")]
    traces = [t for raw in (opened, held) for t in _traces(raw) if t != b"Referral - "]
    assert not [p.name for p in kept for t in traces if t in p.read_bytes()]
    ledger = {r.message_id: r.message_sha256 for r in _rows(sqlite_engine)}
    for path, raw in legacy.items():
        message_id = next(r.message_id for r in _rows(sqlite_engine) if r.message_id in raw.decode("ascii", "replace"))
        archive = path.parent / originals.archive_name(ledger[message_id] or "")
        assert originals.read_bytes(archive) == raw and archive.stat().st_mtime_ns == arrived
    note = (inbox.quarantine / (archived_name(held) + ".reason.txt")).read_text()
    assert f"quarantine id: {quarantined.quarantine_id}" in note
    assert "reason: an attachment unreadable" in note and fx.CHILD["name"] not in note
    assert (inbox.quarantine / f"{archived_name(held)}.{quarantined.quarantine_id}.released.txt").exists()
    assert inbox.scan() == []  # done once; nothing else moves

    # And the upgraded one releases like any other.
    assert "Released" in cli.ok("intake", "release", quarantined.quarantine_id or "").out
    released = inbox.root / f"released-{quarantined.quarantine_id}.eml"
    assert released.read_bytes() == held and released.stat().st_mtime_ns == arrived


def test_a_plain_text_original_of_an_older_version_is_releasable_before_any_scan(cli: Cli) -> None:
    inbox = _inbox()
    raw = referral_mail("docx", sender=STRANGER)
    outcome = inbox.pipeline.process(IncomingMail(raw=raw, received_at=datetime.now(tz=UTC), mailbox="inbox"))
    inbox.quarantine.mkdir(parents=True)
    legacy = inbox.quarantine / FILE_NAME
    legacy.write_bytes(raw)
    arrived = _days_ago(1)
    os.utime(legacy, ns=(arrived, arrived))
    (inbox.quarantine / (FILE_NAME + ".reason.txt")).write_text(f"quarantine id: {outcome.quarantine_id}\n")
    assert "Released" in cli.ok("intake", "release", outcome.quarantine_id or "").out
    released = inbox.root / f"released-{outcome.quarantine_id}.eml"
    assert released.read_bytes() == raw and released.stat().st_mtime_ns == arrived and not legacy.exists()
    assert [p.name for p in inbox.quarantine.iterdir()] == [f"legacy.{outcome.quarantine_id}.released.txt"]


def test_doctor_says_nothing_of_originals_where_there_are_none(tmp_path: Path) -> None:
    assert [c for c in checks_for(load_settings(data_dir=tmp_path / "var")) if c.part == "originals"] == []

