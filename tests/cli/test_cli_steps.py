"""Issue 10 through the command line, in process (bot.cli.main): the deadline objects' warnings,
``case open --answer/--la``, ``case assess`` and the steps that follow from the answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main

TEES = (
    '[[partnerships]]\nkey = "tees"\nname = "Tees Safeguarding Children Partnerships"\n'
    'reference_prefix = "TEES"\n'
    'local_authorities = ["Hartlepool", "Middlesbrough", "Redcar and Cleveland", "Stockton-on-Tees"]\n'
)
LAC_DEATH = ["--answer", "harm=died", "--answer", "looked_after=yes"]
NOTIFY = [
    "--answer", "abuse_or_neglect=known", "--answer", "harm=died", "--answer", "location=in_area",
    "--answer", "looked_after=no", "--answer", "care_leaver_under_25=no", "--answer", "age=under_18",
]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    for key in [k for k in __import__("os").environ if k.startswith("SAFEGUARD_") and k != "SAFEGUARD_DATA_KEY"]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SAFEGUARD_DATA_DIR", str(tmp_path / "var"))
    config = tmp_path / "settings.toml"
    config.write_text(TEES)

    def run(*args: str, config_file: bool = False) -> tuple[int, str, str]:
        argv = (["--config", str(config)] if config_file else []) + list(args)
        code = main(argv)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_closure_days_leave_the_due_date_and_warn(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SAFEGUARD_CLOSURE_DAYS", '["2026-12-29", "2026-12-30", "2026-12-31"]')
    code, out, err = cli("deadlines", "--aware", "2026-12-22", "--json")
    assert code == 0, err
    items = {d["key"]: d for d in json.loads(out)}
    assert items["panel_notification"]["due"] == "2026-12-31"
    assert items["panel_notification"]["warnings"] and "closure" in items["panel_notification"]["warnings"][0]
    assert all(isinstance(d["warnings"], list) for d in items.values())
    assert items["rapid_review"]["warnings"] == []
    code, out, _ = cli("case", "open", "--aware", "2026-12-22", "--json")
    shown = json.loads(cli("case", "show", json.loads(out)["reference"], "--json")[1])
    assert all("warnings" in d for d in shown["deadlines"])
    assert {d["key"]: d["due"] for d in shown["deadlines"]}["panel_notification"] == "2026-12-31"


def test_open_with_answers_stores_them_and_runs_the_decision_steps(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("case", "open", "--aware", "2026-12-22", *NOTIFY, "--json")
    assert code == 0, err
    case = json.loads(out)
    assert case["decision"] == "notify" and case["answers"]["harm"] == "died"
    assert {d["key"] for d in case["deadlines"]} == {
        "panel_notification", "partners_notification", "rapid_review"
    }
    code, out, err = cli("case", "open", "--aware", "2026-12-22", *LAC_DEATH,
                         "--answer", "abuse_or_neglect=not_suspected", "--json")
    assert code == 0, err
    lac = json.loads(out)
    assert "secretary_of_state" in lac["also_notify"]
    keys = {d["key"] for d in lac["deadlines"]}
    assert "sos_ofsted_notification" in keys
    sos = next(d for d in lac["deadlines"] if d["key"] == "sos_ofsted_notification")
    assert sos["due"] == "2026-12-31" and "seed 001" in sos["source"]
    if lac["decision"] == "not_required":
        assert keys == {"sos_ofsted_notification"}
    code, out, err = cli("case", "record", lac["reference"], "sos-ofsted-notified", "--on",
                         "2026-12-23", "--json")
    assert code == 0, err
    met = {d["key"]: d["status"] for d in json.loads(out)["deadlines"]}
    assert met["sos_ofsted_notification"] == "met"


def test_assess_changes_the_steps_and_is_audited(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("case", "open", "--aware", "2026-12-22", "--json")
    ref = json.loads(out)["reference"]
    code, out, err = cli("case", "assess", ref, "--answer", "harm=not_serious", "--json")
    assert code == 0, err
    assessed = json.loads(out)
    assert assessed["decision"] == "not_required"
    assert assessed["deadlines"] == []
    code, out, err = cli("case", "assess", ref, "--answer", "harm=died", *NOTIFY[:2], "--json")
    assert code == 0, err
    again = json.loads(out)
    assert again["answers"]["harm"] == "died"
    assert again["decision"] in {"notify", "incomplete", "discuss"}
    assert "panel_notification" in {d["key"] for d in again["deadlines"]}
    code, human, _ = cli("case", "show", ref)
    assert "Criteria answers: " in human and "harm=died" in human and "Decision: " in human


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("harm=exploded", "unknown answer 'exploded' for harm; expected one of:"),
        ("colour=blue", "unknown question 'colour'; expected one of:"),
        ("harm", "--answer 'harm': expected KEY=VALUE"),
    ],
)
def test_bad_answers_are_the_criteria_commands_one_line_errors(cli, answer: str, message: str) -> None:  # type: ignore[no-untyped-def]
    code, _, criteria_err = cli("criteria", "--answer", answer)
    assert code == 2 and message in criteria_err
    code, _, err = cli("case", "open", "--aware", "2026-12-22", "--answer", answer)
    assert code == 2 and err == criteria_err
    code, out, _ = cli("case", "open", "--aware", "2026-12-22", "--json")
    code, _, err = cli("case", "assess", json.loads(out)["reference"], "--answer", answer)
    assert code == 2 and err == criteria_err


def test_case_local_authority_is_validated_against_the_partnership(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("case", "open", "--aware", "2026-12-22", "--la", "middlesbrough", "--json",
                         config_file=True)
    assert code == 0, err
    assert json.loads(out)["local_authority"] == "Middlesbrough"
    code, _, err = cli("case", "open", "--aware", "2026-12-22", "--la", "Leeds", config_file=True)
    assert code == 2
    assert err.count("\n") == 1 and "Leeds" in err and "Hartlepool" in err


def test_learning_request_has_the_decision_step_not_the_panel_clock(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("case", "open", "--aware", "2026-12-22", "--request-type",
                         "learning_request", "--json")
    assert code == 0, err
    assert [d["key"] for d in json.loads(out)["deadlines"]] == ["learning_request_decision"]


def test_panel_response_shown_as_awaited(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("case", "open", "--aware", "2026-12-22", "--json")
    ref = json.loads(out)["reference"]
    cli("case", "record", ref, "panel-notified", "--on", "2026-12-23")
    code, out, err = cli("case", "record", ref, "rapid-review-sent", "--on", "2027-01-08", "--json")
    assert code == 0, err
    status = {d["key"]: d["status"] for d in json.loads(out)["deadlines"]}
    assert status["panel_response"] == "awaited"
    code, human, _ = cli("case", "show", ref)
    line = next(x for x in human.splitlines() if x.startswith("Panel's response"))
    assert "awaited" in line and "OVERDUE" not in line and "missed" not in line


def test_criteria_record_puts_the_notification_answers_on_the_case(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("case", "open", "--aware", "2026-12-22", "--json")
    ref = json.loads(out)["reference"]
    code, out, err = cli("criteria", *NOTIFY, "--aware", "2026-12-22", "--record", ref, "--json")
    assert code == 0, err
    assert json.loads(out)["recorded"] == {
        "case": ref, "answers": json.loads(out)["answers"], "decision": "notify"
    }
    shown = json.loads(cli("case", "show", ref, "--json")[1])
    assert shown["decision"] == "notify" and shown["answers"]["location"] == "in_area"


def test_terminal_chat_records_its_answers_on_the_case(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import io
    import sys

    code, out, _ = cli("case", "open", "--aware", "2026-12-22", "--json")
    ref = json.loads(out)["reference"]
    # The chat's own question order (the engine's), answered from ``wanted``: a looked-after
    # child's death without abuse -> not required, the Secretary of State and Ofsted; the
    # awareness date (Enter: today), whose SoS/Ofsted deadline is shown; "record on the case?" yes.
    from bot.core.conversation import ConversationEngine
    from bot.core.criteria import load_criteria

    tree = load_criteria()
    wanted = {"harm": "died", "abuse_or_neglect": "not_suspected", "looked_after": "yes",
              "age": "under_18", "location": "in_area", "care_leaver_under_25": "no"}
    engine = ConversationEngine(tree)
    turn = engine.start(None, flow="notification")
    lines: list[str] = []
    while not turn.finished:
        question = turn.flow.question(turn.question)
        values = [value for value, _ in question.options]
        value = wanted.get(question.key, values[-1] if question.optional else values[0])
        lines.append(str(values.index(value) + 1))
        turn = engine.answer(turn.state, "notification", question.key, value)
    answers = turn.evaluation.answers
    script = "\n".join([*lines, "", "y", ""]) + "\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(script))
    code, out, err = cli("chat", "--case", ref, "--user", "tester")
    assert code == 0, err
    assert f"on {ref}" in out
    assert "Notify the Secretary of State and Ofsted" in out.split("Record these answers")[0]
    shown = json.loads(cli("case", "show", ref, "--json")[1])
    assert shown["answers"] == dict(answers)
    assert "sos_ofsted_notification" in {d["key"] for d in shown["deadlines"]}


def test_national_recommendation_records_the_local_decision_too(cli) -> None:  # type: ignore[no-untyped-def]
    from bot.core.criteria import load_criteria

    code, out, _ = cli("case", "open", "--aware", "2026-12-22", "--json")
    ref = json.loads(out)["reference"]
    keys = load_criteria().flow("review").question_keys()
    pairs = [x for k in keys for x in ("--answer", f"{k}={'yes' if k in ('national_importance', 'improvements') else 'no'}")]
    code, out, err = cli("criteria", "--flow", "review", *pairs, "--record", ref, "--on", "2027-01-14", "--json")
    assert code == 0, err
    recorded = json.loads(out)["recorded"]
    assert (recorded["milestone"], recorded["also_milestone"]) == ("decision_national_review", "decision_local_review")
    shown = json.loads(cli("case", "show", ref, "--json")[1])
    assert [m["milestone"] for m in shown["milestones"]] == ["decision_national_review", "decision_local_review"]
    due = {d["key"]: d for d in shown["deadlines"]}
    assert due["lcspr_publication"]["due"] == "2027-07-14"
    assert due["final_report_to_panel"]["provisional"] is True
    assert due["lcspr_commission_notification"]["due"] == "2027-01-14"
