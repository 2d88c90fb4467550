"""The rapid review's pure rules (bot/core/rapid_review.py): timeline, lateness, chasing, sign-off."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.core.rapid_review import (
    AgencyFacts,
    Progress,
    RapidReviewConfigError,
    RapidReviewError,
    agency_status,
    check_agencies,
    check_sent,
    load_timeline,
    progress_line,
    reply_signs_off,
    step_done_on,
    to_chase,
    to_escalate,
)
from scheduler.calendar import WorkingCalendar

START = date(2026, 12, 1)  # a Tuesday


def test_the_default_timeline_is_local_practice_with_sources() -> None:
    timeline = load_timeline()
    days = {s.key: s.day for s in timeline.steps}
    assert days == {"requests": 1, "agency_summaries": 7, "chase_late": 8, "escalate_late": 9,
                    "meeting": 10, "draft": 12, "signoff": 14, "sent": 15}
    assert all(s.basis == "local_practice" and s.source for s in timeline.steps)
    assert "seed 002" in timeline.step_for("sent").source
    assert "not in the seeds" in timeline.step_for("chase").source
    dues = timeline.dues(START, WorkingCalendar())
    # Christmas: day 15 from 1 Dec 2026 is Tue 22 Dec; from 10 Dec it runs past the bank holidays.
    assert dues["meeting"] == date(2026, 12, 15) and dues["sent"] == date(2026, 12, 22)
    late_start = load_timeline().dues(date(2026, 12, 10), WorkingCalendar())
    assert late_start["sent"] == date(2027, 1, 5)  # 25, 28 Dec and 1 Jan are bank holidays
    assert any("involvement" in line for line in timeline.request_cover)
    assert "secure" in timeline.request_secure


@pytest.mark.parametrize(("edit", "message"), [
    (('day = 7', 'day = "seven"'), "step agency_summaries.day: must be a whole number"),
    (('basis = "local_practice"\nsource = "bscp_signoff"', 'basis = "statutory"\nsource = "bscp_signoff"'),
     "must be local_practice: these steps are never statute"),
    (('source = "bscp_timeline"\naction = "sent"', 'source = "nowhere"\naction = "sent"'),
     "source 'nowhere' is not a [sources] entry"),
    (('action = "draft"', 'action = "meeting"'), "meeting is the action of another step too"),
    (('day = 12', 'day = 3'), "is before the step above it"),
    (('key = "draft"', 'key = "Draft!"'), "must be lower-case letters"),
])
def test_a_bad_timeline_names_the_key(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    text = (Path(__file__).parents[2] / "config" / "rapid_review.toml").read_text()
    assert edit[0] in text
    path = tmp_path / "rr.toml"
    path.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(RapidReviewConfigError) as caught:
        load_timeline(path)
    assert str(caught.value).startswith(str(path)) and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_timeline_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(RapidReviewConfigError, match="cannot read"):
        load_timeline(tmp_path / "none.toml")


def test_agencies_are_late_from_the_day_after_their_due_date() -> None:
    due = date(2026, 12, 10)
    assert agency_status(due, None, due) == "requested"
    assert agency_status(due, None, date(2026, 12, 11)) == "late"
    assert agency_status(due, date(2026, 12, 14), date(2026, 12, 20)) == "returned"


def test_chasing_and_escalation_happen_once_on_their_days() -> None:
    due = date(2026, 12, 10)
    facts = [AgencyFacts("police", START, due, returned_on=date(2026, 12, 9)),
             AgencyFacts("health", START, due),
             AgencyFacts("school", START, due, chased_on=date(2026, 12, 11))]
    assert to_chase(facts, date(2026, 12, 11), date(2026, 12, 10)) == []
    assert to_chase(facts, date(2026, 12, 11), date(2026, 12, 11)) == ["health"]
    assert to_escalate(facts, date(2026, 12, 14), date(2026, 12, 11)) == []
    assert to_escalate(facts, date(2026, 12, 14), date(2026, 12, 14)) == ["health", "school"]
    escalated = [AgencyFacts("health", START, due, escalated_on=date(2026, 12, 14))]
    assert to_escalate(escalated, date(2026, 12, 14), date(2026, 12, 15)) == []


def test_steps_are_done_from_the_facts() -> None:
    timeline = load_timeline()
    today = date(2026, 12, 18)
    agencies = (AgencyFacts("a", START, date(2026, 12, 10), date(2026, 12, 9)),
                AgencyFacts("b", START, date(2026, 12, 10), date(2026, 12, 11)))
    progress = Progress(START, agencies, {"police": date(2026, 12, 16), "health": date(2026, 12, 17)},
                        meeting_on=date(2026, 12, 21))
    done = {s.key: step_done_on(s, progress, today) for s in timeline.steps}
    assert done["requests"] == START and done["agency_summaries"] == date(2026, 12, 11)
    assert done["meeting"] is None  # set for a day still to come
    assert done["signoff"] is None  # two of three
    full = Progress(START, agencies, {"police": date(2026, 12, 16), "health": date(2026, 12, 17),
                                      "local_authority": date(2026, 12, 18)}, meeting_on=date(2026, 12, 15))
    done = {s.key: step_done_on(s, full, today) for s in timeline.steps}
    assert done["signoff"] == date(2026, 12, 18) and done["meeting"] == date(2026, 12, 15)


def test_sent_with_fewer_than_three_signoffs_needs_a_reason() -> None:
    with pytest.raises(RapidReviewError, match="only 2 of 3 .*--reason"):
        check_sent(2, "  ")
    assert check_sent(2, " health  partner on leave ") == "health partner on leave"
    assert check_sent(3, None) is None


def test_progress_line_and_signoff_words() -> None:
    assert progress_line(4, 6, 1, date(2026, 12, 15)) == \
        "4 of 6 agencies returned, 1 of 3 sign-offs, meeting Tue 15 Dec"
    assert progress_line(0, 3, 0, None).endswith("no meeting set")
    assert reply_signs_off("I sign off.\n\nOn Tue, X wrote:\n> please sign off")
    assert reply_signs_off("Approved - thanks")
    assert not reply_signs_off("Not approved yet: the chronology is missing.")
    assert not reply_signs_off("Can we talk?\n> reply 'approved' to sign off")


def test_agencies_named_must_be_configured() -> None:
    assert check_agencies(["police", " police", "health"], ["police", "health"]) == ["police", "health"]
    with pytest.raises(RapidReviewError, match="unknown agency 'fire'; configured: police"):
        check_agencies(["fire"], ["police"])
    with pytest.raises(RapidReviewError, match="no agencies configured"):
        check_agencies(["police"], [])
