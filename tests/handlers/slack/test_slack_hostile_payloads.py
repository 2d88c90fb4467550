"""Slack payloads are input too: signed requests that a forger with the signing secret (or a Slack
bug) could send, into the real Bolt app over HTTP, against the loopback Web API, on both
databases.

Every modal submission here gets HTTP 200 and either ``response_action: errors`` naming a field
or nothing done; every button a private "cannot" reply. A channel and ts named by a request are
never given to chat.update, and one "Open a case" modal opens one case however often it is
submitted. The modals' private_metadata is always taken from the views.open the bot really
made; only the tampered copies are made here.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine

from bot.cases import CaseService, CaseView
from bot.settings import Settings, load_settings
from handlers.slack import ids
from handlers.slack import case_blocks as cb
from handlers.slack.app import build_app
from handlers.slack.assistant import SlackAssistant
from tests.slack_harness import SECRET, BoltServer, wait_for
from tests.support.slack_api import SlackApi

pytestmark = pytest.mark.integration

TODAY = date(2026, 12, 22)
OFFICER = "U0OFFICER"
OTHER_OFFICER = "UOFFICER2"
CHANNEL = "C0NOTICE"
MESSAGE_TS = "1766400000.000100"
FORGED_CHANNEL = "C0FORGED"
FORGED_TS = "1700000000.000001"
PANEL = "panel_notification"
SUMMARY = "Fictional summary for a forged-payload test"


@pytest.fixture
def slack_settings(tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path / "var",
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=SECRET,
        slack_mode="http",
        slack_case_officers=[OFFICER, OTHER_OFFICER],
        partnerships=[{"key": "default", "name": "Testshire SCP", "slack_channel": CHANNEL}],
    )


class Slack:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self.fake = SlackApi()
        self.server: BoltServer | None = None
        self.service = CaseService(engine, settings)

    async def start(self) -> None:
        self.fake.start()
        client = AsyncWebClient(token="xoxb-test-token", base_url=self.fake.base_url)
        self.server = BoltServer(build_app(
            SlackAssistant(self.settings, self.engine, self.settings.criteria(), today=lambda: TODAY), client=client))
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        self.fake.stop()

    async def send(self, payload: dict[str, Any]) -> tuple[int, str]:
        assert self.server is not None
        return await self.server.post(urlencode({"payload": json.dumps(payload)}),
                                      "application/x-www-form-urlencoded")

    async def click(self, action_id: str, value: Any, *, user: str = OFFICER, channel: str = CHANNEL,
                    ts: str = MESSAGE_TS) -> int:
        """A button on a (non-ephemeral) message at ``channel``/``ts``, as Slack would send it."""
        status, _ = await self.send({
            "type": "block_actions", "team": {"id": "T1", "domain": "test"},
            "user": {"id": user, "team_id": "T1"}, "api_app_id": "A1", "trigger_id": f"trig.{user}",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
            "channel": {"id": channel, "name": "safeguarding"},
            "message": {"type": "message", "ts": ts, "text": "Reminder"},
            "response_url": self.fake.response_url("act"),
            "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": value,
                         "action_ts": "1.0"}],
        })
        return status

    async def submit(self, callback_id: str, metadata: Any, values: Any, *, user: str = OFFICER,
                     state: Any = None) -> tuple[int, dict[str, Any]]:
        """A view_submission; (HTTP status, the JSON response or {} for a plain ack)."""
        status, body = await self.send({
            "type": "view_submission", "team": {"id": "T1", "domain": "test"},
            "user": {"id": user, "team_id": "T1"}, "api_app_id": "A1", "trigger_id": "t.2",
            "view": {"id": "V1", "type": "modal", "callback_id": callback_id, "private_metadata": metadata,
                     "state": state if state is not None else {"values": values}},
        })
        return status, (json.loads(body) if body else {})

    def calls(self, method: str) -> list[dict[str, Any]]:
        return [c.body for c in self.fake.of(method)]

    async def opened(self, count: int = 1) -> dict[str, Any]:
        views = await wait_for(lambda: len(self.calls("views.open")) >= count and self.calls("views.open"))
        return dict(views[count - 1]["view"])

    async def replies(self, count: int) -> list[dict[str, Any]]:
        return list(await wait_for(lambda: len(self.calls("response_url")) >= count and self.calls("response_url")))


@pytest_asyncio.fixture
async def slack(engine: Engine, slack_settings: Settings) -> AsyncIterator[Slack]:
    harness = Slack(engine, slack_settings)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


def case_form(**override: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "aware": {"value": {"type": "datepicker", "selected_date": "2026-12-21"}},
        "partnership": {"value": {"type": "static_select", "selected_option": {"value": "default"}}},
        "summary": {"value": {"type": "plain_text_input", "value": SUMMARY}},
    }
    values.update(override)
    return values


def done_on(selected: Any) -> dict[str, Any]:
    return {cb.DONE_ON: {"value": {"type": "datepicker", "selected_date": selected}}}


def tampered(metadata: str, **changes: Any) -> str:
    """The bot's own sealed metadata with its data changed and its signature kept; for the old
    unsealed JSON form, the JSON changed."""
    parts = metadata.split(".")
    if len(parts) != 3:
        return json.dumps({**json.loads(metadata), **changes})
    envelope = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    envelope["d"].update(changes)
    body = base64.urlsafe_b64encode(json.dumps(envelope, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{parts[0]}.{body}.{parts[2]}"


def open_a_case(slack: Slack) -> CaseView:
    return slack.service.open_case(la_aware=date(2026, 12, 21), actor=f"slack:{OFFICER}", summary=SUMMARY)


def reminder_value(case: CaseView, deadline: str = PANEL) -> str:
    return json.dumps({"reference": case.reference, "deadline": deadline})


# --- "Open a case" ------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_malformed_open_case_submissions_get_field_errors_not_a_500(slack: Slack) -> None:
    await slack.click(ids.OPEN_CASE, "notify")
    metadata = (await slack.opened())["private_metadata"]
    cases = [
        # (what is wrong, metadata, values, the field the error must be on)
        ("null date element", metadata, case_form(aware={"value": None}), "aware"),
        ("null date", metadata, case_form(aware={"value": {"type": "datepicker", "selected_date": None}}), "aware"),
        ("non-ISO date of birth", metadata,
         case_form(child_dob={"value": {"type": "datepicker", "selected_date": "03/04/2019"}}), "child_dob"),
        ("a number for a date", metadata,
         case_form(child_dob={"value": {"type": "datepicker", "selected_date": 20190403}}), "child_dob"),
        ("a list for the summary", metadata, case_form(summary={"value": {"type": "x", "value": ["a"]}}), "summary"),
        ("a block that is a string", metadata, case_form(summary="nonsense"), "summary"),
        ("non-JSON private_metadata", "this is not json", case_form(), "summary"),
        ("JSON private_metadata the bot never made", json.dumps({"decision": "notify"}), case_form(), "summary"),
        ("private_metadata with another decision", tampered(metadata, decision="not_required"), case_form(), "summary"),
        ("private_metadata not a string", {"decision": "notify"}, case_form(), "summary"),
    ]
    for what, meta, values, field in cases:
        status, response = await slack.submit(ids.OPEN_CASE_VIEW, meta, values)
        assert status == 200, what
        assert response.get("response_action") == "errors", what
        assert field in response["errors"], (what, response)
    status, response = await slack.submit(ids.OPEN_CASE_VIEW, metadata, None, state="not a state")
    assert status == 200 and response["response_action"] == "errors"
    assert slack.service.list() == []


@pytest.mark.asyncio
async def test_a_replayed_open_case_submission_opens_one_case(slack: Slack) -> None:
    await slack.click(ids.OPEN_CASE, "notify")
    metadata = (await slack.opened())["private_metadata"]
    status, response = await slack.submit(ids.OPEN_CASE_VIEW, metadata, case_form())
    assert status == 200 and "errors" not in response
    await wait_for(lambda: [m for m in slack.calls("chat.postMessage") if m["channel"] == OFFICER])
    # the same submission again, then three at once (a replay, a double click, a retry storm)
    assert (await slack.submit(ids.OPEN_CASE_VIEW, metadata, case_form()))[0] == 200
    results = await asyncio.gather(*(slack.submit(ids.OPEN_CASE_VIEW, metadata, case_form()) for _ in range(3)))
    assert all(status == 200 for status, _ in results)
    dms = await wait_for(lambda: len([m for m in slack.calls("chat.postMessage") if m["channel"] == OFFICER]) >= 5
                         and [m for m in slack.calls("chat.postMessage") if m["channel"] == OFFICER])
    cases = slack.service.list()
    assert len(cases) == 1
    notices = [m for m in slack.calls("chat.postMessage") if m["channel"] == CHANNEL]
    assert len(notices) == 1  # the channel hears of the case once
    assert sum("already submitted" in m["text"] for m in dms) == 4
    assert all(cases[0].reference in m["text"] for m in dms)

    # a second modal is a second submission: it opens a second case
    await slack.click(ids.OPEN_CASE, "notify")
    second = (await slack.opened(2))["private_metadata"]
    assert second != metadata
    assert "errors" not in (await slack.submit(ids.OPEN_CASE_VIEW, second, case_form()))[1]
    await wait_for(lambda: len(slack.service.list()) == 2)  # opened after the ack


@pytest.mark.asyncio
async def test_a_modal_opened_for_one_officer_cannot_be_submitted_by_another(slack: Slack) -> None:
    await slack.click(ids.OPEN_CASE, "notify", user=OFFICER)
    metadata = (await slack.opened())["private_metadata"]
    status, response = await slack.submit(ids.OPEN_CASE_VIEW, metadata, case_form(), user=OTHER_OFFICER)
    assert status == 200 and "summary" in response["errors"]
    assert slack.service.list() == []


# --- "Record the decision" (rapid review) -------------------------------------------------------

@pytest.mark.asyncio
async def test_malformed_record_decision_submissions_get_field_errors_not_a_500(slack: Slack) -> None:
    case = open_a_case(slack)
    reference = {"reference": {"value": {"type": "plain_text_input", "value": case.reference}}}
    forged_answers = json.dumps({"answers": {"improvements": "yes"}})
    cases = [
        ("null date", forged_answers, {**reference, "on": {"value": {"type": "datepicker", "selected_date": None}}}, "on"),
        ("null date element", forged_answers, {**reference, "on": {"value": None}}, "on"),
        ("non-ISO date", forged_answers, {**reference, "on": {"value": {"type": "datepicker", "selected_date": "18.12.2026"}}}, "on"),
        ("no reference", forged_answers, {"on": {"value": {"type": "datepicker", "selected_date": "2026-12-18"}}}, "reference"),
        ("non-JSON private_metadata", "{not json", {**reference, "on": {"value": {"type": "datepicker", "selected_date": "2026-12-18"}}}, "reference"),
        ("answers the bot never sealed", forged_answers, {**reference, "on": {"value": {"type": "datepicker", "selected_date": "2026-12-18"}}}, "reference"),
    ]
    for what, meta, values, field in cases:
        status, response = await slack.submit(ids.RECORD_VIEW, meta, values)
        assert status == 200, what
        assert response.get("response_action") == "errors", what
        assert field in response["errors"], (what, response)
    assert slack.service.get(case.reference).milestones == ()


# --- "Record as done" on a reminder ---------------------------------------------------------------

@pytest.mark.asyncio
async def test_a_forged_channel_and_ts_in_the_record_done_modal_are_never_updated(slack: Slack) -> None:
    case = open_a_case(slack)
    await slack.click(ids.RECORD_DONE, reminder_value(case))
    metadata = (await slack.opened())["private_metadata"]
    forgeries = [
        json.dumps({"reference": case.reference, "deadline": PANEL, "channel": FORGED_CHANNEL, "ts": FORGED_TS}),
        tampered(metadata, channel=FORGED_CHANNEL, ts=FORGED_TS),
        "not json at all",
    ]
    for forged in forgeries:
        status, response = await slack.submit(ids.RECORD_DONE_VIEW, forged, done_on("2026-12-22"))
        assert status == 200
        assert response.get("response_action") == "errors" and cb.DONE_ON in response["errors"]
    # sealed for OFFICER: another officer cannot submit it
    status, response = await slack.submit(ids.RECORD_DONE_VIEW, metadata, done_on("2026-12-22"), user=OTHER_OFFICER)
    assert status == 200 and cb.DONE_ON in response["errors"]
    assert slack.service.get(case.reference).milestones == ()
    assert slack.calls("chat.update") == []

    # the genuine submission records, and changes the message the button was really on
    status, response = await slack.submit(ids.RECORD_DONE_VIEW, metadata, done_on("2026-12-22"))
    assert status == 200 and "errors" not in response
    updates = await wait_for(lambda: slack.calls("chat.update"))
    assert [(u["channel"], u["ts"]) for u in updates] == [(CHANNEL, MESSAGE_TS)]
    assert [m.kind for m in slack.service.get(case.reference).milestones] == ["panel_notified"]


@pytest.mark.asyncio
async def test_a_click_naming_another_message_does_not_update_it(slack: Slack) -> None:
    """A click on an already-done step changes the clicked copy through its response_url, which
    Slack binds to that message: a forged click naming another channel and ts changes nothing."""
    case = open_a_case(slack)
    slack.service.record_milestone(case.reference, "panel_notified", on=date(2026, 12, 21), actor="cli:test")
    assert await slack.click(ids.RECORD_DONE, reminder_value(case), channel=FORGED_CHANNEL, ts=FORGED_TS) == 200
    replies = await slack.replies(2)
    assert "was done on" in replies[0]["text"]
    assert replies[1]["replace_original"] is True
    assert slack.calls("chat.update") == []


@pytest.mark.asyncio
async def test_malformed_record_done_dates_get_an_error_on_the_date_field(slack: Slack) -> None:
    case = open_a_case(slack)
    await slack.click(ids.RECORD_DONE, reminder_value(case))
    metadata = (await slack.opened())["private_metadata"]
    for values in (done_on(None), done_on("22/12/2026"), done_on(20261222), done_on(["2026-12-22"]),
                   {cb.DONE_ON: {"value": None}}, {cb.DONE_ON: None}, {cb.DONE_ON: "x"}, {}):
        status, response = await slack.submit(ids.RECORD_DONE_VIEW, metadata, values)
        assert status == 200, values
        assert response.get("response_action") == "errors" and cb.DONE_ON in response["errors"], values
    assert slack.service.get(case.reference).milestones == ()


# --- buttons ------------------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_malformed_button_values_get_a_private_cannot_reply(slack: Slack) -> None:
    case = open_a_case(slack)
    clicks = [
        (f"{ids.ANSWER}_0", "not an answer"),
        (f"{ids.ANSWER}_0", "notification|harm|exploded"),
        (f"{ids.ANSWER}_0", "nosuchflow|harm|died"),
        (f"{ids.ANSWER}_0", None),
        (ids.HELP, "notification|nosuchquestion"),
        (ids.HELP, 42),
        (ids.RESTART, "nosuchflow"),
        (ids.OPEN_CASE, "<!channel> made-up decision"),
        (ids.OPEN_CASE, "made_up_decision"),
        (ids.RECORD_DONE, json.dumps({"reference": case.reference, "deadline": {"x": 1}})),
        (ids.SNOOZE, "[]"),
        (ids.CASE_VIEW, json.dumps({"reference": "<@U1>", "deadline": PANEL})),
    ]
    for count, (action_id, value) in enumerate(clicks, start=1):
        assert await slack.click(action_id, value) == 200, (action_id, value)
        reply = (await slack.replies(count))[count - 1]
        assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False, (action_id, value)
        assert "cannot be used" in reply["text"] or "out of date" in reply["text"], (action_id, value)
    assert slack.calls("views.open") == []
    assert slack.calls("chat.postMessage") == []
    assert slack.service.get(case.reference).milestones == ()
