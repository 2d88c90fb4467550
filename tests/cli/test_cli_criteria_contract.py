"""``safeguard-bot criteria`` in process (``bot.cli.main``): the issue 10 contracts.

The age (item 1), Tees's family-known-to-children's-social-care rule (item 5), where it happened
first (item 6) and the "not in the seed guidance" marking (item 9), through the real entry point
without a subprocess (the subprocess tests are in test_cli_criteria.py).
"""

from __future__ import annotations

import json
import os

import pytest


def answers(**pairs: str) -> list[str]:
    out: list[str] = []
    for key, value in pairs.items():
        out += ["--answer", f"{key}={value}"]
    return out



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
    assert data["deadlines"] == []
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
