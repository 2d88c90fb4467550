"""Acting on reminders in Slack: the real Bolt app over HTTP with signed requests, against the
loopback Slack Web API, on SQLite and PostgreSQL.

The buttons clicked here are taken from the blocks the Slack transport really renders for a
reminder, so a renamed action_id or a changed value format breaks these tests.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.case_subjects import record_subject
from bot.cases import CaseService, CaseView
from bot.settings import Settings, load_settings
from handlers.slack import case_blocks as cb
from handlers.slack import ids
from handlers.slack.app import build_app
from handlers.slack.assistant import SlackAssistant
from handlers.transports.slack import reminder_blocks
from store.models import ReminderRow
from tests.slack_harness import SECRET, BoltServer, wait_for
from tests.support.slack_api import SlackApi

pytestmark = pytest.mark.integration

LONDON = ZoneInfo("Europe/London")
OFFICER = "U0OFFICER"
PRACTITIONER = "UPRAC"
CHANNEL = "C0NOTICE"
MESSAGE_TS = "1766400000.000100"
CHILD_NAME = "Pip Fictional-Testchild"
NHS = "9434765919"  # fictional; passes the modulus-11 check
SUMMARY = "Fictional summary: infant admitted with unexplained injuries"
PANEL = "panel_notification"
PANEL_LABEL = "Notify the Child Safeguarding Practice Review Panel"


@pytest.fixture
def slack_settings(tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path / "var",
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=SECRET,
        slack_mode="http",
        slack_case_officers=[OFFICER, "SOFFICERS"],
        partnerships=[{"key": "default", "name": "Testshire SCP", "slack_channel": CHANNEL}],
    )


class Slack:
    """The Bolt app and the fake Web API, standing on ``now`` (Europe/London)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self.fake = SlackApi()
        self.now = datetime(2026, 12, 22, 10, 0, tzinfo=LONDON)  # Tue 22 Dec 2026
        self.server: BoltServer | None = None
        self.service = CaseService(engine, settings)

    async def start(self) -> None:
        self.fake.start()
        client = AsyncWebClient(token="xoxb-test-token", base_url=self.fake.base_url)
        assistant = SlackAssistant(self.settings, self.engine, self.settings.criteria(),
                                   today=lambda: self.now.date(), now=lambda: self.now)
        app = build_app(assistant, client=client)
        self.server = BoltServer(app)
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        self.fake.stop()

    # Requests Slack would send ----------------------------------------------------------------

    async def _send(self, payload: dict[str, Any]) -> tuple[int, str]:
        assert self.server is not None
        return await self.server.post(urlencode({"payload": json.dumps(payload)}),
                                      "application/x-www-form-urlencoded")

    async def click(self, button: dict[str, Any], user: str = OFFICER, *, where: str = "message") -> tuple[int, str]:
        """A block_actions payload for ``button`` on a reminder message in a channel (``message``),
        or on App Home (``home``: no response_url, no message)."""
        payload: dict[str, Any] = {
            "type": "block_actions", "team": {"id": "T1", "domain": "test"},
            "user": {"id": user, "team_id": "T1"}, "api_app_id": "A1", "trigger_id": f"trig.{user}",
            "actions": [{**button, "block_id": "b", "action_ts": "1.0"}],
        }
        if where == "message":
            payload.update({
                "container": {"type": "message", "message_ts": MESSAGE_TS, "channel_id": CHANNEL,
                              "is_ephemeral": False},
                "channel": {"id": CHANNEL, "name": "safeguarding"},
                "message": {"type": "message", "ts": MESSAGE_TS, "text": "Reminder"},
                "response_url": self.fake.response_url("act"),
            })
        else:
            payload.update({"container": {"type": "view", "view_id": "VHOME"},
                            "view": {"id": "VHOME", "type": "home"}})
        return await self._send(payload)

    async def submit(self, view: dict[str, Any], selected: str, user: str = OFFICER) -> dict[str, Any]:
        """Submit the "Record as done" modal with ``selected`` in its date picker; the JSON
        response body ({} when accepted)."""
        payload = {
            "type": "view_submission", "team": {"id": "T1", "domain": "test"},
            "user": {"id": user, "team_id": "T1"}, "api_app_id": "A1", "trigger_id": "t.2",
            "view": {"id": "V1", "type": "modal", "callback_id": view["callback_id"],
                     "private_metadata": view["private_metadata"],
                     "state": {"values": {cb.DONE_ON: {"value": {"type": "datepicker",
                                                                 "selected_date": selected}}}}},
        }
        status, body = await self._send(payload)
        assert status == 200
        return json.loads(body) if body else {}

    # What the bot did -------------------------------------------------------------------------

    def calls(self, method: str) -> list[dict[str, Any]]:
        return [c.body for c in self.fake.of(method)]

    async def opened_view(self, count: int = 1) -> dict[str, Any]:
        opened = await wait_for(lambda: len(self.calls("views.open")) >= count and self.calls("views.open"))
        return opened[count - 1]

    async def reply(self, count: int = 1) -> dict[str, Any]:
        """The ``count``-th message sent back through the response_url."""
        found = await wait_for(lambda: len(self.calls("response_url")) >= count and self.calls("response_url"))
        return found[count - 1]

    def everything_posted(self) -> str:
        """Every message the bot sent to a conversation (not modals): where PII must never be."""
        methods = ("chat.postMessage", "chat.postEphemeral", "chat.update", "response_url")
        return json.dumps([self.calls(m) for m in methods], ensure_ascii=False)


