"""The case modal offers amend, assign and close to case officers, through the case service:
the real Bolt app over HTTP with signed requests, the loopback Slack Web API, on SQLite and
PostgreSQL. The buttons clicked are the ones the case modal really renders."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from slack_sdk.models.views import View

from handlers.slack import case_blocks as cb
from handlers.slack import ids
from tests.handlers.slack import test_slack_reminder_actions as base
from tests.handlers.slack.test_slack_reminder_actions import (
    CHILD_NAME,
    OFFICER,
    PRACTITIONER,
    Slack,
    open_case,
    reminder_buttons,
)
from tests.slack_harness import wait_for

pytestmark = pytest.mark.integration
# The reminder tests' harness fixtures: the same Bolt app, settings and Web API stand-in.
slack_settings = base.slack_settings
slack = base.slack


def _buttons(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for block in view["blocks"]:
        for element in block.get("elements", []):
            if element.get("type") == "button":
                found[element["action_id"]] = {"action_id": element["action_id"], "type": "button",
                                               "value": element["value"], "text": element["text"]}
    return found


async def _case_modal(slack: Slack, reference_case: Any) -> dict[str, Any]:
    before = len(slack.calls("views.open"))
    await slack.click(reminder_buttons(reference_case, "rapid_review")[ids.CASE_VIEW])
    return (await slack.opened_view(before + 1))["view"]


async def _push(slack: Slack, button: dict[str, Any], user: str = OFFICER) -> dict[str, Any]:
    """Click a button inside the case modal; the modal pushed on top of it."""
    before = len(slack.calls("views.push"))
    payload = {
        "type": "block_actions", "team": {"id": "T1", "domain": "test"},
        "user": {"id": user, "team_id": "T1"}, "api_app_id": "A1", "trigger_id": f"trig.{user}",
        "container": {"type": "view", "view_id": "VCASE"},
        "view": {"id": "VCASE", "type": "modal", "callback_id": ids.CASE_SUMMARY_VIEW},
        "actions": [{**button, "block_id": "case_actions", "action_ts": "1.0"}],
    }
    await slack._send(payload)
    pushed = await wait_for(lambda: len(slack.calls("views.push")) > before and slack.calls("views.push"))
    view = pushed[-1]["view"]
    View(**view).validate_json()
    return view


async def _submit(slack: Slack, view: dict[str, Any], values: dict[str, Any], user: str = OFFICER) -> dict[str, Any]:
    payload = {
        "type": "view_submission", "team": {"id": "T1", "domain": "test"},
        "user": {"id": user, "team_id": "T1"}, "api_app_id": "A1", "trigger_id": "t.2",
        "view": {"id": "V2", "type": "modal", "callback_id": view["callback_id"],
                 "private_metadata": view["private_metadata"], "state": {"values": values}},
    }
    status, body = await slack._send(payload)
    assert status == 200
    return json.loads(body) if body else {}


def _text(value: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def _date(value: str) -> dict[str, Any]:
    return {"value": {"type": "datepicker", "selected_date": value}}


def _option(value: str) -> dict[str, Any]:
    return {"value": {"type": "static_select", "selected_option": {"value": value, "text": {"type": "plain_text", "text": value}}}}


@pytest.mark.asyncio
async def test_amend_assign_and_close_from_the_case_modal(slack: Slack) -> None:
    case = open_case(slack)
    slack.service.record_milestone(case.reference, "panel_notified", on=date(2026, 12, 22), actor="cli:test")
    modal = await _case_modal(slack, case)
    buttons = _buttons(modal)
    assert set(buttons) >= {ids.CASE_AMEND, ids.CASE_ASSIGN, ids.CASE_CLOSE}

    # Amend: a date before awareness is refused on the field, by the same rules as the CLI.
    amend = await _push(slack, buttons[ids.CASE_AMEND])
    assert amend["callback_id"] == ids.CASE_AMEND_VIEW and "panel-notified" in json.dumps(amend)
    refused = await _submit(slack, amend, {cb.AMEND_MILESTONE: _option("panel-notified"),
                                           cb.AMEND_ON: _date("2026-12-18"), cb.REASON: _text("typo")})
    assert refused["response_action"] == "errors" and "before the LA became aware" in refused["errors"][cb.AMEND_ON]
    no_reason = await _submit(slack, amend, {cb.AMEND_MILESTONE: _option("panel-notified"),
                                             cb.AMEND_ON: _date("2026-12-21")})
    assert no_reason["response_action"] == "errors" and cb.REASON in no_reason["errors"]
    done = await _submit(slack, amend, {cb.AMEND_MILESTONE: _option("panel-notified"),
                                        cb.AMEND_ON: _date("2026-12-21"), cb.REASON: _text("sent a day earlier")})
    assert done == {"response_action": "clear"}
    shown = slack.service.get(case.reference)
    [milestone] = shown.milestones
    assert (milestone.on, milestone.amended_from) == (date(2026, 12, 21), date(2026, 12, 22))
    history = slack.service.history(case.reference)
    assert any(e["action"] == "milestone.amended" and e["actor"] == f"slack:{OFFICER}"
               and e["detail"]["reason"] == "sent a day earlier" for e in history)

    # Assign: an owner that cannot be routed is refused on the field.
    assign = await _push(slack, buttons[ids.CASE_ASSIGN])
    refused = await _submit(slack, assign, {cb.OWNER: _text("U123")})
    assert "neither a Slack user ID" in refused["errors"][cb.OWNER]
    assert await _submit(slack, assign, {cb.OWNER: _text("U0NEWOWNER")}) == {"response_action": "clear"}
    assert slack.service.get(case.reference).owner == "U0NEWOWNER"

    # Close: the modal names the steps still open; closing marks them not applicable.
    close = await _push(slack, buttons[ids.CASE_CLOSE])
    assert "Complete the rapid review" in json.dumps(close)
    assert await _submit(slack, close, {cb.REASON: _text("the partnership closes it")}) == {"response_action": "clear"}
    closed = slack.service.get(case.reference)
    assert closed.status == "closed" and closed.next_deadline is None
    confirmations = await wait_for(lambda: len(slack.calls("chat.postMessage")) >= 3 and slack.calls("chat.postMessage"))
    assert all(c["channel"] == OFFICER for c in confirmations)  # privately, never a channel
    assert CHILD_NAME not in slack.everything_posted()
    # A closed case offers no "Close" any more.
    assert ids.CASE_CLOSE not in _buttons(await _case_modal(slack, case))


@pytest.mark.asyncio
async def test_only_case_officers_may_amend_assign_or_close(slack: Slack) -> None:
    case = open_case(slack)
    slack.service.record_milestone(case.reference, "panel_notified", on=date(2026, 12, 22), actor="cli:test")
    buttons = _buttons(await _case_modal(slack, case))
    for action in (ids.CASE_AMEND, ids.CASE_ASSIGN, ids.CASE_CLOSE):
        await slack._send({
            "type": "block_actions", "team": {"id": "T1", "domain": "test"},
            "user": {"id": PRACTITIONER, "team_id": "T1"}, "api_app_id": "A1", "trigger_id": "t.x",
            "container": {"type": "view", "view_id": "VCASE"},
            "view": {"id": "VCASE", "type": "modal", "callback_id": ids.CASE_SUMMARY_VIEW},
            "actions": [{**buttons[action], "block_id": "case_actions", "action_ts": "1.0"}],
        })
    await wait_for(lambda: len(slack.calls("chat.postMessage")) >= 3)
    assert slack.calls("views.push") == []
    assert slack.service.get(case.reference).status == "open"


@pytest.mark.asyncio
async def test_the_case_modal_lists_every_child(slack: Slack) -> None:
    case = open_case(slack)
    slack.service.add_child(case.reference, name="Sam Fictional-Sibling", actor=f"slack:{OFFICER}")
    modal = await _case_modal(slack, case)
    shown = json.dumps(modal)
    assert CHILD_NAME in shown and "Sam Fictional-Sibling" in shown and "Child 2" in shown
    assert "Sam Fictional-Sibling" not in slack.everything_posted()


@pytest.mark.asyncio
async def test_a_case_opened_in_slack_is_told_to_the_team_mailbox_too(engine: Any, tmp_path: Any) -> None:
    from sqlmodel import Session, select

    from bot.settings import load_settings
    from store.models import OutboxMessage
    from tests.slack_harness import SECRET

    settings = load_settings(
        data_dir=tmp_path / "var", slack_bot_token="xoxb-test-token", slack_signing_secret=SECRET,
        slack_mode="http", slack_case_officers=[OFFICER],
        partnerships=[{"key": "default", "name": "Testshire SCP", "slack_channel": "C0NOTICE",
                       "team_email": "team@testshire.example.gov.uk"}],
    )
    harness = Slack(engine, settings)
    await harness.start()
    try:
        assert harness.server is not None
        await harness.server.action(harness.fake, ids.OPEN_CASE, "notify", user=OFFICER)
        view = (await harness.opened_view())["view"]
        values = {
            "aware": {"value": {"type": "datepicker", "selected_date": "2026-12-21"}},
            "partnership": {"value": {"type": "static_select", "selected_option": {"value": "default"}}},
            "summary": {"value": {"type": "plain_text_input", "value": "Fictional summary"}},
        }
        status, body = await harness.server.view_submission(ids.OPEN_CASE_VIEW, values, view["private_metadata"])
        assert status == 200 and "errors" not in body
        await wait_for(lambda: [c for c in harness.calls("chat.postMessage") if c["channel"] == "C0NOTICE"])

        def mailed() -> list[OutboxMessage]:
            with Session(engine) as session:
                return [m for m in session.exec(select(OutboxMessage)).all()
                        if m.recipient == "team@testshire.example.gov.uk"]

        [notice] = await wait_for(mailed)
        [case] = harness.service.list()
        assert case.reference in notice.subject and case.reference in notice.body
        assert "Fictional summary" not in notice.body
    finally:
        await harness.stop()
