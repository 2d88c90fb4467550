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


YES = ("secretary_of_state", "ofsted")


def possible(a: dict[str, str]) -> bool:
    """A looked-after child is under 18; the care-leaver notification covers 18 to 24."""
    if a.get("looked_after") == "yes" and a.get("age", "under_18") != "under_18":
        return False
    return not (a.get("care_leaver_under_25") == "yes" and a.get("age", "18_to_24") != "18_to_24")


def oracle(a: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    """s16C(1) (a child, under 18) + WT ch.4/5 + the Tees rule, restated independently of the TOML."""
    also = YES if a["harm"] == "died" and "yes" in (a["looked_after"], a["care_leaver_under_25"]) else ()
    if a["age"] != "under_18":
        return "not_required", also
    if a["location"] in ("elsewhere_in_england", "outside_area_not_resident"):
        return "not_required", also
    if a["harm"] == "not_serious":
        return "not_required", also
    if a["abuse_or_neglect"] == "not_suspected":
        tees = a["family_known_to_csc"] == "yes"  # Tees: a suicide or unexplained death
        return ("discuss" if tees else "not_required"), also
    if "unsure" in (a["abuse_or_neglect"], a["harm"]):
        return "discuss", also
    return "notify", also


def all_complete() -> list[dict[str, str]]:
    combos = (dict(zip(KEYS, c, strict=True)) for c in itertools.product(*NOTIFICATION_CONTRACT.values()))
    return [c for c in combos if possible(c)]


def test_every_complete_answer_set_matches_the_law(flow) -> None:  # type: ignore[no-untyped-def]
    for answers in all_complete():
        result = flow.evaluate(answers)
        assert (result.decision, result.also_notify) == oracle(answers), answers
        assert result.next_question is None
        assert result.reasons and all(r.text and r.source for r in result.reasons)


ASSUMED = {"family_known_to_csc": "no"}  # what `criteria` takes when not told (Tees: a local rule)
REQUIRED = [k for k in KEYS if k not in ASSUMED]


def _consistent(partial: dict[str, str], *, assume: bool = True) -> list[dict[str, str]]:
    if assume:
        partial = {**{k: v for k, v in ASSUMED.items() if k not in partial}, **partial}
    missing = [k for k in KEYS if k not in partial]
    out = []
    for combo in itertools.product(*(NOTIFICATION_CONTRACT[k] for k in missing)):
        full = {**partial, **dict(zip(missing, combo, strict=True))}
        if possible(full):
            out.append(full)
    return out


def test_partial_answers_decide_only_when_certain_and_ask_what_matters(flow) -> None:  # type: ignore[no-untyped-def]
    """Sound: a decision given early holds for every completion. Not held back: when every
    completion agrees, the answer is given. Next question: unanswered and able to change it."""
    options = [(None, *values) for values in NOTIFICATION_CONTRACT.values()]
    checked = 0
    for combo in itertools.product(*options):
        partial = {k: v for k, v in zip(KEYS, combo, strict=True) if v is not None}
        if not _consistent(partial, assume=False):
            with pytest.raises(CriteriaAnswerError, match="cannot (both|all) hold"):
                flow.evaluate(partial)
            continue
        consistent = _consistent(partial)
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
            assert key in REQUIRED and key not in partial
            by_value = {
                value: frozenset(oracle(c) for c in consistent if c[key] == value)
                for value in NOTIFICATION_CONTRACT[key]
            }
            assert len({s for s in by_value.values() if s}) > 1, (partial, key)
        checked += 1
    assert checked > 5000


@pytest.mark.parametrize(
    ("answers", "decision", "also", "next_question"),
    [
        ({}, "incomplete", [], "age"),
        ({"age": "under_18"}, "incomplete", [], "abuse_or_neglect"),
        ({"age": "under_18", "abuse_or_neglect": "known", "harm": "died"}, "incomplete", [], "location"),
        ({"age": "under_18", "abuse_or_neglect": "known", "harm": "died", "location": "in_area"},
         "notify", [], "looked_after"),
        (
            {"age": "under_18", "abuse_or_neglect": "known", "harm": "died", "location": "in_area",
             "looked_after": "yes"},
            "notify", ["secretary_of_state", "ofsted"], None,
        ),
        (
            {"age": "under_18", "abuse_or_neglect": "known", "harm": "serious_harm", "location": "in_area"},
            "notify", [], None,
        ),
        (
            {"abuse_or_neglect": "not_suspected", "harm": "died", "looked_after": "yes",
             "location": "in_area", "family_known_to_csc": "no"},
            "not_required", ["secretary_of_state", "ofsted"], None,
        ),
        ({"harm": "not_serious"}, "not_required", [], None),
        ({"abuse_or_neglect": "not_suspected", "family_known_to_csc": "no"}, "not_required", [], "age"),
        ({"abuse_or_neglect": "not_suspected", "harm": "not_serious"}, "not_required", [], None),
        ({"location": "elsewhere_in_england"}, "not_required", [], "age"),
        ({"age": "under_18", "abuse_or_neglect": "unsure", "harm": "serious_harm", "location": "in_area"},
         "discuss", [], None),
        ({"age": "under_18", "abuse_or_neglect": "known", "harm": "unsure", "location": "in_area"},
         "discuss", [], None),
        (
            {"age": "under_18", "abuse_or_neglect": "known", "harm": "serious_harm",
             "location": "elsewhere_in_england"},
            "not_required", [], None,
        ),
        (
            {"age": "under_18", "abuse_or_neglect": "suspected", "harm": "serious_harm",
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


# --- issue 10 item 1: the person's age --------------------------------------------------------


def test_age_is_the_first_question(flow) -> None:  # type: ignore[no-untyped-def]
    assert flow.question_keys()[0] == "age"
    assert flow.next_question({}) == "age"
    assert flow.next_question({}, include_optional=True) == "age"


def test_without_age_a_would_be_notification_is_incomplete(flow) -> None:  # type: ignore[no-untyped-def]
    result = flow.evaluate({"abuse_or_neglect": "known", "harm": "died", "location": "in_area",
                            "looked_after": "no", "care_leaver_under_25": "no"})
    assert (result.decision, result.next_question) == ("incomplete", "age")


def test_care_leaver_aged_18_to_24_who_died(flow) -> None:  # type: ignore[no-untyped-def]
    """The 22-year-old care leaver killed, abuse suspected: not the Panel; SoS and Ofsted."""
    result = flow.evaluate({"age": "18_to_24", "abuse_or_neglect": "suspected", "harm": "died",
                            "location": "in_area", "care_leaver_under_25": "yes"})
    assert result.decision == "not_required"
    assert list(result.also_notify) == ["secretary_of_state", "ofsted"]
    assert result.next_question is None
    assert any("care leaver" in r.text and "Working Together to Safeguard Children 2023" in r.source
               for r in result.reasons)
    # only what can still change the outcome is asked: harm, then the care-leaver question
    assert flow.evaluate({"age": "18_to_24"}).next_question == "harm"
    assert flow.evaluate({"age": "18_to_24", "harm": "died"}).next_question == "care_leaver_under_25"
    assert flow.evaluate({"age": "18_to_24", "harm": "serious_harm"}).next_question is None


def test_25_or_over_says_neither_notification_applies_with_sources(flow) -> None:  # type: ignore[no-untyped-def]
    result = flow.evaluate({"age": "25_or_over"})
    assert (result.decision, result.also_notify, result.next_question) == ("not_required", (), None)
    text = " ".join(r.text for r in result.reasons)
    assert "not a child" in text and "up to and including the age of 24" in text
    assert all(r.source for r in result.reasons)


def test_looked_after_means_under_18_and_care_leaver_means_18_to_24(flow) -> None:  # type: ignore[no-untyped-def]
    assert flow.evaluate({"age": "under_18", "abuse_or_neglect": "known", "harm": "died",
                          "location": "in_area", "looked_after": "no"}).next_question is None
    with pytest.raises(CriteriaAnswerError, match="looked_after=yes and age=18_to_24 cannot both hold"):
        flow.evaluate({"age": "18_to_24", "looked_after": "yes"})
    with pytest.raises(CriteriaAnswerError, match="cannot both hold"):
        flow.evaluate({"age": "under_18", "care_leaver_under_25": "yes"})
    # a looked-after child's death with age unknown: the age follows from "looked after"
    result = flow.evaluate({"harm": "died", "looked_after": "yes", "location": "elsewhere_in_england"})
    assert (result.decision, list(result.also_notify), result.next_question) == (
        "not_required", ["secretary_of_state", "ofsted"], None)


# --- issue 10 item 5: Tees, a family known to children's social care ---------------------------


def test_tees_suicide_in_a_family_known_to_csc_is_discuss(flow) -> None:  # type: ignore[no-untyped-def]
    answers = {"age": "under_18", "abuse_or_neglect": "not_suspected", "harm": "died",
               "context": "suicide", "location": "in_area", "looked_after": "no"}
    assert flow.next_question(answers, include_optional=True) == "family_known_to_csc"
    result = flow.evaluate({**answers, "family_known_to_csc": "yes"})
    assert result.decision == "discuss"
    assert "Tees" in result.reasons[-1].source and "suicide or unexplained death" in result.reasons[-1].text
    assert flow.evaluate({**answers, "family_known_to_csc": "no"}).decision == "not_required"


def test_tees_question_asked_only_when_it_can_change_the_answer(flow) -> None:  # type: ignore[no-untyped-def]
    base = {"age": "under_18", "harm": "died", "context": "suicide", "location": "in_area", "looked_after": "no"}
    for abuse in ("known", "unsure"):
        assert flow.next_question({**base, "abuse_or_neglect": abuse}, include_optional=True) is None
    not_serious = {**base, "abuse_or_neglect": "not_suspected", "harm": "not_serious"}
    assert flow.next_question(not_serious, include_optional=True) is None
    elsewhere = {**base, "abuse_or_neglect": "not_suspected", "location": "elsewhere_in_england"}
    assert flow.next_question(elsewhere, include_optional=True) is None


def test_criteria_takes_the_tees_answer_as_no_and_says_what_yes_would_mean(flow) -> None:  # type: ignore[no-untyped-def]
    """The one-shot command does not demand the local (Tees) question: not suspected settles
    not_required, with a reason naming the question; the conversation asks it."""
    answers = {"age": "under_18", "abuse_or_neglect": "not_suspected", "harm": "died",
               "context": "suicide", "location": "in_area", "looked_after": "no"}
    result = flow.evaluate(answers)
    assert (result.decision, result.next_question) == ("not_required", None)
    assert any(r.text.startswith('Not answered, taken as "No"') and "Tees" in r.source for r in result.reasons)
    assert flow.next_question(answers, include_optional=True) == "family_known_to_csc"
    assert flow.evaluate({"abuse_or_neglect": "not_suspected"}).decision == "not_required"
    assert flow.next_question({"abuse_or_neglect": "known", "age": "under_18", "harm": "died",
                               "context": "none", "location": "in_area", "looked_after": "no"},
                              include_optional=True) is None


# --- issue 10 item 6: where it happened settles it first ---------------------------------------


def test_unsure_abuse_asks_location_before_discuss(flow) -> None:  # type: ignore[no-untyped-def]
    answers = {"age": "under_18", "abuse_or_neglect": "unsure", "harm": "serious_harm"}
    result = flow.evaluate(answers)
    assert (result.decision, result.next_question) == ("incomplete", "location")
    outside = flow.evaluate({**answers, "location": "outside_area_not_resident"})
    assert outside.decision == "not_required"
    assert "s16C" in outside.reasons[-1].source
    assert flow.evaluate({**answers, "location": "in_area"}).decision == "discuss"


def test_elsewhere_in_england_says_contact_that_la(flow) -> None:  # type: ignore[no-untyped-def]
    result = flow.evaluate(
        {"abuse_or_neglect": "known", "harm": "serious_harm", "location": "elsewhere_in_england"}
    )
    assert any("Contact that local authority" in r.text for r in result.reasons)


def test_discuss_cites_panel_guidance_and_says_do_not_wait(flow) -> None:  # type: ignore[no-untyped-def]
    result = flow.evaluate({"age": "under_18", "abuse_or_neglect": "unsure", "harm": "died",
                            "location": "in_area", "looked_after": "no"})
    assert result.decision == "discuss"
    deciding = result.reasons[-1]
    assert "now, not to wait" in deciding.text
    assert "Panel guidance for safeguarding partners (2022)" in deciding.source
    assert [g.key for g in result.grey_areas] == ["uncertain"]
    assert "only through the rapid review" in result.grey_areas[0].text


@pytest.mark.parametrize("answers", [{"abuse_or_neglect": "not_suspected", "harm": "serious_harm",
                                      "family_known_to_csc": "no"},
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
    answers = {"age": "under_18", "abuse_or_neglect": "known", "harm": "died"}
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


# --- issue 10 item 9: citations their source supports -----------------------------------------


UNSUPPORTED = [  # statements no seed (nor any stored source) supports: gone from the file
    "need not be by a parent or carer",
    "chronic neglect",
    "even if the immediate cause looks accidental",
    "another local authority looks after the child",
]


def test_statements_no_source_supports_are_gone() -> None:
    text = CONFIG.read_text(encoding="utf-8").lower()
    for phrase in UNSUPPORTED:
        assert phrase.lower() not in text, phrase


def test_tees_wording_is_cited_to_tees_not_s16c(flow) -> None:  # type: ignore[no-untyped-def]
    question = flow.question("abuse_or_neglect")
    assert "contributory factor" in question.help
    assert question.source.startswith("Tees") and "s16C" not in question.source
    for key in ("neglect", "sudi", "suicide"):
        grey = next(g for g in flow.evaluate({"age": "under_18", "context": key,
                                                "harm": "died"}).grey_areas if g.key == key)
        assert "Tees" in grey.source, key  # the Tees wording it quotes


def test_every_source_says_whether_a_seed_supports_it(tree) -> None:  # type: ignore[no-untyped-def]
    sources = tree.spec.sources
    assert all(s.seed or s.unverified for s in sources.values())
    marked = {k for k, s in sources.items() if not s.in_seeds}
    assert {"child_under_18", "wt_care_leaver", "govuk_lac", "ees_other", "wt_recovers"} <= marked
    for key in marked:
        assert "[not in the seed guidance: " in sources[key].cite()
    assert "[not in the seed guidance" not in sources["tees_rule"].cite()


def test_local_review_criteria_name_regulation_11_and_working_together(tree) -> None:  # type: ignore[no-untyped-def]
    cited = tree.spec.sources["wt_lcspr"].cite()
    assert "SI 2018/789" in cited and "regulation 11" in cited and "Working Together" in cited


def test_unsupported_sources_are_shown_marked_in_the_answer(flow) -> None:  # type: ignore[no-untyped-def]
    result = flow.evaluate({"age": "18_to_24", "harm": "died", "care_leaver_under_25": "yes"})
    care = [r for r in result.reasons if "care leaver" in r.text.lower()]
    assert care and all("[not in the seed guidance: " in r.source for r in care)


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
        ('source = "tees_rule"\n  [[notification.question.option]]\n  value = "known"',
         'source = "nowhere"\n  [[notification.question.option]]\n  value = "known"',
         "notification.question[abuse_or_neglect].source: 'nowhere' is not defined"),
        ('when = { looked_after = ["yes"], age = ["18_to_24", "25_or_over"] }',
         'when = { looked_after = ["yes"], age = ["eighteen"] }',
         "notification.impossible[looked_after_adult].when: age has no answer 'eighteen'"),
        ('seed = "004" }', 'seed = "four" }', "String should match pattern"),
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
