"""Partnership scoping in Slack (issue 16 item 4): real signed requests into the Bolt app,
against the loopback Slack Web API, on SQLite.

Two partnerships, each naming its own case officers. An officer of North is refused on South's
case at every entry point that takes a case reference, in the same words as for a reference
with no case, and the refusal writes nothing; on North's own case the same request goes
through. App Home lists North's cases only.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.cases import OUT_OF_SCOPE, CaseView
from bot.settings import Settings, load_settings
from handlers.slack import ids
from handlers.slack import payloads as pl
from store.db import make_engine, upgrade
from store.models import AuditEntry
from tests.handlers.slack.test_slack_reminder_actions import (
    PANEL,
    Slack,
    reminder_buttons,
)
from tests.slack_harness import SECRET, wait_for

pytestmark = pytest.mark.integration

NORTH_OFFICER = "U0NORTH01"
SOUTH_OFFICER = "U0SOUTH01"
CHANNEL = "C0NOTICE"
DECISION = "notify"


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'scoping.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def scoped_settings(tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path / "var",
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=SECRET,
        slack_mode="http",
        slack_case_officers=["U0INSTALL1"],
        partnerships=[
            {"key": "north", "name": "North SCP", "reference_prefix": "NO", "slack_channel": CHANNEL,
             "case_officers": [NORTH_OFFICER]},
            {"key": "south", "name": "South SCP", "reference_prefix": "SO", "case_officers": [SOUTH_OFFICER],
             "partners": [{"role": "police", "name": "South Police", "email": "police@example.org",
                           "slack_user": SOUTH_OFFICER}]},
        ],
    )


@pytest_asyncio.fixture
async def slack(sqlite_engine: Engine, scoped_settings: Settings) -> AsyncIterator[Slack]:
    harness = Slack(sqlite_engine, scoped_settings)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


def cases(slack: Slack) -> tuple[CaseView, CaseView]:
    north = slack.service.open_case(la_aware=date(2026, 12, 21), actor="cli:test", partnership_key="north",
                                    summary="Fictional north case")
    south = slack.service.open_case(la_aware=date(2026, 12, 21), actor="cli:test", partnership_key="south",
                                    summary="Fictional south case")
    return north, south


def audit_rows(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(AuditEntry)).one())


def button(action_id: str, value: str) -> dict[str, Any]:
    return {"action_id": action_id, "type": "button", "value": value,
            "text": {"type": "plain_text", "text": "x"}}


def reminder_button(case: CaseView, action_id: str) -> dict[str, Any]:
    return reminder_buttons(case, PANEL)[action_id]


def fake_reminder_button(reference: str, action_id: str) -> dict[str, Any]:
    return button(action_id, ids.reminder_value(reference, PANEL))


# Buttons: (how the button for a case is made, how one for a reference with no case is made)
BUTTONS: dict[str, Any] = {
    "record as done": lambda c: reminder_button(c, ids.RECORD_DONE),
    "snooze": lambda c: reminder_button(c, ids.SNOOZE),
    "case view": lambda c: reminder_button(c, ids.CASE_VIEW),
    "amend": lambda c: button(ids.CASE_AMEND, ids.case_value(c.reference)),
    "assign": lambda c: button(ids.CASE_ASSIGN, ids.case_value(c.reference)),
    "close": lambda c: button(ids.CASE_CLOSE, ids.case_value(c.reference)),
    "start rapid review": lambda c: button(ids.RAPID_REVIEW_START, ids.case_value(c.reference)),
    "sign off rapid review": lambda c: button(ids.RAPID_REVIEW_SIGNOFF, ids.case_value(c.reference)),
}
NO_CASE = {
    "record as done": lambda r: fake_reminder_button(r, ids.RECORD_DONE),
    "snooze": lambda r: fake_reminder_button(r, ids.SNOOZE),
    "case view": lambda r: fake_reminder_button(r, ids.CASE_VIEW),
    "amend": lambda r: button(ids.CASE_AMEND, ids.case_value(r)),
    "assign": lambda r: button(ids.CASE_ASSIGN, ids.case_value(r)),
    "close": lambda r: button(ids.CASE_CLOSE, ids.case_value(r)),
    "start rapid review": lambda r: button(ids.RAPID_REVIEW_START, ids.case_value(r)),
    "sign off rapid review": lambda r: button(ids.RAPID_REVIEW_SIGNOFF, ids.case_value(r)),
}


def answers_to(slack: Slack) -> list[str]:
    """Every private answer the bot gave (ephemeral replies and DMs)."""
    return [str(c.get("text", "")) for c in slack.calls("response_url") + slack.calls("chat.postMessage")]


@pytest.mark.asyncio
@pytest.mark.parametrize("entry", list(BUTTONS))
async def test_a_button_on_another_partnerships_case_is_refused_like_no_case(slack: Slack, entry: str) -> None:
    _, south = cases(slack)
    before = audit_rows(slack.engine)
    await slack.click(BUTTONS[entry](south), user=NORTH_OFFICER)
    await wait_for(lambda: len(answers_to(slack)) >= 1)
    await slack.click(NO_CASE[entry]("NO-2026-999"), user=NORTH_OFFICER)
    await wait_for(lambda: len(answers_to(slack)) >= 2)
    refused, no_case = answers_to(slack)[:2]
    assert refused == no_case == OUT_OF_SCOPE  # the same words: nothing of South's case is told
    assert south.reference not in json.dumps(slack.calls("response_url") + slack.calls("chat.postMessage"))
    assert not slack.calls("views.open")  # no modal for South's case
    assert audit_rows(slack.engine) == before  # a refusal writes nothing


@pytest.mark.asyncio
@pytest.mark.parametrize("entry", [e for e in BUTTONS if e != "sign off rapid review"])
async def test_the_same_button_on_the_officers_own_case_goes_through(slack: Slack, entry: str) -> None:
    north, _ = cases(slack)
    await slack.click(BUTTONS[entry](north), user=NORTH_OFFICER)
    await wait_for(lambda: slack.calls("views.open") or answers_to(slack))
    assert OUT_OF_SCOPE not in answers_to(slack)


@pytest.mark.asyncio
async def test_an_officer_of_south_signs_off_south_and_not_north(slack: Slack) -> None:
    north, south = cases(slack)
    await slack.click(BUTTONS["sign off rapid review"](north), user=SOUTH_OFFICER)
    await wait_for(lambda: answers_to(slack))
    assert answers_to(slack)[0] == OUT_OF_SCOPE
    await slack.click(BUTTONS["start rapid review"](south), user=SOUTH_OFFICER)
    await wait_for(lambda: len(answers_to(slack)) >= 2)
    assert OUT_OF_SCOPE not in answers_to(slack)[1]


def sealed(kind: str, user: str, meta: Any) -> str:
    return pl.MetadataSeal(SECRET).seal(kind, user, meta)


def submission_values(kind: str) -> dict[str, Any]:
    if kind == ids.CASE_AMEND_VIEW:
        return {"milestone": {"value": {"type": "static_select", "selected_option": {"value": "partners_aware"}}},
                "on": {"value": {"type": "datepicker", "selected_date": "2026-12-21"}},
                "reason": {"value": {"type": "plain_text_input", "value": "typo"}}}
    if kind == ids.CASE_ASSIGN_VIEW:
        return {"owner": {"value": {"type": "plain_text_input", "value": NORTH_OFFICER}}}
    if kind == ids.CASE_CLOSE_VIEW:
        return {"reason": {"value": {"type": "plain_text_input", "value": "done"}}}
    return {"done_on": {"value": {"type": "datepicker", "selected_date": "2026-12-22"}}}


def submission_meta(kind: str, reference: str) -> Any:
    if kind == ids.RECORD_DONE_VIEW:
        return pl.RecordDoneMeta(reference=reference, deadline=PANEL, channel=None, ts=None, home=False)
    return pl.CaseMeta(reference=reference)


SUBMISSIONS = [ids.RECORD_DONE_VIEW, ids.CASE_AMEND_VIEW, ids.CASE_ASSIGN_VIEW, ids.CASE_CLOSE_VIEW]


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", [*SUBMISSIONS, ids.RECORD_VIEW])
async def test_a_modal_submitted_for_another_partnerships_case_is_refused(slack: Slack, kind: str) -> None:
    """Even a modal sealed for the officer (say, opened before a settings change) is refused at
    submission; a reference with no case reads the same."""
    _, south = cases(slack)
    assert slack.server is not None
    before = audit_rows(slack.engine)
    errors = []
    for reference in (south.reference, "NO-2026-999"):
        if kind == ids.RECORD_VIEW:
            review = slack.settings.criteria().flow("review")
            answers = {k: ("yes" if k == "improvements" else "no") for k in review.question_keys()}
            metadata = sealed(kind, NORTH_OFFICER, pl.RecordDecisionMeta(answers=answers))
            values = {"reference": {"value": {"type": "plain_text_input", "value": reference}},
                      "on": {"value": {"type": "datepicker", "selected_date": "2026-12-18"}}}
        else:
            metadata = sealed(kind, NORTH_OFFICER, submission_meta(kind, reference))
            values = submission_values(kind)
        status, body = await slack.server.view_submission(kind, values, metadata, user=NORTH_OFFICER)
        assert status == 200
        answer = json.loads(body)
        assert answer["response_action"] == "errors"
        errors.append(list(answer["errors"].values()))
    assert errors[0] == errors[1] == [OUT_OF_SCOPE[:150]]
    assert audit_rows(slack.engine) == before
    assert slack.service.get(south.reference).status == "open"


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", SUBMISSIONS)
async def test_a_modal_submitted_for_the_officers_own_case_is_not_refused(slack: Slack, kind: str) -> None:
    north, _ = cases(slack)
    assert slack.server is not None
    metadata = sealed(kind, NORTH_OFFICER, submission_meta(kind, north.reference))
    _, body = await slack.server.view_submission(kind, submission_values(kind), metadata, user=NORTH_OFFICER)
    assert OUT_OF_SCOPE[:150] not in body


@pytest.mark.asyncio
async def test_open_case_offers_and_accepts_the_officers_partnerships_only(slack: Slack) -> None:
    assert slack.server is not None
    await slack.click(button(ids.OPEN_CASE, pl.open_case_value(DECISION, {})), user=NORTH_OFFICER)
    view = json.dumps((await slack.opened_view())["view"])
    assert "North SCP" in view and "South SCP" not in view  # only North is offered
    meta = pl.OpenCaseMeta(decision=DECISION, submission=pl.new_submission_id(), answers={})
    values = {"aware": {"value": {"type": "datepicker", "selected_date": "2026-12-21"}},
              "partnership": {"value": {"type": "static_select", "selected_option": {"value": "south"}}},
              "summary": {"value": {"type": "plain_text_input", "value": "Fictional"}}}
    status, body = await slack.server.view_submission(
        ids.OPEN_CASE_VIEW, values, sealed(ids.OPEN_CASE_VIEW, NORTH_OFFICER, meta), user=NORTH_OFFICER)
    assert status == 200
    assert json.loads(body)["errors"] == {"partnership": "You can open cases for your own partnerships only."}
    assert slack.service.list() == []


@pytest.mark.asyncio
async def test_app_home_lists_only_the_officers_partnerships_cases(slack: Slack) -> None:
    north, south = cases(slack)
    for case in (north, south):
        slack.service.assign(case.reference, owner=NORTH_OFFICER, actor="cli:test")
    assert slack.server is not None
    await slack.server.event({"type": "app_home_opened", "user": NORTH_OFFICER, "tab": "home",
                              "channel": "D0HOME", "event_ts": "3.1"}, "Ev0SCOPE1")
    published = await wait_for(lambda: slack.calls("views.publish"))
    view = json.dumps(published[0]["view"])
    assert north.reference in view and south.reference not in view


@pytest.mark.asyncio
async def test_the_yearly_report_is_of_the_officers_partnership_only(slack: Slack) -> None:
    north = slack.service.open_case(la_aware=date(2025, 6, 2), actor="cli:test", partnership_key="north")
    south = slack.service.open_case(la_aware=date(2025, 6, 2), actor="cli:test", partnership_key="south")
    assert slack.server is not None
    status, _ = await slack.server.command(slack.fake, user=NORTH_OFFICER, text="report 2025-04-01 2026-03-31")
    assert status == 200
    complete = await wait_for(lambda: slack.calls("files.completeUploadExternal"))
    page = slack.fake.uploads[complete[0]["files"][0]["id"]].decode("utf-8")
    assert north.reference in page and south.reference not in page
