"""Who saw a child's details (case show, pack: audited, shown by ``case history``), retention
with a legal hold, and backup/restore round trips on SQLite and PostgreSQL (issue 16)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text, update
from sqlmodel import Session, select

from bot.cases import CaseService
from bot.settings import load_settings
from store.db import make_engine
from store.models import (
    Case,
    CaseSubject,
    MilestoneRow,
    OutboxMessage,
    RapidReviewAgency,
    RapidReviewFile,
)
from tests.support.cli import cli_on

CHILD = "Robin Madeup"


def _case(cases: CaseService, *, summary: str = "found unresponsive at home") -> str:
    view = cases.open_case(la_aware=date(2018, 9, 3), actor="cli:test", summary=summary)
    cases.add_child(view.reference, name=CHILD, date_of_birth=date(2016, 5, 1), nhs_number="9434765919",
                    actor="cli:test")
    cases.record_milestone(view.reference, "panel_notified", on=date(2018, 9, 4), actor="cli:test",
                           note="sent by the DCS")
    return view.reference


def test_case_show_and_pack_views_of_child_details_are_in_case_history(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    cli = cli_on(engine, tmp_path, monkeypatch, capsys)
    reference = _case(CaseService(engine, load_settings()))
    assert CHILD in cli.ok("case", "show", reference, "--with-child-details", "--by", "alice@council").out
    cli.ok("pack", reference, "--by", "bob@council")
    cli.ok("case", "show", reference)  # no child details: not a look at them
    history = cli.ok("case", "history", reference, "--json").json
    looks = [(e["actor"], e["detail"]["via"]) for e in history if e["action"] == "case.child_details_viewed"]
    assert looks == [("alice@council", "case show"), ("bob@council", "pack")]
    table = cli.ok("case", "history", reference).out
    assert "case.child_details_viewed" in table and "alice@council" in table and CHILD not in table


def _closed_long_ago(engine: Engine, cases: CaseService, reference: str, when: datetime) -> None:
    cases.close(reference, reason="review published", actor="cli:test")
    with engine.begin() as conn:
        conn.execute(update(Case).where(Case.reference == reference).values(status_changed_at=when))


def _agency_return(engine: Engine, reference: str) -> int:
    """A rapid review on the case with one agency's returned file; the agency row's id."""
    from store import cases as case_repo
    from store import rapid_review as rapid_repo

    with Session(engine) as session:
        case = case_repo.get_case(session, reference)
        assert case is not None and case.id is not None
        review = rapid_repo.add_review(session, case_id=case.id, token=f"t{case.id:08d}", started_on=date(2018, 9, 5),
                                       started_by="test", steps=[])
        agency = rapid_repo.add_agency(session, rapid_review_id=review.id, agency="police", name="Police",
                                       email="lead@police.example.gov.uk", requested_on=date(2018, 9, 5),
                                       due=date(2018, 9, 12), request_message_id=f"<rr-{case.id}@test>",
                                       returned_on=date(2018, 9, 11))
        rapid_repo.add_file(session, rapid_review_agency_id=agency.id, filename="summary.docx",
                            content_type="application/octet-stream", sha256="0" * 64, size=2, data=b"PK")
        session.commit()
        assert agency.id is not None
        return agency.id


def _sent_message(engine: Engine, reference: str) -> int:
    """A delivered agency request about the case that named the child (a partnership that
    shares details with agencies), with the draft attached; the outbox row's id."""
    from store import cases as case_repo
    from store import outbox

    with Session(engine) as session:
        case = case_repo.get_case(session, reference)
        assert case is not None
        outbox.enqueue(session, transport="email", recipient="lead@police.example.gov.uk",
                       subject=f"[RR-x] Rapid review {reference}", body=f"Child: {CHILD}, born 01 May 2016",
                       dedupe_key=f"rr:test:{reference}", case_id=case.id,
                       payload={"attachments": [{"filename": "draft.docx", "data": "UEsDBA=="}]})
        row = session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == f"rr:test:{reference}")).one()
        row.status = "sent"
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