@pytest_asyncio.fixture
async def slack(engine: Engine, slack_settings: Settings) -> AsyncIterator[Slack]:
    harness = Slack(engine, slack_settings)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


def open_case(slack: Slack, aware: date = date(2026, 12, 21)) -> CaseView:
    """A case with a summary and child details, as the case modal would have opened it."""
    case = slack.service.open_case(la_aware=aware, actor=f"slack:{OFFICER}", summary=SUMMARY)
    record_subject(slack.engine, case.reference, name=CHILD_NAME, date_of_birth=date(2019, 4, 3),
                   nhs_number=NHS, actor=f"slack:{OFFICER}")
    return case


def reminder_buttons(case: CaseView, deadline: str) -> dict[str, dict[str, Any]]:
    """The buttons on the reminder the Slack transport renders for ``deadline``, by action_id."""
    state = next(s for s in case.deadlines if s.deadline.key == deadline)
    payload = {"kind": "reminder", "reference": case.reference, "deadline": deadline,
               "occasion": "before", "label": state.deadline.label, "phrase": "due soon",
               "due_text": cb.fmt_day(state.deadline.due), "rule": state.deadline.rule,
               "source": state.deadline.source}
    found = {}
    for block in reminder_blocks(payload):
        for element in block.to_dict().get("elements", []):
            if element.get("type") == "button":
                found[element["action_id"]] = {"action_id": element["action_id"], "type": "button",
                                               "value": element["value"], "text": element["text"]}
    return found


def reminders(engine: Engine, reference_case_deadline: str) -> list[ReminderRow]:
    with Session(engine) as session:
        return list(session.exec(
            select(ReminderRow)
            .where(ReminderRow.deadline_key == reference_case_deadline)
            .order_by(col(ReminderRow.send_at), col(ReminderRow.id))
        ).all())


def view_text(view: dict[str, Any]) -> str:
    return json.dumps(view, ensure_ascii=False)


def unsealed(metadata: str) -> dict[str, Any]:
    """What sealed private_metadata says (it is signed, not encrypted), without checking it."""
    version, body, _mac = metadata.split(".")
    assert version == "v1"
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["d"]
    return data


def test_reminder_buttons_are_the_ones_the_app_listens_for() -> None:
    value = json.dumps({"reference": "SCP-1", "deadline": PANEL})
    payload = {"kind": "reminder", "reference": "SCP-1", "deadline": PANEL, "occasion": "due",
               "label": "x", "phrase": "due today", "due_text": "today", "rule": "r", "source": "s"}
    actions = [b for b in reminder_blocks(payload) if b.type == "actions"][0].to_dict()["elements"]
    assert [a["action_id"] for a in actions] == [ids.RECORD_DONE, ids.SNOOZE, ids.CASE_VIEW]
    assert cb.parse_reminder_value(actions[0]["value"]) == cb.ReminderRef("SCP-1", PANEL)
    assert actions[0]["value"] == value
    for bad in ("", "not json", "[1]", '{"reference": "SCP-1"}', '{"reference": 1, "deadline": "x"}'):
        with pytest.raises(ValueError):
            cb.parse_reminder_value(bad)


