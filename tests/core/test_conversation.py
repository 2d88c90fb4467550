"""The one conversation engine: every move a person can make, without storage or an adapter.

Slack and the terminal render these turns; if a rule here changed, both would change with it.
"""

from __future__ import annotations

import pytest

from bot.core.conversation import (
    RESUMED,
    STARTED_AGAIN,
    ConversationEngine,
    ConversationState,
)
from bot.core.criteria import CriteriaAnswerError, load_criteria


@pytest.fixture(scope="module")
def engine() -> ConversationEngine:
    return ConversationEngine(load_criteria())


def first_question(engine: ConversationEngine, flow: str = "notification") -> str:
    key = engine.flow(flow).next_question({}, include_optional=True)
    assert key is not None
    return key


def test_a_new_conversation_asks_the_first_question(engine: ConversationEngine) -> None:
    turn = engine.start(None)
    assert turn.flow.key == "notification"
    assert turn.question == first_question(engine)
    assert turn.note is None and not turn.finished


def test_an_answer_moves_on_and_is_kept_with_its_order(engine: ConversationEngine) -> None:
    q1 = first_question(engine)
    value = engine.flow("notification").question(q1).options[0][0]
    turn = engine.answer(None, "notification", q1, value)
    assert turn.question != q1
    assert turn.state == ConversationState("notification", {q1: value}, {"history": [q1]})


def test_age_is_asked_first_and_an_adult_is_asked_only_what_matters(engine: ConversationEngine) -> None:
    """Issue 10 item 1: the conversations (terminal, Slack) ask the age first; for a young
    person of 18 to 24 only the harm and the care-leaver question can still change anything."""
    turn = engine.start(None)
    assert turn.question == "age"
    asked = []
    answers = {"age": "18_to_24", "harm": "died", "care_leaver_under_25": "yes"}
    while not turn.finished:
        asked.append(turn.question)
        turn = engine.answer(turn.state, "notification", turn.question, answers[turn.question])  # type: ignore[index]
    assert asked == ["age", "harm", "care_leaver_under_25"]
    assert turn.evaluation is not None
    assert turn.evaluation.decision == "not_required"
    assert list(turn.evaluation.also_notify) == ["secretary_of_state", "ofsted"]


def test_start_resumes_a_saved_conversation_at_the_same_question(engine: ConversationEngine) -> None:
    after_one = engine.answer(None, "notification", "abuse_or_neglect", "known")
    resumed = engine.start(after_one.state)
    assert resumed.question == after_one.question
    assert resumed.note == RESUMED
    assert resumed.answers == {"abuse_or_neglect": "known"}


def test_start_with_restart_or_another_flow_begins_afresh(engine: ConversationEngine) -> None:
    saved = engine.answer(None, "notification", "abuse_or_neglect", "known").state
    assert engine.start(saved, restart=True).answers == {}
    review = engine.start(saved, flow="review")
    assert review.flow.key == "review" and review.answers == {}
    assert review.question == first_question(engine, "review")


def test_answers_that_no_longer_fit_the_tree_are_not_resumed(engine: ConversationEngine) -> None:
    stale = ConversationState("notification", {"abuse_or_neglect": "a_value_since_removed"})
    turn = engine.start(stale)
    assert turn.answers == {} and turn.note is None


def test_back_forgets_the_latest_answer_only(engine: ConversationEngine) -> None:
    one = engine.answer(None, "notification", "abuse_or_neglect", "known")
    two = engine.answer(one.state, "notification", "harm", "died")
    back = engine.back(two.state)
    assert back.answers == {"abuse_or_neglect": "known"}
    assert back.question == one.question
    assert engine.back(engine.back(back.state).state).question == first_question(engine)


def test_restart_forgets_everything_and_says_so(engine: ConversationEngine) -> None:
    turn = engine.restart("notification")
    assert turn.answers == {} and turn.note == STARTED_AGAIN
    assert turn.question == first_question(engine)


def test_help_shows_the_question_with_guidance_and_changes_nothing(engine: ConversationEngine) -> None:
    saved = engine.answer(None, "notification", "abuse_or_neglect", "known").state
    turn = engine.help(saved, "notification", "harm")
    assert turn.show_help and turn.question == "harm" and turn.state == saved


@pytest.mark.parametrize(
    ("question", "value"), [("harm", "exploded"), ("no_such_question", "yes")]
)
def test_a_forged_answer_is_refused(engine: ConversationEngine, question: str, value: str) -> None:
    with pytest.raises(CriteriaAnswerError):
        engine.answer(None, "notification", question, value)
    with pytest.raises(CriteriaAnswerError):
        engine.help(None, "notification", "no_such_question")
    with pytest.raises(CriteriaAnswerError):
        engine.start(None, flow="no_such_flow")


def answer_until_done(engine: ConversationEngine, flow: str, pick: int) -> object:
    turn = engine.start(None, flow=flow)
    while not turn.finished:
        question = turn.flow.question(turn.question)  # type: ignore[arg-type]
        value = question.options[min(pick, len(question.options) - 1)][0]
        turn = engine.answer(turn.state, flow, question.key, value)
    return turn


def test_a_finished_notification_conversation_is_forgotten(engine: ConversationEngine) -> None:
    turn = answer_until_done(engine, "notification", 0)
    assert turn.finished and turn.evaluation is not None  # type: ignore[attr-defined]
    assert turn.evaluation.decided  # type: ignore[attr-defined]
    assert turn.state is None  # type: ignore[attr-defined]


def test_a_finished_review_is_kept_for_recording_but_never_resumed(engine: ConversationEngine) -> None:
    turn = answer_until_done(engine, "review", 1)
    state = turn.state  # type: ignore[attr-defined]
    assert state is not None and state.finished and state.flow == "review"
    assert turn.evaluation.milestone  # type: ignore[attr-defined]
    again = engine.start(state)
    assert again.answers == {} and not again.finished and again.note is None
    # a stale button from the finished review starts a new review rather than editing the old
    fresh = engine.answer(state, "review", first_question(engine, "review"), "yes")
    assert fresh.answers == {first_question(engine, "review"): "yes"}
