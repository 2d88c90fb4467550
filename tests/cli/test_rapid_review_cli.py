"""Issue 14 on the command line, in-process: start, return, meeting, sign-off, sent, draft, status.

The whole run is on SQLite and PostgreSQL (row locks, JSON columns, binary files); the rest on
SQLite. Dates are relative to today, so "late" means late whenever the suite runs.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.rapid_review_report import SECTIONS
from scheduler.calendar import WorkingCalendar, today_in_london
from store.db import make_engine, upgrade
from store.models import OutboxMessage
from tests.support.cli import Cli, cli_on

CHILD = "Jamie Quentin Testchild"

SETTINGS = """
[[partnerships]]
key = "tees"
name = "Tees Safeguarding Children Partnership"
reference_prefix = "TS"
team_email = "team@tees.example.gov.uk"
local_authorities = ["Stockton-on-Tees"]
{extra}
[[partnerships.agencies]]
key = "police"
name = "Cleveland Police"
email = "lead@cleveland.police.uk"
[[partnerships.agencies]]
key = "health"
name = "North Tees NHS Trust"
email = "safeguarding@nhs.net"
[[partnerships.agencies]]
key = "education"
name = "Stockton Schools"
email = "dsl@stockton.gov.uk"
[[partnerships.partners]]
role = "local_authority"
name = "Ann Director"
email = "dcs@stockton.gov.uk"
[[partnerships.partners]]
role = "police"
name = "Det Supt Bob Rowe"
email = "bob.rowe@cleveland.police.uk"
[[partnerships.partners]]
role = "health"
name = "Chief Nurse Cat Lee"
email = "cat.lee@nhs.net"
"""


def _cli(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
         extra: str = "") -> Cli:
    cli = cli_on(engine, tmp_path, monkeypatch, capsys)
    config = tmp_path / "settings.toml"
    config.write_text(SETTINGS.format(extra=extra))
    monkeypatch.setenv("SAFEGUARD_CONFIG_FILE", str(config))
    return cli


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'rr.db'}")
    upgrade(engine)
    return engine


def _outbox(session: Session, kind: str) -> list[OutboxMessage]:
    """The outbox's messages of one kind (the payload is encrypted: filtered here, not in SQL)."""
    return [m for m in session.exec(select(OutboxMessage)).all() if m.payload.get("kind") == kind]


def _docx_file(path: Path, text: str) -> Path:
    document = Document()
    document.add_paragraph(text)
    document.save(str(path))
    return path


def _open_case(cli: Cli, engine: Engine, aware: date) -> str:
    from bot.cases import CaseService
    from bot.settings import load_settings

    cases = CaseService(engine, load_settings())
    view = cases.open_case(la_aware=aware, actor="test", partnership_key="tees", local_authority="Stockton-on-Tees",
                           details={"child": {"name": CHILD, "date_of_birth": "2015-04-02"},
                                    "child_status": ["child in need"]})
    return view.reference


