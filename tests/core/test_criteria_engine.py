"""The criteria engine against an independent reading of s16C and WT2023 ch.5.

The oracle below restates the law in a few lines of plain Python; the engine reads the same law
from config/criteria.toml. Every complete and every partial set of answers is compared, so a
rule typo in the TOML, or a question held back or skipped wrongly, fails here.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bot.core.criteria import (
    NOTIFICATION_CONTRACT,
    CriteriaAnswerError,
    CriteriaConfigError,
    load_criteria,
    parse_answer_pairs,
    parse_criteria,
)
from bot.settings import load_settings

CONFIG = Path(__file__).resolve().parents[2] / "config" / "criteria.toml"
KEYS = list(NOTIFICATION_CONTRACT)


@pytest.fixture(scope="module")
def tree():  # type: ignore[no-untyped-def]
    return load_criteria()


@pytest.fixture(scope="module")
def flow(tree):  # type: ignore[no-untyped-def]
    return tree.flow("notification")


def oracle(a: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    """s16C(1) + WT2023 ch.5, restated independently of the TOML."""
    also = (
        ("secretary_of_state", "ofsted")
        if a["harm"] == "died" and "yes" in (a["looked_after"], a["care_leaver_under_25"])
        else ()
    )
    if a["abuse_or_neglect"] == "not_suspected" or a["harm"] == "not_serious":
        return "not_required", also
    if "unsure" in (a["abuse_or_neglect"], a["harm"]):
        return "discuss", also
    if a["location"] in ("elsewhere_in_england", "outside_area_not_resident"):
        return "not_required", also
    return "notify", also


def all_complete() -> list[dict[str, str]]:
    return [dict(zip(KEYS, combo, strict=True)) for combo in itertools.product(*NOTIFICATION_CONTRACT.values())]


def test_every_complete_answer_set_matches_the_law(flow) -> None:  # type: ignore[no-untyped-def]
    for answers in all_complete():
        result = flow.evaluate(answers)
        assert (result.decision, result.also_notify) == oracle(answers), answers
        assert result.next_question is None
        assert result.reasons and all(r.text and r.source for r in result.reasons)


def test_partial_answers_decide_only_when_certain_and_ask_what_matters(flow) -> None:  # type: ignore[no-untyped-def]
    """Sound: a decision given early holds for every completion. Not held back: when every
    completion agrees, the answer is given. Next question: unanswered and able to change it."""
    completes = all_complete()
    options = [(None, *values) for values in NOTIFICATION_CONTRACT.values()]
    checked = 0
    for combo in itertools.product(*options):
        partial = {k: v for k, v in zip(KEYS, combo, strict=True) if v is not None}
        consistent = [c for c in completes if all(c[k] == v for k, v in partial.items())]
        outcomes = {oracle(c) for c in consistent}
        result = flow.evaluate(partial)
        decisions = {decision for decision, _ in outcomes}
        if len(outcomes) == 1:
            assert (result.decision, result.also_notify) == next(iter(outcomes)), partial
            assert result.next_question is None
        else:
            # The Panel decision is given as soon as it is certain; a remaining question that
            # only settles also_notify comes back beside it.
            expected = next(iter(decisions)) if len(decisions) == 1 else "incomplete"
            assert result.decision == expected, partial
            key = result.next_question
            assert key in KEYS and key not in partial
            by_value = {
                value: {oracle(c) for c in consistent if c[key] == value}
                for value in NOTIFICATION_CONTRACT[key]
            }
            assert len({frozenset(s) for s in by_value.values()}) > 1, (partial, key)
        checked += 1
    assert checked == 5 * 5 * 5 * 3 * 3


@pytest.mark.parametrize(
    ("answers", "decision", "also", "next_question"),
    [
        ({}, "incomplete", [], "abuse_or_neglect"),
        ({"abuse_or_neglect": "known", "harm": "died"}, "incomplete", [], "location"),
        ({"abuse_or_neglect": "known", "harm": "died", "location": "in_area"}, "notify", [], "looked_after"),
        (
            {"abuse_or_neglect": "known", "harm": "died", "location": "in_area", "looked_after": "yes"},
            "notify", ["secretary_of_state", "ofsted"], None,
        ),
        (
            {"abuse_or_neglect": "known", "harm": "serious_harm", "location": "in_area"},
            "notify", [], None,
        ),
        (
            {"abuse_or_neglect": "not_suspected", "harm": "died", "looked_after": "yes"},
            "not_required", ["secretary_of_state", "ofsted"], None,
        ),
        (
            {"abuse_or_neglect": "not_suspected", "harm": "died", "looked_after": "no",
             "care_leaver_under_25": "yes"},
            "not_required", ["secretary_of_state", "ofsted"], None,
        ),
        ({"harm": "not_serious"}, "not_required", [], None),
        ({"abuse_or_neglect": "unsure", "harm": "serious_harm"}, "discuss", [], None),
        ({"abuse_or_neglect": "known", "harm": "unsure", "location": "in_area"}, "discuss", [], None),
        (
            {"abuse_or_neglect": "known", "harm": "serious_harm", "location": "elsewhere_in_england"},
            "not_required", [], None,
        ),
        (
            {"abuse_or_neglect": "suspected", "harm": "serious_harm",
             "location": "resident_harmed_outside_england"},
            "notify", [], None,
        ),
    ],
)
def test_named_outcomes(flow, answers, decision, also, next_question) -> None:  # type: ignore[no-untyped-def]
    result = flow.evaluate(answers)
    assert result.decision == decision
    assert list(result.also_notify) == also
    assert result.next_question == next_question


def test_elsewhere_in_england_says_contact_that_la(flow) -> None:  # type: ignore[no-untyped-def]
    result = flow.evaluate(
        {"abuse_or_neglect": "known", "harm": "serious_harm", "location": "elsewhere_in_england"}
    )
    assert any("Contact that local authority" in r.text for r in result.reasons)


def test_discuss_cites_panel_guidance_and_says_do_not_wait(flow) -> None:  # type: ignore[no-untyped-def]
    result = flow.evaluate({"abuse_or_neglect": "unsure", "harm": "died", "looked_after": "no",
                            "care_leaver_under_25": "no"})
    assert result.decision == "discuss"
    deciding = result.reasons[-1]
    assert "now, not to wait" in deciding.text
    assert "Panel guidance for safeguarding partners (2022)" in deciding.source
    assert [g.key for g in result.grey_areas] == ["uncertain"]
    assert "only through the rapid review" in result.grey_areas[0].text


@pytest.mark.parametrize("answers", [{"abuse_or_neglect": "not_suspected", "harm": "serious_harm"},
                                     {"harm": "not_serious"}])
def test_not_met_offers_the_learning_request_route(flow, answers) -> None:  # type: ignore[no-untyped-def]
    result = flow.evaluate(answers)
    assert result.decision == "not_required"
    texts = " ".join(r.text for r in result.reasons)
    assert "near miss" in texts and "learning request" in texts.lower()
    assert any("Tees" in r.source for r in result.reasons)


def test_notify_has_no_learning_route(flow) -> None:  # type: ignore[no-untyped-def]
    result = flow.evaluate({"abuse_or_neglect": "known", "harm": "serious_harm", "location": "in_area"})
    assert "near miss" not in " ".join(r.text for r in result.reasons)


@pytest.mark.parametrize(
    ("context", "grey"),
    [("sudi", "sudi"), ("suicide", "suicide"), ("extra_familial", "extra_familial"),
     ("neglect", "neglect"), ("institutional", "institutional")],
)
def test_grey_areas_raised_by_context(flow, context, grey) -> None:  # type: ignore[no-untyped-def]
    answers = {"abuse_or_neglect": "known", "harm": "died", "context": context}
    result = flow.evaluate(answers)
    assert grey in [g.key for g in result.grey_areas]
    assert all(g.source for g in result.grey_areas)
    # context never changes the decision on its own
    without = flow.evaluate({k: v for k, v in answers.items() if k != "context"})
    assert (result.decision, result.next_question) == (without.decision, without.next_question)


def test_looked_after_grey_area(flow) -> None:  # type: ignore[no-untyped-def]
    result = flow.evaluate({"abuse_or_neglect": "not_suspected", "harm": "died", "looked_after": "yes"})
    assert [g.key for g in result.grey_areas] == ["looked_after"]
    assert "The Panel will not" not in result.grey_areas[0].text  # paraphrased, sourced to GOV.UK
    assert "GOV.UK" in result.grey_areas[0].source


def test_chat_asks_context_after_harm_but_cli_never_demands_it(flow) -> None:  # type: ignore[no-untyped-def]
    answers = {"abuse_or_neglect": "known", "harm": "died"}
    assert flow.next_question(answers, include_optional=True) == "context"
    assert flow.next_question(answers) == "location"
    assert flow.next_question({"harm": "not_serious"}, include_optional=True) is None


def test_no_invented_paragraph_numbers(tree) -> None:  # type: ignore[no-untyped-def]
    for source in tree.spec.sources.values():
        assert "para" not in source.cite().lower()
        assert "§" not in source.cite()


def test_unknown_answers_are_refused(flow) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CriteriaAnswerError, match="unknown question 'colour'"):
        flow.evaluate({"colour": "blue"})
    with pytest.raises(CriteriaAnswerError, match="unknown answer 'maybe' for harm"):
        flow.evaluate({"harm": "maybe"})
    with pytest.raises(CriteriaAnswerError, match="expected KEY=VALUE"):
        parse_answer_pairs(["harm"])
    with pytest.raises(CriteriaAnswerError, match="given twice"):
        parse_answer_pairs(["harm=died", "harm=unsure"])


# --- the rapid review flow --------------------------------------------------------------------


def test_review_flow_asks_every_question(tree) -> None:  # type: ignore[no-untyped-def]
    review = tree.flow("review")
    answers: dict[str, str] = {}
    asked = []
    while (key := review.next_question(answers)) is not None:
        asked.append(key)
        answers[key] = "no"
    assert asked == review.question_keys()
    assert review.evaluate({"improvements": "yes"}).decision == "incomplete"


@pytest.mark.parametrize(
    ("yes", "decision", "milestone"),
    [
        ((), "no_review", "decision_no_review"),
        (("improvements",), "local_review", "decision_local_review"),
        (("agencies_working_together", "learning_already_identified"), "no_review", "decision_no_review"),
        (("regard_circumstances",), "no_review", "decision_no_review"),
        (("recurrent_themes", "national_importance"), "national_and_local_review", "decision_national_review"),
        (("national_importance",), "national_review", "decision_national_review"),
    ],
)
def test_review_decisions(tree, yes, decision, milestone) -> None:  # type: ignore[no-untyped-def]
    review = tree.flow("review")
    answers = {k: ("yes" if k in yes else "no") for k in review.question_keys()}
    result = review.evaluate(answers)
    assert (result.decision, result.milestone) == (decision, milestone)
    assert len(result.reasons) == len(answers) + 1  # a rationale line per criterion + the rule


@pytest.mark.parametrize(
    ("yes", "local"),
    [
        (("national_importance",), "decision_no_review"),
        (("national_importance", "improvements"), "decision_local_review"),
        (("national_importance", "agencies_working_together", "learning_already_identified"),
         "decision_no_review"),
    ],
)
def test_a_national_recommendation_still_concludes_on_a_local_review(tree, yes, local) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 item 7: BSCP (seed 002), "the rapid review should conclude with a decision about
    whether an LCSPR should be commissioned": both are recorded."""
    review = tree.flow("review")
    answers = {k: ("yes" if k in yes else "no") for k in review.question_keys()}
    result = review.evaluate(answers)
    assert result.milestones == ("decision_national_review", local)
    assert result.as_json()["also_milestone"] == local
    assert any("LCSPR" in r.source or "local review" in r.text for r in result.reasons)
    assert all(r.source for r in result.reasons)