def test_retention_erases_closed_cases_past_their_period_but_never_a_held_one(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('[[partnerships]]\nkey = "default"\nname = "Testshire SCP"\nreference_prefix = "TS"\n'
                      "retention_years_after_close = 6\n")
    cli = cli_on(engine, tmp_path, monkeypatch, capsys)
    cases = CaseService(engine, load_settings(config))
    old, held, recent, still_open = (_case(cases) for _ in range(4))
    _closed_long_ago(engine, cases, old, datetime(2019, 1, 10, tzinfo=UTC))
    _closed_long_ago(engine, cases, held, datetime(2019, 1, 10, tzinfo=UTC))
    _closed_long_ago(engine, cases, recent, datetime.now(tz=UTC))
    cli.ok("--config", str(config), "case", "hold", held, "--reason", "inquiry preservation order")
    returned = {ref: _agency_return(engine, ref) for ref in (old, held)}
    sent = {ref: _sent_message(engine, ref) for ref in (old, held)}

    dry = cli.ok("--config", str(config), "retention", "--dry-run", "--json").json
    assert dry["applied"] is False
    assert {c["reference"]: c["held"] for c in dry["cases"]} == {old: False, held: True}
    assert dry["cases"][0]["erase_on"] == "2025-01-10"
    with Session(engine) as session:
        assert len(session.exec(select(CaseSubject)).all()) == 4  # a dry run changes nothing

    cli.ok("--config", str(config), "retention", "--apply")
    with Session(engine) as session:
        by_ref = {c.reference: c for c in session.exec(select(Case))}
        by_id = {c.id: c.reference for c in by_ref.values()}
        kept = {by_id[s.case_id] for s in session.exec(select(CaseSubject))}
        assert kept == {held, recent, still_open}
        erased = by_ref[old]
        assert erased.summary is None and erased.erased_at is not None
        assert erased.la_aware_on == date(2018, 9, 3)  # dates and milestones stay for the figures
        [milestone] = session.exec(select(MilestoneRow).where(MilestoneRow.case_id == erased.id)).all()
        assert (milestone.kind, milestone.occurred_on, milestone.note) == ("panel_notified", date(2018, 9, 4), None)
        assert by_ref[held].summary == "found unresponsive at home"
        # The agency's return about the child goes with the rest; who returned it, and when, stays.
        files = {f.rapid_review_agency_id for f in session.exec(select(RapidReviewFile))}
        assert files == {returned[held]}
        assert session.get(RapidReviewAgency, returned[old]) is not None
        # What was sent about the child goes too; to whom, and when, stays.
        gone, kept_message = session.get(OutboxMessage, sent[old]), session.get(OutboxMessage, sent[held])
        assert gone is not None and CHILD not in gone.body and gone.payload == {}
        assert (gone.recipient, gone.status) == ("lead@police.example.gov.uk", "sent")
        assert kept_message is not None and CHILD in kept_message.body and kept_message.payload["attachments"]
    history = cli.ok("case", "history", old, "--json").json
    [erasure] = [e for e in history if e["action"] == "case.erased"]
    assert erasure["detail"]["policy_years"] == 6 and CHILD not in str(erasure)
    assert erasure["detail"]["messages_erased"] == 1
    assert any(e["action"] == "case.hold" for e in cli.ok("case", "history", held, "--json").json)
    again = cli.ok("--config", str(config), "retention", "--apply", "--json").json
    assert [c["reference"] for c in again["cases"]] == [held]  # erased once; the held one still held
    assert cli("--config", str(config), "retention").code == 2  # neither --dry-run nor --apply
    assert cli("case", "hold", held).code == 2  # a hold needs its reason


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one()
                for t in inspect(engine).get_table_names()}


def _raw_subjects(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(r[0], r[1]) for r in conn.execute(text("SELECT name, nhs_number FROM case_subject ORDER BY id"))]


@pytest.fixture
def target_url(engine: Engine, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if engine.dialect.name == "sqlite":
        return f"sqlite:///{tmp_path / 'restored.db'}"
    return str(request.getfixturevalue("fresh_pg_url"))


@pytest.mark.integration
def test_backup_and_restore_round_trip(
        engine: Engine, target_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings()
    cases = CaseService(engine, settings)
    reference = _case(cases)
    from tests.ops.test_encryption_at_rest import _intake

    _intake(engine, load_settings(data_dir=tmp_path / "var"))  # outbox rows (ack, notice)
    before = _counts(engine)
    assert before["reminder"] and before["outbox"] and before["case_subject"]
    cli = cli_on(engine, tmp_path, monkeypatch, capsys)
    backup = tmp_path / "backup.bin"
    assert "Backed up" in cli.ok("backup", "-o", str(backup)).out
    assert b"Robin" not in backup.read_bytes() and b"9434765919" not in backup.read_bytes()

    monkeypatch.setenv("SAFEGUARD_DATABASE_URL", target_url)
    assert "Restored" in cli.ok("restore", str(backup)).out
    restored = make_engine(target_url)
    try:
        assert _counts(restored) == before
        assert _raw_subjects(restored) == _raw_subjects(engine)  # still encrypted, byte for byte
        view = CaseService(restored, settings).get(reference)
        assert view.summary == "found unresponsive at home"
        assert CaseService(restored, settings).details(reference)["children"][0]["name"] == CHILD
        # Into a database that is not empty: refused, nothing touched.
        refused = cli("restore", str(backup))
        assert refused.code == 2 and "not empty" in refused.err
        assert _counts(restored) == before
    finally:
        restored.dispose()
    bogus = tmp_path / "not-a-backup"
    bogus.write_bytes(b"hello")
    assert cli("restore", str(bogus)).code == 2
