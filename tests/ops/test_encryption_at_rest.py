"""Encryption at rest of what identifies a child (issue 16 item 1): after a real intake, the
SQLite file and a PostgreSQL dump hold no name, date of birth, address or NHS number; keys
rotate, and a rotation SIGKILLed half way leaves everything readable and finishes when rerun;
the migration encrypts rows written before it; ``run`` refuses to start without a key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from bot.cases import CaseService
from bot.routing import Router
from bot.settings import Settings
from handlers.mail.intake import IncomingMail, IntakePipeline
from store import crypto
from store.db import make_engine, upgrade
from store.models import Case, CaseSubject
from tests.conftest import TEST_DATA_KEY
from tests.support.cli import cli_on, engine_url
from tests.support.mail import PII, new_message_id, referral_mail

ROOT = Path(__file__).resolve().parents[2]
RECEIVED = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)


def _intake(engine: Engine, settings: Settings) -> str:
    pipeline = IntakePipeline(engine, settings, CaseService(engine, settings), Router(settings))
    outcome = pipeline.process(IncomingMail(raw=referral_mail("docx", message_id=new_message_id()),
                                            received_at=RECEIVED, mailbox="test", seen_at=RECEIVED))
    assert outcome.status == "opened" and outcome.reference
    # Readable through the service with the key: the details were stored, not dropped.
    assert pipeline.cases.details(outcome.reference)["child"]["nhs_number"] == "9434765919"
    return outcome.reference


def _dump(engine: Engine) -> bytes:
    """Every byte the database keeps: the SQLite file and its WAL, or a pg_dump."""
    if engine.dialect.name == "sqlite":
        engine.dispose()  # the last connection to close checkpoints the WAL into the file
        file = Path(str(engine.url.database))
        return b"".join(p.read_bytes() for p in (file, Path(f"{file}-wal")) if p.exists())
    url = engine.url
    return subprocess.run(
        ["pg_dump", "-h", str(url.host), "-p", str(url.port or 5432), "-U", str(url.username),
         "--data-only", str(url.database)], check=True, capture_output=True, timeout=60).stdout


def test_no_child_detail_in_the_database_files_after_an_intake(engine: Engine, settings: Settings) -> None:
    _intake(engine, settings)
    dump = _dump(engine)
    assert b"enc1:" in dump  # the encrypted columns are there...
    for item in PII:  # ...and nothing identifying a child, in any table
        assert item.encode() not in dump, f"{item!r} is stored in plain text"


def test_an_agency_request_carrying_the_childs_details_is_encrypted_in_the_outbox(
        engine: Engine, tmp_path: Path) -> None:
    """A partnership that shares the child's details with agencies puts the name and date of
    birth in each request's e-mail body; the outbox row waits (and stays) in the database, so
    its body is encrypted too, and still delivered as written."""
    from bot.rapid_review import RapidReviewService
    from bot.settings import AgencySettings, PartnershipSettings
    from store.models import OutboxMessage

    partnership = PartnershipSettings(
        share_child_details_with_agencies=True,
        agencies=[AgencySettings(key="police", name="Northtown Police", email="lead@northtown.police.uk"),
                  AgencySettings(key="health", name="Northtown NHS Trust", email="safeguarding@nhs.net")])
    settings = Settings(data_dir=tmp_path / "var", partnerships=[partnership])
    reference = _intake(engine, settings)
    RapidReviewService(CaseService(engine, settings)).start(reference, agencies=None, actor="test")
    with Session(engine) as session:
        bodies = [row.body for row in session.exec(select(OutboxMessage))
                  if row.payload.get("kind") == "rapid_review_request"]
    assert len(bodies) == 2 and all(PII[0] in body for body in bodies)  # shared, as the partnership asked
    dump = _dump(engine)
    for item in PII:
        assert item.encode() not in dump, f"{item!r} is stored in plain text"


def test_outbox_bodies_written_before_encryption_are_encrypted_by_the_migration(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine, "0014_data_protection")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO outbox (transport, recipient, subject, body, payload, dedupe_key, status, attempts, "
            "next_attempt_at, created_at) VALUES ('email', 'lead@northtown.police.uk', 'RR', "
            "'Child: Jamie Fictional, born 04 January 2012', :payload, 'k1', 'pending', 0, "
            "'2026-11-02', '2026-11-02')"),
            {"payload": '{"attachments": [{"filename": "draft.docx", "data": "UEsDBA=="}]}'})
    upgrade(engine)
    with engine.connect() as conn:
        body, payload = conn.execute(text("SELECT body, payload FROM outbox")).one()
    assert body.startswith(crypto.PREFIX) and "Jamie" not in body
    assert payload.startswith(crypto.PREFIX) and "draft.docx" not in payload
    from store.models import OutboxMessage

    with Session(engine) as session:  # delivered as it was written
        row = session.exec(select(OutboxMessage)).one()
        assert row.body == "Child: Jamie Fictional, born 04 January 2012"
        assert row.payload == {"attachments": [{"filename": "draft.docx", "data": "UEsDBA=="}]}
    engine.dispose()


def _subjects(engine: Engine, n: int) -> None:
    cases = CaseService(engine, Settings())
    view = cases.open_case(la_aware=date(2026, 11, 2), summary="a serious incident", actor="test")
    for i in range(n):
        cases.add_child(view.reference, name=f"Child Number{i}", date_of_birth=date(2015, 1, 1 + i),
                        nhs_number=None, actor="test")


def _raw(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT name FROM case_subject ORDER BY id"))]


def _wait_for(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.integration
@pytest.mark.subprocess
def test_key_rotation_killed_half_way_is_readable_and_finishes_when_rerun(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = TEST_DATA_KEY, crypto.generate_key()
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    _subjects(engine, 6)  # under the old key
    before = _raw(engine)
    marker = tmp_path / "paused"
    env = {**os.environ, "SAFEGUARD_DATABASE_URL": engine_url(engine), "SAFEGUARD_DATA_KEY": f"{new},{old}",
           "SAFEGUARD_DATA_DIR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.paused_rotation", str(marker)], env=env)
    try:
        _wait_for(lambda: marker.exists() and marker.read_text() != "")
        os.kill(proc.pid, signal.SIGKILL)  # mid-rotation, as a power cut would
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    crypto.use_keys([new, old])
    rows = _raw(engine)
    rotated = [r for r in rows if crypto.is_current(r)]
    assert rotated and len(rotated) < len(rows)  # the kill came half way
    with Session(engine) as session:  # everything still readable with both keys
        assert {s.name for s in session.exec(select(CaseSubject))} == {f"Child Number{i}" for i in range(6)}
    # Run again (the command a user types): it carries on and finishes.
    cli = cli_on(engine, tmp_path, monkeypatch, capsys)
    monkeypatch.setenv("SAFEGUARD_DATA_KEY", f"{new},{old}")
    result = cli.ok("keys", "rotate")
    assert "re-encrypted" in result.out
    assert all(crypto.is_current(r) for r in _raw(engine))
    assert set(_raw(engine)).isdisjoint(before)
    crypto.use_keys([new])  # the old key can go now
    with Session(engine) as session:
        assert min(s.date_of_birth for s in session.exec(select(CaseSubject))) == date(2015, 1, 1)
        assert session.exec(select(Case)).one().summary == "a serious incident"
    engine.dispose()


def test_migration_encrypts_rows_written_in_plain_text(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine, "0011_case_management")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO partnership (key, name, reference_prefix, created_at) "
                          "VALUES ('default', 'P', 'SG', '2026-01-01')"))
        conn.execute(text(
            "INSERT INTO case_file (reference, partnership_id, year, sequence, status, la_aware_on, summary, "
            "opened_by, opened_at, updated_at) VALUES ('SG-2026-001', 1, 2026, 1, 'open', '2026-11-02', "
            "'Jamie was found', 'test', '2026-11-02', '2026-11-02')"))
        conn.execute(text(
            "INSERT INTO case_subject (case_id, name, date_of_birth, nhs_number, details, recorded_by, "
            "recorded_at) VALUES (1, 'Jamie Fictional', '2012-01-04', '9434765919', "
            "'{\"address\": \"1 Imaginary Lane\"}', 'test', '2026-11-02')"))
    upgrade(engine)
    dump = _dump(engine)
    for item in (b"Jamie", b"9434765919", b"2012-01-04", b"Imaginary Lane"):
        assert item not in dump
    with Session(engine) as session:
        subject = session.exec(select(CaseSubject)).one()
        assert (subject.name, subject.date_of_birth, subject.details["address"]) == (
            "Jamie Fictional", date(2012, 1, 4), "1 Imaginary Lane")
    engine.dispose()


def test_without_a_key_free_text_works_and_child_details_are_refused_in_one_line(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """No key configured: a case and its free text can be kept (unencrypted, as typed, until a
    key is set), but a child's details are refused in one line that says how to make a key."""
    cli = cli_on(engine, tmp_path, monkeypatch, capsys)
    monkeypatch.delenv("SAFEGUARD_DATA_KEY")
    crypto.use_keys(None)
    ref = cli.ok("case", "open", "--aware", "2026-11-30", "--summary", "Referral by telephone", "--json").json["reference"]
    assert cli.ok("case", "show", ref, "--json").json["summary"] == "Referral by telephone"
    refused = cli.error(2, "case", "child", "add", ref, "--name", "Robin Example")
    assert "no data key" in refused and "safeguard-bot keys generate" in refused
    with Session(engine) as session:
        assert session.exec(select(CaseSubject)).all() == []
    key = cli.ok("keys", "generate").out.strip()
    assert crypto.parse_keys(key) == [key]
    monkeypatch.setenv("SAFEGUARD_DATA_KEY", "not-a-key")
    bad = cli("keys", "rotate")
    assert bad.code == 2 and "SAFEGUARD_DATA_KEY" in bad.err and "not-a-key" not in bad.err