@pytest.mark.asyncio
async def test_record_as_done_confirms_in_a_modal_records_and_updates_the_reminder(slack: Slack) -> None:
    case = open_case(slack)
    assert {r.status for r in reminders(slack.engine, PANEL)} == {"pending"}
    buttons = reminder_buttons(case, PANEL)

    status, _ = await slack.click(buttons[ids.RECORD_DONE])
    assert status == 200
    opened = await slack.opened_view()
    assert opened["trigger_id"] == f"trig.{OFFICER}"
    view = opened["view"]
    View(**view).validate_json()  # valid Block Kit as slack_sdk sees it
    assert view["callback_id"] == ids.RECORD_DONE_VIEW
    shown = view_text(view)
    assert case.reference in shown and PANEL_LABEL in shown
    assert "Serious incident notification sent to the Panel" in shown and "panel-notified" in shown
    picker = next(b for b in view["blocks"] if b.get("block_id") == cb.DONE_ON)["element"]
    assert picker["type"] == "datepicker" and picker["initial_date"] == "2026-12-22"
    assert CHILD_NAME not in shown and SUMMARY not in shown
    assert slack.service.get(case.reference).milestones == ()  # nothing recorded yet

    response = await slack.submit(view, "2026-12-22")
    assert "errors" not in response

    updated = slack.service.get(case.reference)
    assert [(m.kind, m.on, m.recorded_by) for m in updated.milestones] == [
        ("panel_notified", date(2026, 12, 22), f"slack:{OFFICER}")
    ]
    panel = next(s for s in updated.deadlines if s.deadline.key == PANEL)
    assert panel.status.value == "met" and panel.completed_on == date(2026, 12, 22)
    statuses = [r.status for r in reminders(slack.engine, PANEL)]
    assert statuses and set(statuses) == {"cancelled"}
    # the other step's reminders are untouched
    assert {r.status for r in reminders(slack.engine, "partners_notification")} == {"pending"}

    updates = await wait_for(lambda: slack.calls("chat.update"))
    assert updates[0]["channel"] == CHANNEL and updates[0]["ts"] == MESSAGE_TS
    for block in updates[0]["blocks"]:
        Block.parse(block)
    assert all(b["type"] != "actions" for b in updates[0]["blocks"])  # the buttons are gone
    assert f"Recorded by <@{OFFICER}> on Tue 22 Dec 2026" in json.dumps(updates[0]["blocks"])
    dms = await wait_for(lambda: [m for m in slack.calls("chat.postMessage") if m["channel"] == OFFICER])
    assert case.reference in dms[0]["text"] and "Tue 22 Dec 2026" in dms[0]["text"]
    assert "(met)" in dms[0]["text"]

    # the same reminder (or its copy in the owner's DM) clicked again: told, not re-recorded
    await slack.click(buttons[ids.RECORD_DONE])
    again = await slack.reply()
    assert again["response_type"] == "ephemeral" and again["replace_original"] is False
    assert "was done on Tue 22 Dec 2026" in again["text"]
    assert len(slack.calls("views.open")) == 1
    # ...and that copy loses its buttons too, through the click's response_url (Slack binds it
    # to the message clicked), never a chat.update to a channel and ts the request names
    second = await slack.reply(2)
    assert second["replace_original"] is True
    assert all(b["type"] != "actions" for b in second["blocks"])
    assert "Recorded as done on Tue 22 Dec 2026" in json.dumps(second["blocks"])
    assert len(slack.calls("chat.update")) == 1
    assert len(slack.service.get(case.reference).milestones) == 1

    posted = slack.everything_posted()
    for secret in (CHILD_NAME, "Pip", NHS, "2019-04-03", SUMMARY, "unexplained injuries"):
        assert secret not in posted


@pytest.mark.asyncio
async def test_lifecycle_refusals_are_shown_on_the_date_field(slack: Slack) -> None:
    case = open_case(slack)
    # rapid_review is met by rapid-review-sent, which needs the Panel to have been notified first
    await slack.click(reminder_buttons(case, "rapid_review")[ids.RECORD_DONE])
    view = (await slack.opened_view())["view"]
    assert "Rapid review sent to the Panel" in view_text(view)
    response = await slack.submit(view, "2026-12-22")
    assert response["response_action"] == "errors"
    assert list(response["errors"]) == [cb.DONE_ON]
    assert "before panel-notified is recorded" in response["errors"][cb.DONE_ON]

    await slack.click(reminder_buttons(case, PANEL)[ids.RECORD_DONE])
    view = (await slack.opened_view(2))["view"]
    before_aware = await slack.submit(view, "2026-12-18")
    assert "before the LA became aware" in before_aware["errors"][cb.DONE_ON]
    # a future date is accepted with a warning: tests/test_case_rules.py

    assert slack.service.get(case.reference).milestones == ()
    assert {r.status for r in reminders(slack.engine, PANEL)} == {"pending"}
    assert slack.calls("chat.update") == []