def test_a_whole_rapid_review_on_the_command_line(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    cli = _cli(engine, tmp_path, monkeypatch, capsys)
    today = today_in_london()
    calendar = WorkingCalendar()
    start = calendar.subtract_working_days(today, 20)  # every step's day has come
    ref = _open_case(cli, engine, start - timedelta(days=3))
    cli.ok("case", "record", ref, "panel-notified", "--on", (start - timedelta(days=1)).isoformat())
    started = cli.ok("rapid-review", "start", ref, "--agencies", "police,health,education",
                     "--on", start.isoformat(), "--json").json
    assert set(started) == {"steps", "agencies", "meeting", "signoffs"}
    due = calendar.add_working_days(start, 7).isoformat()
    assert [a["agency"] for a in started["agencies"]] == ["police", "health", "education"]
    assert all(a == {"agency": a["agency"], "requested_on": start.isoformat(), "due": due,
                     "returned_on": None, "status": "late"} for a in started["agencies"])
    assert [s["key"] for s in started["steps"]] == [
        "requests", "agency_summaries", "chase_late", "escalate_late", "meeting", "draft", "signoff", "sent"]
    assert all(set(s) == {"key", "label", "due", "done_on"} for s in started["steps"])
    with Session(engine) as session:
        requests = _outbox(session, "rapid_review_request")
    assert sorted(r.recipient for r in requests) == ["dsl@stockton.gov.uk", "lead@cleveland.police.uk",
                                                     "safeguarding@nhs.net"]
    assert all("J.Q.T." in r.body and "Jamie" not in r.body and ref in r.subject for r in requests)

    summary = _docx_file(tmp_path / "police summary.docx", "Police involvement")
    cli.ok("rapid-review", "return", ref, "police", "--file", str(summary), "--on", (start + timedelta(days=6)).isoformat())
    cli.ok("rapid-review", "return", ref, "health", "--file", str(summary))
    meeting = calendar.add_working_days(start, 10)
    cli.ok("rapid-review", "meeting", ref, "--on", meeting.isoformat())
    cli.ok("rapid-review", "signoff", ref, "local_authority", "--by", "Ann Director")
    cli.ok("rapid-review", "signoff", ref, "police", "--by", "Det Supt Bob Rowe")
    assert "already signed off" in cli.error(2, "rapid-review", "signoff", ref, "police", "--by", "X")
    from bot.cases import CaseService
    from bot.settings import load_settings

    CaseService(engine, load_settings()).record_decision(
        ref, ["decision_national_review", "decision_local_review"], on=meeting, actor="test",
        note="harm: the child died; abuse or neglect: suspected; rule: the LCSPR criteria are met")
    out = tmp_path / "draft.docx"
    assert str(out) in cli.ok("rapid-review", "draft", ref, "-o", str(out)).out
    assert "--reason" in cli.error(2, "rapid-review", "sent", ref, "--on", today.isoformat())
    cli.ok("rapid-review", "sent", ref, "--on", today.isoformat(), "--reason", "health partner on leave")

    status = cli.ok("rapid-review", "status", ref, "--json").json
    assert set(status) == {"steps", "agencies", "meeting", "signoffs"}
    assert status["meeting"] == meeting.isoformat()
    assert [(a["agency"], a["status"]) for a in status["agencies"]] == [
        ("police", "returned"), ("health", "returned"), ("education", "late")]
    assert status["agencies"][0]["returned_on"] == (start + timedelta(days=6)).isoformat()
    assert status["agencies"][1]["returned_on"] == today.isoformat()
    assert status["signoffs"] == [
        {"partner": "local_authority", "by": "Ann Director", "on": today.isoformat()},
        {"partner": "police", "by": "Det Supt Bob Rowe", "on": today.isoformat()}]
    done = {s["key"]: s["done_on"] for s in status["steps"]}
    assert done["requests"] == start.isoformat() and done["meeting"] == meeting.isoformat()
    assert done["draft"] == today.isoformat() and done["sent"] == today.isoformat()
    assert done["agency_summaries"] is None and done["signoff"] is None
    show = cli.ok("case", "show", ref).out
    progress = f"2 of 3 agencies returned, 2 of 3 sign-offs, meeting {meeting:%a} {meeting.day} {meeting:%b}"
    assert progress in show
    assert "rapid-review-sent" in show  # the statutory clock's milestone
    text = cli.ok("rapid-review", "status", ref).out
    assert progress in text and "local practice" in text and "not in the seeds" in text

    document = Document(str(out))
    body = "\n".join(p.text for p in document.paragraphs)
    assert all(heading in body for _, heading in SECTIONS)
    assert "J.Q.T.: age" in body and "Jamie" not in body and "Stockton-on-Tees" in body
    decision = body.split("Decision and rationale against each LCSPR criterion")[1].split("National review")[0]
    assert "A local child safeguarding practice review (LCSPR) is to be commissioned" in decision
    assert "abuse or neglect: suspected" in decision
    national = body.split("National review recommendation")[1].split("Learning and dissemination")[0]
    assert "a national review may be appropriate" in national
    with Session(engine) as session:
        asks = _outbox(session, "rapid_review_signoff_request")
    assert [a.recipient for a in asks] == ["cat.lee@nhs.net"]  # only the partner yet to sign


def test_bad_input_is_one_line_and_changes_nothing(sqlite_engine: Engine, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    cli = _cli(sqlite_engine, tmp_path, monkeypatch, capsys)
    ref = _open_case(cli, sqlite_engine, today_in_london() - timedelta(days=2))
    assert "has no rapid review" in cli.error(2, "rapid-review", "status", ref)
    assert "unknown agency 'fire'; configured: police, health, education" in cli.error(
        2, "rapid-review", "start", ref, "--agencies", "police,fire")
    assert "no case with reference" in cli.error(2, "rapid-review", "start", "TS-2026-9999")
    assert "has no rapid review" in cli.error(2, "rapid-review", "meeting", ref, "--on", "2026-12-15")
    cli.ok("rapid-review", "start", ref, "--agencies", "police")
    assert "already started" in cli.error(2, "rapid-review", "start", ref)
    assert "was not asked" in cli.error(2, "rapid-review", "return", ref, "health")
    assert "cannot read" in cli.error(2, "rapid-review", "return", ref, "police", "--file", str(tmp_path / "none.docx"))
    assert "unknown partner 'fire'" in cli.error(2, "rapid-review", "signoff", ref, "fire", "--by", "X")
    assert ".docx" in cli.error(2, "rapid-review", "draft", ref, "-o", str(tmp_path / "draft.pdf"))
    assert "--on" in cli.error(2, "rapid-review", "meeting", ref, "--on", "2026-02-30")
    assert "before the rapid review started" in cli.error(2, "rapid-review", "meeting", ref, "--on", "2020-01-06")
    status = cli.ok("rapid-review", "status", ref, "--json").json
    assert status["meeting"] is None and status["signoffs"] == []
    assert [a["status"] for a in status["agencies"]] == ["requested"]


def test_the_partnerships_template_and_sharing_rule(sqlite_engine: Engine, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    template = Document()
    template.add_paragraph("Our own rapid review form: {{ reference }} for {{partnership}}")
    template.add_paragraph("{{case_facts}}")
    table = template.add_table(rows=1, cols=1)
    table.cell(0, 0).text = "Partners: {{signoffs}}"
    template.add_paragraph("Keep {{not_ours}} as it is")
    template.save(str(tmp_path / "form.docx"))
    request_form = _docx_file(tmp_path / "agency-form.docx", "Agency summary form")
    cli = _cli(sqlite_engine, tmp_path, monkeypatch, capsys, extra=(
        f'rapid_review_template = "{tmp_path / "form.docx"}"\n'
        f'rapid_review_request_template = "{request_form}"\n'
        "share_child_details_with_agencies = true\n"))
    ref = _open_case(cli, sqlite_engine, today_in_london() - timedelta(days=2))
    cli.ok("rapid-review", "start", ref)  # no --agencies: the partnership's agencies proposed
    with Session(sqlite_engine) as session:
        requests = _outbox(session, "rapid_review_request")
    assert len(requests) == 3
    assert all(CHILD in r.body and "02 April 2015" in r.body for r in requests)  # allowed here
    [attachment] = requests[0].payload["attachments"]
    assert attachment["filename"] == "agency-form.docx" and attachment["encoding"] == "base64"
    out = tmp_path / "ours.docx"
    cli.ok("rapid-review", "draft", ref, "-o", str(out), "--by", "carol@council")
    history = cli.ok("case", "history", ref, "--json").json  # the draft prints the child: a look, audited
    assert [(e["actor"], e["detail"]["via"]) for e in history if e["action"] == "case.child_details_viewed"] \
        == [("carol@council", "rapid-review draft")]
    document = Document(str(out))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == f"Our own rapid review form: {ref} for Tees Safeguarding Children Partnership"
    assert texts[1] == f"Case reference: {ref}" and any("Stockton-on-Tees" in t for t in texts)
    assert "Keep {{not_ours}} as it is" in texts
    assert "0 of 3 safeguarding partners have not yet signed off" not in document.tables[0].cell(0, 0).text
    assert "3 of 3 safeguarding partners have not yet signed off." in document.tables[0].cell(0, 0).text
    assert not any(t == "Case facts" for t in texts)  # the template's layout, not ours


def test_an_email_to_an_agency_can_carry_a_binary_form() -> None:
    from email import message_from_bytes, policy

    from handlers.transports.interface import OutboundMessage
    from handlers.transports.smtp import build_email

    data = b"PK\x03\x04 binary \xff\x00"
    import base64

    mail = build_email(OutboundMessage(1, "email", "a@nhs.net", "s", "b", {"attachments": [{
        "filename": "form.docx", "content_type": "application/vnd.openxmlformats-officedocument."
        "wordprocessingml.document", "data": base64.b64encode(data).decode(), "encoding": "base64"}]}), "bot@x")
    parsed = message_from_bytes(mail.as_bytes(), policy=policy.default)
    [part] = list(parsed.iter_attachments())
    assert part.get_payload(decode=True) == data
    assert io.BytesIO(data).read() == data


def test_a_timeline_that_ends_after_the_statutory_date_is_warned_of(sqlite_engine: Engine, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    cli = _cli(sqlite_engine, tmp_path, monkeypatch, capsys)
    ref = _open_case(cli, sqlite_engine, date(2026, 11, 30))  # rapid review due Mon 21 Dec 2026
    result = cli.ok("rapid-review", "start", ref, "--agencies", "police", "--on", "2026-12-01", "--json")
    assert "Tue 22 Dec 2026" in result.err and "Mon 21 Dec 2026" in result.err
    assert set(result.json) == {"steps", "agencies", "meeting", "signoffs"}  # stdout stays the contract
    other = _open_case(cli, sqlite_engine, date(2026, 11, 30))
    assert cli.ok("rapid-review", "start", other, "--agencies", "police", "--on", "2026-11-30").err == ""


def test_case_record_rapid_review_sent_keeps_the_sign_off_rule(sqlite_engine: Engine, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    cli = _cli(sqlite_engine, tmp_path, monkeypatch, capsys)
    aware = today_in_london() - timedelta(days=10)
    plain = _open_case(cli, sqlite_engine, aware)  # no rapid review run here: the milestone alone
    cli.ok("case", "record", plain, "panel-notified", "--on", aware.isoformat())
    cli.ok("case", "record", plain, "rapid-review-sent", "--on", today_in_london().isoformat())
    ref = _open_case(cli, sqlite_engine, aware)
    cli.ok("case", "record", ref, "panel-notified", "--on", aware.isoformat())
    cli.ok("rapid-review", "start", ref, "--agencies", "police", "--on", aware.isoformat())
    cli.ok("rapid-review", "signoff", ref, "health", "--by", "Chief Nurse Cat Lee")
    on = today_in_london().isoformat()
    assert "only 1 of 3" in cli.error(2, "case", "record", ref, "rapid-review-sent", "--on", on)
    assert cli.ok("case", "show", ref, "--json").json["milestones"][-1]["key"] == "panel-notified"
    shown = cli.ok("case", "record", ref, "rapid-review-sent", "--on", on, "--reason", "police sign-off delayed",
                   "--json").json
    assert shown["milestones"][-1]["note"] == "sent with 1 of 3 sign-offs: police sign-off delayed"
    assert {s["key"]: s["done_on"] for s in cli.ok("rapid-review", "status", ref, "--json").json["steps"]}["sent"] == on
    assert "was sent on" in cli.error(2, "rapid-review", "sent", ref, "--reason", "again")