# --- configuration ----------------------------------------------------------------------------


def _broken(old: str, new: str) -> str:
    text = CONFIG.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('source = "s16c"\n  [[notification.question.option]]\n  value = "known"',
         'source = "nowhere"\n  [[notification.question.option]]\n  value = "known"',
         "notification.question[abuse_or_neglect].source: 'nowhere' is not defined"),
        ('value = "in_area"', 'value = "in_the_area"',
         "notification.rule[criteria_met].when: location has no answer 'in_area'"),
        ('decision = "notify"', 'decision = "notfy"', "notification.rule[criteria_met].decision"),
        ('key = "looked_after"\ntext', 'key = "in_care"\ntext',
         "unknown question 'looked_after'"),
        ('label = "Known"', 'label = "Known"\n  colour = "red"',
         "notification.question[abuse_or_neglect].option[known].colour: Extra inputs are not permitted"),
        ('[[review.rule]]\nid = "criteria_not_met"\ndecision = "no_review"',
         '[[review.rule]]\nid = "criteria_not_met"\nwhen = { national_regard = ["no"] }\ndecision = "no_review"',
         "review.rule: no rule decides for"),
        ("version = 1", "version = 2", "version: Input should be 1"),
        ("[sources]", "[sources", "not valid TOML"),
    ],
)
def test_bad_config_is_refused_with_one_line_naming_the_key(old, new, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CriteriaConfigError) as info:
        parse_criteria(_broken(old, new), "my-criteria.toml")
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("my-criteria.toml: ")
    assert message in text


def test_partnership_may_reword_via_setting(tmp_path: Path) -> None:
    custom = tmp_path / "criteria.toml"
    custom.write_text(
        _broken("Is abuse or neglect of the child known or suspected?", "Do we know or suspect abuse or neglect?"),
        encoding="utf-8",
    )
    settings = load_settings(criteria_file=custom)
    flow = settings.criteria().flow("notification")
    assert flow.question("abuse_or_neglect").text == "Do we know or suspect abuse or neglect?"
    assert load_settings().criteria().flow().question("abuse_or_neglect").text.startswith("Is abuse")