@pytest.mark.asyncio
async def test_only_case_officers_may_act_on_reminders(slack: Slack) -> None:
    slack.fake.usergroups["SOFFICERS"] = ["UGROUPMEMBER"]  # membership is cached: set it first
    case = open_case(slack)
    buttons = reminder_buttons(case, PANEL)
    planned = [(r.send_on, r.status) for r in reminders(slack.engine, PANEL)]
    for count, action in enumerate((ids.RECORD_DONE, ids.SNOOZE, ids.CASE_VIEW), start=1):
        status, _ = await slack.click(buttons[action], user=PRACTITIONER)
        assert status == 200
        refusal = await slack.reply(count)
        assert refusal["response_type"] == "ephemeral" and "Only case officers" in refusal["text"]
    assert slack.calls("views.open") == []
    assert [(r.send_on, r.status) for r in reminders(slack.engine, PANEL)] == planned  # not snoozed

    # a forged submission of the modal by a non-officer records nothing
    metadata = json.dumps({"reference": case.reference, "deadline": PANEL})
    response = await slack.submit({"callback_id": ids.RECORD_DONE_VIEW, "private_metadata": metadata},
                                  "2026-12-22", user=PRACTITIONER)
    assert "Only case officers" in response["errors"][cb.DONE_ON]
    assert slack.service.get(case.reference).milestones == ()

    # a member of a configured user group is an officer
    await slack.click(buttons[ids.RECORD_DONE], user="UGROUPMEMBER")
    await slack.opened_view()


@pytest.mark.asyncio
async def test_snooze_moves_the_next_reminder_to_the_next_working_day(slack: Slack) -> None:
    case = open_case(slack)  # aware Mon 21 Dec 2026: Panel notification due Wed 30 Dec
    slack.now = datetime(2026, 12, 24, 10, 0, tzinfo=LONDON)  # Thu 24 Dec, after the 09:00 reminder
    before = [r for r in reminders(slack.engine, PANEL) if r.status == "pending"]
    assert before[0].send_on == date(2026, 12, 24)

    await slack.click(reminder_buttons(case, PANEL)[ids.SNOOZE])
    reply = await slack.reply()
    assert reply["response_type"] == "ephemeral"
    # Christmas Day, a weekend and the Boxing Day substitute holiday are skipped
    assert reply["text"].startswith(f"Reminders for {case.reference} {PANEL_LABEL} snoozed until Tue 29 Dec.")
    assert "due Wed 30 Dec 2026" in reply["text"]

    rows = reminders(slack.engine, PANEL)
    assert next(r for r in rows if r.send_on == date(2026, 12, 24)).status == "cancelled"
    pending = [r for r in rows if r.status == "pending"]
    assert pending and min(r.send_on for r in pending) == date(2026, 12, 29)
    due = next(s for s in slack.service.get(case.reference).deadlines if s.deadline.key == PANEL)
    assert due.deadline.due == date(2026, 12, 30)  # the deadline itself did not move

    # a step that is no longer open cannot be snoozed
    slack.service.record_milestone(case.reference, "panel_notified", on=date(2026, 12, 24), actor="cli:test")
    await slack.click(reminder_buttons(case, PANEL)[ids.SNOOZE])
    refused = await slack.reply(2)
    assert "has no open deadline" in refused["text"]
    assert CHILD_NAME not in slack.everything_posted()