@pytest.mark.integration
@pytest.mark.subprocess
def test_run_without_a_key_serves_with_the_intake_off(cli_env: dict[str, str], tmp_path: Path) -> None:
    """`run` on the embedded defaults still serves (README), but without a key the mail intake,
    which stores child details, stays off and says how to make a key: the referral waits in
    the inbox, unread and not lost."""
    env = {k: v for k, v in cli_env.items() if k != "SAFEGUARD_DATA_KEY"}
    env["SAFEGUARD_DATA_DIR"] = str(tmp_path / "var")
    inbox = tmp_path / "var" / "inbox"
    inbox.mkdir(parents=True)
    (inbox / "referral.eml").write_bytes(referral_mail("docx", message_id=new_message_id()))
    process = subprocess.Popen([sys.executable, "-m", "bot", "run", "--headless"], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        deadline = time.monotonic() + 60
        while "No data key" not in line:
            assert line and time.monotonic() < deadline, "run ended without the no-key notice"
            line = process.stderr.readline()
        assert "mail intake is off" in line and "safeguard-bot keys generate" in line
        assert process.poll() is None  # still serving
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert (inbox / "referral.eml").exists() and not (inbox / "processed").exists()


def test_rotate_with_a_new_key_in_the_key_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    _subjects(engine, 2)  # under the test key
    cli = cli_on(engine, tmp_path, monkeypatch, capsys)
    key_file = tmp_path / "data.key"
    key_file.write_text(TEST_DATA_KEY + "\n")
    key_file.chmod(0o600)
    monkeypatch.delenv("SAFEGUARD_DATA_KEY")
    monkeypatch.setenv("SAFEGUARD_DATA_KEY_FILE", str(key_file))
    assert cli("keys", "rotate", "--new-key").code == 0
    new, old = key_file.read_text().split()
    assert old == TEST_DATA_KEY and new != old and key_file.stat().st_mode & 0o777 == 0o600
    key_file.write_text(new + "\n")  # the old key removed, as the command says
    crypto.use_keys([new])
    with Session(engine) as session:
        assert {s.name for s in session.exec(select(CaseSubject))} == {"Child Number0", "Child Number1"}
    monkeypatch.setenv("SAFEGUARD_DATA_KEY_FILE", str(tmp_path / "missing.key"))
    bad = cli("keys", "rotate")
    assert bad.code == 2 and "SAFEGUARD_DATA_KEY_FILE" in bad.err
    engine.dispose()
