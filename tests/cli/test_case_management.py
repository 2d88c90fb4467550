"""Issue 11: corrections, ends, owners, history, children; in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.support.cli import Cli, cli_on


@pytest.fixture
def cli(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Cli:
    return cli_on(engine, tmp_path, monkeypatch, capsys)


def _milestone(show: dict, key: str) -> dict:
    return next(m for m in show["milestones"] if m["key"] == key)


def _deadline(show: dict, key: str) -> dict:
    return next(d for d in show["deadlines"] if d["key"] == key)


def test_amend_a_wrong_year_turns_missed_into_met(cli: Cli, engine: Engine) -> None:
    ref = cli.open("2026-11-02")
    cli.ok("case", "record", ref, "panel-notified", "--on", "2027-11-05")  # wrong year: future
    assert _deadline(cli.ok("case", "show", ref, "--json").json, "panel_notification")["status"] == "missed"
    result = cli.ok("case", "amend", ref, "panel-notified", "--on", "2026-11-05",
                    "--reason", "typed the wrong year", "--json")
    show = result.json
    milestone = _milestone(show, "panel-notified")
    assert milestone["on"] == "2026-11-05" and milestone["amended_from"] == "2027-11-05"
    assert milestone["voided"] is False
    assert _deadline(show, "panel_notification")["status"] == "met"
    assert show["status"] == "open"
    history = cli.ok("case", "history", ref, "--json").json
    amend = [e for e in history if e["action"] == "milestone.amended"]
    assert amend and amend[0]["detail"]["reason"] == "typed the wrong year"
    assert amend[0]["detail"]["from"] == "2027-11-05"
    human = cli.ok("case", "history", ref).out
    assert "milestone.amended" in human and "typed the wrong year" in human


def test_corrections_obey_the_recording_rules(cli: Cli) -> None:
    ref = cli.open("2026-11-02")
    cli.ok("case", "record", ref, "panel-notified", "--on", "2026-11-04")
    cli.ok("case", "record", ref, "rapid-review-sent", "--on", "2026-11-10")
    assert "before panel-notified" in cli.error(
        2, "case", "amend", ref, "rapid-review-sent", "--on", "2026-11-03", "--reason", "x")
    assert "before the LA became aware" in cli.error(
        2, "case", "amend", ref, "panel-notified", "--on", "2026-10-30", "--reason", "x")
    assert "panel-notified" in cli.error(2, "case", "void", ref, "panel-notified", "--reason", "x")
    assert "reason" in cli.error(2, "case", "amend", ref, "panel-notified", "--on", "2026-11-05", "--reason", " ")
    assert "--reason" in cli.error(2, "case", "void", ref, "panel-notified")
    assert "before the LA became aware" in cli.error(
        2, "case", "correct", ref, "--aware", "2026-11-05", "--reason", "x")
    assert "no partners-notified recorded" in cli.error(
        2, "case", "void", ref, "partners-notified", "--reason", "x")
    assert "no case" in cli.error(2, "case", "void", "SG-1999-0001", "panel-notified", "--reason", "x")
    assert "no case with reference" in cli.error(2, "case", "show", "SG-1999-0001")
    future = cli.ok("case", "amend", ref, "rapid-review-sent", "--on", "2099-01-05", "--reason", "x")
    assert "in the future" in future.err


def test_void_reopens_the_deadline_and_its_reminders(cli: Cli, engine: Engine) -> None:
    ref = cli.open("2026-11-02")
    cli.ok("case", "record", ref, "panel-notified", "--on", "2026-11-04")
    cli.ok("case", "record", ref, "rapid-review-sent", "--on", "2026-11-10")
    show = cli.ok("case", "void", ref, "rapid-review-sent", "--reason", "recorded on the wrong case",
                  "--json").json
    assert _milestone(show, "rapid-review-sent")["voided"] is True
    assert _deadline(show, "rapid_review")["status"] == "open"
    assert all(d["key"] != "panel_response" for d in show["deadlines"])
    with engine.connect() as conn:
        rows = dict(conn.execute(text(
            "SELECT d.key, d.status FROM deadline d JOIN case_file c ON c.id = d.case_id "
            "WHERE c.reference = :r"), {"r": ref}).all())
        pending = conn.execute(text(
            "SELECT count(*) FROM reminder r JOIN case_file c ON c.id = r.case_id "
            "WHERE c.reference = :r AND r.deadline_key = 'rapid_review' AND r.status = 'pending'"),
            {"r": ref}).scalar()
        stale = conn.execute(text(
            "SELECT count(*) FROM reminder r JOIN case_file c ON c.id = r.case_id "
            "WHERE c.reference = :r AND r.deadline_key = 'panel_response' AND r.status = 'pending'"),
            {"r": ref}).scalar()
    assert rows["rapid_review"] == "open" and rows["panel_response"] == "not_applicable"
    assert pending and not stale
    cli.ok("case", "record", ref, "rapid-review-sent", "--on", "2026-11-11")  # recorded again


def test_correct_awareness_moves_the_deadlines(cli: Cli) -> None:
    ref = cli.open("2026-11-02")
    show = cli.ok("case", "correct", ref, "--aware", "2026-11-09", "--reason", "date on the form was wrong",
                  "--json").json
    assert show["la_aware"] == "2026-11-09" and show["reference"] == ref
    assert _deadline(show, "panel_notification")["due"] == "2026-11-16"
    assert "already has" in cli.error(2, "case", "correct", ref, "--aware", "2026-11-09", "--reason", "x")


def test_withdraw_stops_deadlines_and_reminders_and_keeps_the_audit(cli: Cli, engine: Engine) -> None:
    ref = cli.open("2026-11-02")
    show = cli.ok("case", "withdraw", ref, "--reason", "duplicate of another case", "--json").json
    assert show["status"] == "withdrawn"
    assert all(d["status"] != "open" for d in show["deadlines"])
    with engine.connect() as conn:
        pending = conn.execute(text(
            "SELECT count(*) FROM reminder r JOIN case_file c ON c.id = r.case_id "
            "WHERE c.reference = :r AND r.status = 'pending'"), {"r": ref}).scalar()
    assert pending == 0
    assert cli.ok("case", "list", "--json").json == []
    listed = cli.ok("case", "list", "--status", "withdrawn", "--json").json
    assert [(c["reference"], c["status"]) for c in listed] == [(ref, "withdrawn")]
    assert "withdrawn" in cli.error(2, "case", "record", ref, "panel-notified", "--on", "2026-11-03")
    assert cli.ok("remind", "--now", "2026-11-09T10:00", "--json").json == []
    actions = [e["action"] for e in cli.ok("case", "history", ref, "--json").json]
    assert actions == ["case.opened", "case.withdrawn"]
    reopened = cli.ok("case", "reopen", ref, "--reason", "not a duplicate after all", "--json").json
    assert reopened["status"] == "open"
    assert {d["status"] for d in reopened["deadlines"]} == {"open"}
    with engine.connect() as conn:
        pending = conn.execute(text(
            "SELECT count(*) FROM reminder r JOIN case_file c ON c.id = r.case_id "
            "WHERE c.reference = :r AND r.status = 'pending'"), {"r": ref}).scalar()
    assert pending


def test_a_case_closes_itself_at_its_end(cli: Cli) -> None:
    ref = cli.open("2026-11-02")
    cli.ok("case", "record", ref, "partners-notified", "--on", "2026-11-03")
    show = cli.ok("case", "record", ref, "notification-not-required", "--on", "2026-11-04", "--json").json
    assert show["status"] == "closed"
    assert cli.ok("case", "list", "--json").json == []
    assert [c["reference"] for c in cli.ok("case", "list", "--status", "closed", "--json").json] == [ref]
    # Voiding the end reopens the case the rule closed.
    show = cli.ok("case", "void", ref, "notification-not-required", "--reason", "not decided yet", "--json").json
    assert show["status"] == "open"


def test_close_with_open_steps_warns_and_marks_them(cli: Cli) -> None:
    ref = cli.open("2026-11-02")
    result = cli.ok("case", "close", ref, "--reason", "the partnership closes it", "--json")
    assert "still open marked not applicable" in result.err
    assert "Notify the Child Safeguarding Practice Review Panel" in result.err
    show = result.json
    assert show["status"] == "closed" and show["status_reason"] == "the partnership closes it"
    assert {d["status"] for d in show["deadlines"]} == {"not_applicable"}
    assert "closed" in cli.error(2, "case", "close", ref, "--reason", "again")
    assert "reason" in cli.error(2, "case", "reopen", ref, "--reason", "")
    assert cli.ok("case", "reopen", ref, "--reason", "more to do", "--json").json["status"] == "open"
    assert "open" in cli.error(2, "case", "reopen", ref, "--reason", "again")


def test_list_filters_and_json(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "two.toml"
    config.write_text(
        '[[partnerships]]\nkey = "north"\nreference_prefix = "NO"\n'
        '[[partnerships]]\nkey = "south"\nreference_prefix = "SO"\ndefault_owner = "team@south.gov.uk"\n'
    )
    monkeypatch.setenv("SAFEGUARD_CONFIG_FILE", str(config))
    north = cli.open("2026-11-02", "--partnership", "north", "--owner", "U0123ABCD")
    south = cli.open("2026-11-03", "--partnership", "south")
    closed = cli.open("2026-11-04", "--partnership", "north")
    cli.ok("case", "close", closed, "--reason", "opened to test")
    listed = cli.ok("case", "list", "--json").json
    assert [c["reference"] for c in listed] == [north, south]
    first = listed[0]
    assert {"reference", "status", "owner", "next_deadline"} <= first.keys()
    assert first["owner"] == "U0123ABCD" and first["status"] == "open"
    assert first["next_deadline"]["key"] == "panel_notification"
    assert listed[1]["owner"] == "team@south.gov.uk"  # the partnership's default owner
    assert [c["reference"] for c in cli.ok("case", "list", "--partnership", "north", "--json").json] == [north]
    every = cli.ok("case", "list", "--status", "all", "--partnership", "north", "--json").json
    assert [c["reference"] for c in every] == [north, closed]
    assert every[1]["next_deadline"] is None
    assert "unknown status" in cli.error(2, "case", "list", "--status", "shut")
    assert "unknown partnership" in cli.error(2, "case", "list", "--partnership", "east")
    assert "No cases (withdrawn)." in cli.ok("case", "list", "--status", "withdrawn").out


def test_assign(cli: Cli) -> None:
    ref = cli.open("2026-11-02")
    show = cli.ok("case", "assign", ref, "--owner", "officer@example.gov.uk", "--json").json
    assert show["owner"] == "officer@example.gov.uk"
    result = cli.ok("case", "assign", ref, "--owner", "U0123ABCD")
    assert "Slack is not configured" in result.err
    assert "neither a Slack user ID" in cli.error(2, "case", "assign", ref, "--owner", "U123")
    history = cli.ok("case", "history", ref, "--json").json
    assert [(e["detail"]["from"], e["detail"]["to"]) for e in history if e["action"] == "case.assigned"] == [
        (None, "officer@example.gov.uk"), ("officer@example.gov.uk", "U0123ABCD")]


def test_show_json_contract(cli: Cli) -> None:
    ref = cli.open("2026-11-02", "--owner", "officer@example.gov.uk")
    cli.ok("case", "record", ref, "panel-notified", "--on", "2026-11-04", "--note", "sent by the DCS")
    show = cli.ok("case", "show", ref, "--json").json
    assert show["status"] == "open" and show["owner"] == "officer@example.gov.uk"
    assert show["answers"] == {} and show["decision"] is None
    milestone = show["milestones"][0]
    assert milestone == {**milestone, "key": "panel-notified", "on": "2026-11-04", "voided": False,
                         "amended_from": None, "note": "sent by the DCS"}
    human = cli.ok("case", "show", ref).out
    assert "Owner:           officer@example.gov.uk" in human and "sent by the DCS" in human


def test_siblings_are_shown_as_initials_and_details_are_audited(cli: Cli) -> None:
    ref = cli.open("2026-11-02")
    cli.ok("case", "child", "add", ref, "--name", "Amy Jane Testchild", "--dob", "2020-01-02")
    added = cli.ok("case", "child", "add", ref, "--name", "Ben Testchild").out
    assert "2 children: A.J.T., B.T." in added
    show = cli.ok("case", "show", ref, "--json").json
    assert show["children"] == ["A.J.T.", "B.T."]
    text_out = cli.ok("case", "show", ref).out
    assert "A.J.T., B.T." in text_out and "Testchild" not in text_out
    assert "Testchild" not in cli.ok("case", "history", ref).out
    detailed = cli.ok("case", "show", ref, "--with-child-details").out
    assert "Amy Jane Testchild, born 2020-01-02" in detailed and "Ben Testchild" in detailed
    data = cli.ok("case", "show", ref, "--with-child-details", "--json").json
    assert [c["name"] for c in data["child_details"]["children"]] == ["Amy Jane Testchild", "Ben Testchild"]
    actions = [e["action"] for e in cli.ok("case", "history", ref, "--json").json]
    assert actions.count("case.child_details_viewed") == 2
    assert "NHS number" in cli.error(2, "case", "child", "add", ref, "--nhs", "123")


def test_snooze_takes_what_show_displays(cli: Cli) -> None:
    ref = cli.open("2026-11-02")
    for step in ("panel_notification", "panel-notified", "Notify the Child Safeguarding Practice Review Panel"):
        assert "panel_notification snoozed until" in cli.ok("case", "snooze", ref, step).out
    line = cli.error(2, "case", "snooze", ref, "panel")
    assert "open steps:" in line and "panel_notification (panel-notified" in line and "rapid_review" in line


def test_reading_commands_without_a_database_say_where_they_looked(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SAFEGUARD_DATABASE_URL")
    monkeypatch.setenv("SAFEGUARD_DATA_DIR", str(tmp_path / "nowhere"))
    for args in (["case", "list"], ["case", "show", "SG-2026-0001"], ["status"], ["case", "history", "SG-2026-0001"],
                 ["calendar"], ["intake", "list"]):
        line = cli.error(1, *args)
        assert "no database at" in line and str(tmp_path / "nowhere") in line and "safeguard-bot.toml" in line
    assert not (tmp_path / "nowhere").exists()


def test_status_in_plain_words(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('[[partnerships]]\nkey = "north"\n')
    monkeypatch.setenv("SAFEGUARD_CONFIG_FILE", str(config))
    cli.open("2026-11-02")  # its reminders fell due long ago
    from scheduler.calendar import today_in_london

    cli.open(today_in_london().isoformat())  # and this one's are still to come
    out = cli.ok("status").out
    assert f"Settings: {config}" in out and "Database: " in out
    assert "{" not in out and "UTC" not in out and "(London)" in out
    assert "fell due since" in out and "not running" in out
    next_due = next(line for line in out.splitlines() if "next due:" in line)
    from datetime import datetime

    shown = datetime.strptime(next_due.split("next due: ")[1].split(" (London)")[0], "%a %d %b %Y %H:%M")
    assert shown.date() >= today_in_london()
    data = cli.ok("status", "--json").json
    assert data["settings_file"] == str(config) and data["database"]


def test_a_chat_that_ends_in_notify_offers_to_open_the_case(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    # age: under 18; abuse: suspected; harm: died; context: SUDI; location: in area; looked
    # after: yes; awareness date; open the case: yes; finish.
    monkeypatch.setattr("sys.stdin", io.StringIO("1\n2\n1\n1\n1\n1\n22 December 2026\ny\n\n"))
    out = cli.ok("chat", "--user", "tester").out
    assert "Decision: Notify the Panel (notify)" in out
    assert "Open a case now, aware 2026-12-22, with these answers? [y/N]" in out
    [listed] = cli.ok("case", "list", "--json").json
    assert f"Opened case {listed['reference']}" in out
    show = cli.ok("case", "show", listed["reference"], "--json").json
    assert show["la_aware"] == "2026-12-22"
    assert show["decision"] == "notify" and show["answers"]["harm"] == "died"
    assert "Decision:        notify" in cli.ok("case", "show", listed["reference"]).out
    [entry] = [e for e in cli.ok("case", "history", listed["reference"], "--json").json
               if e["action"] == "case.opened"]
    assert entry["detail"]["answers"]["harm"] == "died" and entry["detail"]["decision"] == "notify"


def test_the_panels_agreement_is_recorded_as_its_response(cli: Cli) -> None:
    """panel-agreed / panel-disagreed meet the Panel-response step (one or the other) and count
    as the Panel's response for closing a case with no local review."""
    ref = cli.open("2026-11-02")
    for milestone, on in [("panel-notified", "2026-11-03"), ("partners-notified", "2026-11-03"),
                          ("rapid-review-sent", "2026-11-20"), ("decision-no-review", "2026-11-20")]:
        cli.ok("case", "record", ref, milestone, "--on", on)
    shown = cli.ok("case", "record", ref, "panel-agreed", "--on", "2026-11-27", "--json").json
    [response] = [d for d in shown["deadlines"] if d["key"] == "panel_response"]
    assert (response["status"], response["completed_on"]) == ("met", "2026-11-27")
    assert shown["status"] == "closed"
    # Closed now: another response is refused until the case is reopened.
    assert "closed" in cli.error(2, "case", "record", ref, "panel-disagreed", "--on", "2026-11-27")