@pytest.mark.asyncio
async def test_open_case_shows_the_case_privately_to_an_officer(slack: Slack) -> None:
    case = open_case(slack)
    slack.service.record_milestone(case.reference, "panel_notified", on=date(2026, 12, 22), actor="cli:test")
    await slack.click(reminder_buttons(case, "rapid_review")[ids.CASE_VIEW])
    opened = await slack.opened_view()
    view = opened["view"]
    View(**view).validate_json()
    shown = view_text(view)
    assert view["type"] == "modal" and view["callback_id"] == ids.CASE_SUMMARY_VIEW
    assert case.reference in shown and "Mon 21 Dec 2026" in shown  # LA aware
    assert SUMMARY in shown and CHILD_NAME in shown and NHS in shown  # private to the officer
    assert "Serious incident notification sent to the Panel: Tue 22 Dec 2026" in shown
    deadlines = {b["block_id"]: b for b in view["blocks"] if b.get("block_id", "").startswith("deadline_")}
    panel = json.dumps(deadlines[f"deadline_{PANEL}"])
    assert PANEL_LABEL in panel and "met on Tue 22 Dec 2026" in panel and "due Wed 30 Dec 2026" in panel
    rapid = json.dumps(deadlines["deadline_rapid_review"])
    assert "open" in rapid and "due" in rapid
    full = slack.service.get(case.reference)
    for state in full.deadlines:
        assert state.deadline.rule in shown and state.deadline.source[:40] in shown
    # nothing was posted anywhere: the modal is the only place the details appear
    assert slack.everything_posted() == json.dumps([[], [], [], []])
    # ...and the look is audited: who, which case, through what (issue 16)
    [look] = [e for e in slack.service.history(case.reference) if e["action"] == "case.child_details_viewed"]
    assert look["actor"] == f"slack:{OFFICER}" and look["detail"] == {
        "reference": case.reference, "via": "slack case view"}


@pytest.mark.asyncio
async def test_app_home_offers_record_as_done_for_each_next_deadline(slack: Slack) -> None:
    case = open_case(slack)
    await slack.server.event({"type": "app_home_opened", "user": OFFICER, "tab": "home",  # type: ignore[union-attr]
                              "channel": "D0HOME", "event_ts": "3.1"}, "Ev0HOMEACT1")
    published = await wait_for(lambda: slack.calls("views.publish"))
    home = published[0]["view"]
    section = next(b for b in home["blocks"] if b.get("block_id") == f"case_{case.reference}")
    button = section["accessory"]
    assert button["action_id"] == ids.RECORD_DONE
    first = cb.parse_reminder_value(button["value"])
    assert first.reference == case.reference
    assert first.deadline == case.next_deadline.deadline.key  # type: ignore[union-attr]
    assert SUMMARY not in json.dumps(home) and CHILD_NAME not in json.dumps(home)

    await slack.click(button, where="home")
    view = (await slack.opened_view())["view"]
    assert "channel" not in unsealed(view["private_metadata"])  # no message to update
    assert "errors" not in await slack.submit(view, "2026-12-22")
    recorded = slack.service.get(case.reference)
    assert [m.kind for m in recorded.milestones] == [
        slack.service.rules_for(slack.settings.partnership())[0].get(first.deadline).met_by.value
    ]
    # Home is redrawn: its button now offers the next step
    republished = await wait_for(lambda: len(slack.calls("views.publish")) >= 2 and slack.calls("views.publish"))
    section = next(b for b in republished[1]["view"]["blocks"] if b.get("block_id") == f"case_{case.reference}")
    assert cb.parse_reminder_value(section["accessory"]["value"]).deadline != first.deadline
    assert await wait_for(lambda: [m for m in slack.calls("chat.postMessage") if m["channel"] == OFFICER])
    assert slack.calls("chat.update") == []

    # from Home (no response_url) a non-officer's click is refused by DM
    await slack.click(button, user=PRACTITIONER, where="home")
    refusal = await wait_for(lambda: [m for m in slack.calls("chat.postMessage") if m["channel"] == PRACTITIONER])
    assert "Only case officers" in refusal[0]["text"]
    assert len(slack.calls("views.open")) == 1


@pytest.mark.asyncio
async def test_a_reminder_that_cannot_be_updated_does_not_undo_the_record(slack: Slack) -> None:
    case = open_case(slack)
    slack.fake.fail_next("chat.update", 200, {"ok": False, "error": "message_not_found"})  # e.g. deleted from the channel
    await slack.click(reminder_buttons(case, PANEL)[ids.RECORD_DONE])
    view = (await slack.opened_view())["view"]
    assert "errors" not in await slack.submit(view, "2026-12-21")
    assert await wait_for(lambda: [m for m in slack.calls("chat.postMessage") if m["channel"] == OFFICER])
    assert [c.ok for c in slack.fake.calls_to("chat.update")] == [False]  # Slack refuses with HTTP 200, ok: false
    assert [m.kind for m in slack.service.get(case.reference).milestones] == ["panel_notified"]
    assert "pending" not in {r.status for r in reminders(slack.engine, PANEL)}
