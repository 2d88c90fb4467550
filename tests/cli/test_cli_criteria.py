"""``safeguard-bot criteria`` and ``safeguard-bot chat`` through the real entry point.

The subprocess tests run ``python -m bot`` with PYTHONPATH at this checkout, so they exercise
this worktree's code whatever ``safeguard-bot`` on PATH points at; the issue 10 contracts at the
end call ``bot.cli.main`` in process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def subprocess_test(test):  # type: ignore[no-untyped-def]
    """A test that runs the real entry point as a subprocess (~3.5 s): integration only. The
    in-process tests at the end run in the fast suite."""
    return pytest.mark.integration(pytest.mark.subprocess(test))


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    env = dict(cli_env)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: PLW1510 - the tests read the exit status themselves
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def answers(**pairs: str) -> list[str]:
    out: list[str] = []
    for key, value in pairs.items():
        out += ["--answer", f"{key}={value}"]
    return out


@subprocess_test
def test_notify_prints_deadlines_from_aware(env: dict[str, str]) -> None:
    result = run(
        env, "criteria", *answers(age="under_18", abuse_or_neglect="known", harm="died", location="in_area",
                                  looked_after="no", care_leaver_under_25="no"),
        "--aware", "2026-12-22", "--json",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["decision"] == "notify"
    assert data["also_notify"] == []
    assert data["next_question"] is None
    assert all(set(r) >= {"text", "source"} and r["source"] for r in data["reasons"])
    due = {d["key"]: d["due"] for d in data["deadlines"]}
    assert due["panel_notification"] == "2026-12-31"  # Christmas 2026: 25th, 28th (substitute)
    assert due["partners_notification"] == "2026-12-31"
    assert due["rapid_review"] == "2027-01-15"
    for deadline in data["deadlines"]:
        assert {"key", "label", "due", "rule", "source"} <= set(deadline)


@subprocess_test
def test_looked_after_death_without_abuse(env: dict[str, str]) -> None:
    result = run(env, "criteria", *answers(abuse_or_neglect="not_suspected", harm="died",
                                           looked_after="yes", location="in_area",
                                           family_known_to_csc="no"), "--json")
    data = json.loads(result.stdout)
    assert data["decision"] == "not_required"
    assert data["also_notify"] == ["secretary_of_state", "ofsted"]
    assert data["next_question"] is None
    # Not the Panel's clock: only the Secretary of State and Ofsted step runs (issue 10 item 4).
    assert [d["key"] for d in data["deadlines"]] == ["sos_ofsted_notification"]


@subprocess_test
def test_incomplete_names_the_next_question(env: dict[str, str]) -> None:
    result = run(env, "criteria", *answers(age="under_18", abuse_or_neglect="known", harm="died"), "--json")
    data = json.loads(result.stdout)
    assert (data["decision"], data["next_question"]) == ("incomplete", "location")
    human = run(env, "criteria", *answers(age="under_18", abuse_or_neglect="known", harm="died"))
    assert "More information needed: Where did the death or serious harm happen?" in human.stdout
    assert "--answer location=in_area|" in human.stdout


@subprocess_test
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--answer", "colour=blue"], "unknown question 'colour'"),
        (["--answer", "harm=exploded"], "unknown answer 'exploded' for harm"),
        (["--answer", "harm"], "expected KEY=VALUE"),
        (["--answer", "harm=died", "--aware", "31/02/2026"], "--aware"),
    ],
)
def test_user_errors_exit_2_with_one_line(env: dict[str, str], args: list[str], message: str) -> None:
    result = run(env, "criteria", *args, "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


@subprocess_test
def test_bad_criteria_file_setting(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "criteria.toml"
    bad.write_text((ROOT / "config" / "criteria.toml").read_text().replace('source = "s16c"', 'source = "x"', 1))
    env["SAFEGUARD_CRITERIA_FILE"] = str(bad)
    result = run(env, "criteria", "--answer", "harm=died")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "'x' is not defined in [sources]" in result.stderr


@subprocess_test
def test_review_decision_recorded_on_a_case(env: dict[str, str]) -> None:
    opened = run(env, "case", "open", "--aware", "2026-03-02", "--json")
    reference = json.loads(opened.stdout)["reference"]
    review = ["--flow", "review"] + answers(
        improvements="yes", recurrent_themes="no", agencies_working_together="yes",
        panel_suggested_local="no", regard_circumstances="no", learning_already_identified="no",
        national_importance="no", national_regard="no",
    )
    result = run(env, "criteria", *review, "--record", reference, "--on", "2026-03-20", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["decision"] == "local_review"
    case = json.loads(run(env, "case", "show", reference, "--json").stdout)
    milestone = case["milestones"][-1]
    assert milestone["milestone"] == "decision_local_review"
    assert "two or more organisations" in milestone["note"]
    assert any(d["key"] == "lcspr_publication" and d["due"] == "2026-09-20" for d in case["deadlines"])


# --- the terminal chat ------------------------------------------------------------------------


@subprocess_test
def test_chat_full_conversation(env: dict[str, str]) -> None:
    # age: under 18; abuse: suspected; harm: died; "?" help on context; context: SUDI;
    # location: in area; an invalid reply; looked after: yes; awareness date; finish.
    script = "1\n2\n1\n?\n1\n1\n9\n1\n22 December 2026\n\n"
    result = run(env, "chat", "--user", "tester", stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index("How old was the child or young person") < out.index("Is abuse or neglect")
    assert "  1) Known" in out
    assert "The Panel has seen inconsistent notification" in out  # help text for context
    assert "Source: Child Safeguarding Practice Review Panel guidance" in out
    assert "Please type a number from 1 to 2" in out
    assert "Decision: Notify the Panel (notify)" in out
    assert "Also notify: the Secretary of State and Ofsted" in out
    assert "Sudden unexpected death in infancy (SUDI):" in out
    assert "Thu 31 Dec 2026" in out
    assert "Was the young person a care leaver" not in out  # looked after: not needed


@subprocess_test
def test_chat_resumes_after_end_of_input_and_restarts(env: dict[str, str]) -> None:
    first = run(env, "chat", "--user", "resumer", stdin="1\n")
    assert first.returncode == 0
    assert "answers are saved" in first.stdout
    second = run(env, "chat", "--user", "resumer", stdin="3\n3\n")  # not suspected; not serious
    assert "Resuming your conversation (1 answer(s) so far" in second.stdout
    assert second.stdout.index("Resuming") < second.stdout.index("Has the child died")
    assert "Decision: No notification to the Panel from this local authority" in second.stdout
    assert "learning request" in second.stdout
    # finished conversations are forgotten; "r" mid-way starts again
    third = run(env, "chat", "--user", "resumer", stdin="1\nr\n1\n")
    assert "Resuming" not in third.stdout
    assert "Starting again." in third.stdout
    assert third.stdout.count("Is abuse or neglect of the child known or suspected?") == 2
    assert third.stdout.count("How old was the child or young person") == 2


@subprocess_test
def test_chat_review_flow_records_decision(env: dict[str, str]) -> None:
    reference = json.loads(run(env, "case", "open", "--aware", "2026-03-02", "--json").stdout)["reference"]
    # eight questions: all "No" (option 2), then record: yes, on 20/03/2026, finish
    script = "2\n" * 8 + "y\n20/03/2026\n\n"
    result = run(env, "chat", "--flow", "review", "--case", reference, stdin=script)
    assert result.returncode == 0, result.stderr
    assert "Decision: No local review (no_review)" in result.stdout
    assert f"Recorded decision_no_review on 2026-03-20 for {reference}" in result.stdout
    case = json.loads(run(env, "case", "show", reference, "--json").stdout)
    assert case["milestones"][-1]["milestone"] == "decision_no_review"


# --- issue 10, in process (bot.cli.main): the age (item 1), Tees (item 5), location (item 6)
# and "not in the seed guidance" (item 9) contracts, in the fast suite --------------------------


def criteria_json(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                  cli_env: dict[str, str], **pairs: str) -> dict:
    from bot.cli import main

    for key in [k for k in os.environ if k.startswith("SAFEGUARD_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SAFEGUARD_DATA_DIR", cli_env["SAFEGUARD_DATA_DIR"])
    capsys.readouterr()
    status = main(["criteria", *answers(**pairs), "--aware", "2026-12-22", "--json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    return json.loads(out)


@pytest.mark.parametrize(
    ("pairs", "decision", "also", "next_question"),
    [
        # item 1: a 22-year-old care leaver killed, abuse suspected
        ({"age": "18_to_24", "abuse_or_neglect": "suspected", "harm": "died", "location": "in_area",
          "care_leaver_under_25": "yes"}, "not_required", ["secretary_of_state", "ofsted"], None),
        ({"abuse_or_neglect": "known", "harm": "died", "location": "in_area", "looked_after": "no"},
         "incomplete", [], "age"),
        ({"harm": "not_serious"}, "not_required", [], None),
        ({"age": "25_or_over", "harm": "died"}, "not_required", [], None),
        # item 5: Tees, a suicide in a family known to children's social care
        ({"age": "under_18", "abuse_or_neglect": "not_suspected", "harm": "died", "location": "in_area",
          "looked_after": "no", "family_known_to_csc": "yes"}, "discuss", [], None),
        # item 6: abuse unsure, harmed outside the area, does not live here
        ({"age": "under_18", "abuse_or_neglect": "unsure", "harm": "serious_harm"}, "incomplete", [], "location"),
        ({"age": "under_18", "abuse_or_neglect": "unsure", "harm": "serious_harm",
          "location": "outside_area_not_resident"}, "not_required", [], None),
    ],
)
def test_issue_10_criteria_contract(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                    cli_env: dict[str, str], pairs: dict[str, str], decision: str,
                                    also: list[str], next_question: str | None) -> None:
    data = criteria_json(monkeypatch, capsys, cli_env, **pairs)
    assert (data["decision"], data["also_notify"], data["next_question"]) == (decision, also, next_question)
    # No Panel or rapid-review clock; a death the Secretary of State and Ofsted must hear of runs
    # their step alone (5 working days from 22 Dec 2026, over Christmas and New Year).
    expected = [{"key": "sos_ofsted_notification", "due": "2026-12-31"}] if also else []
    assert [{"key": d["key"], "due": d["due"]} for d in data["deadlines"]] == expected
    assert all(r["source"] for r in data["reasons"])


def test_under_18_notify_still_runs_the_deadlines(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str],
                                                  cli_env: dict[str, str]) -> None:
    data = criteria_json(monkeypatch, capsys, cli_env, age="under_18", abuse_or_neglect="suspected",
                         harm="died", location="in_area", looked_after="no")
    assert data["decision"] == "notify"
    assert {d["key"]: d["due"] for d in data["deadlines"]}["panel_notification"] == "2026-12-31"


def test_care_leaver_reasons_are_marked_not_in_the_seeds(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str],
                                                          cli_env: dict[str, str]) -> None:
    data = criteria_json(monkeypatch, capsys, cli_env, age="18_to_24", harm="died", care_leaver_under_25="yes")
    care = [r for r in data["reasons"] if "care leaver" in r["text"].lower()]
    assert care and all("[not in the seed guidance: " in r["source"] for r in care)
