"""The real Bolt app over HTTP on loopback, against a loopback Slack Web API (both databases)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
import pytest_asyncio
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.cases import CaseService
from bot.settings import Settings, load_settings
from handlers.slack import blocks as bk
from handlers.slack import ids
from handlers.slack.app import build_app
from handlers.slack.assistant import SlackAssistant
from store.models import CaseSubject, ConversationRow
from tests.slack_harness import SECRET, BoltServer, sign, texts, wait_for
from tests.support.slack_api import SlackApi

pytestmark = pytest.mark.integration

TODAY = date(2026, 12, 22)
OFFICER = "U0OFFICER"  # a real Slack user ID has 8+ characters after the U
CHILD_NAME = "Pip Fictional-Testchild"
CHILD_DOB = "2019-04-03"
NHS = "943 476 5919"  # passes the modulus-11 check; fictional
SUMMARY = "Fictional summary: infant admitted with unexplained injuries"


@pytest.fixture
def slack_settings(tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path / "var",
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=SECRET,
        slack_mode="http",
        slack_case_officers=[OFFICER, "SOFFICERS"],
        partnerships=[{"key": "default", "name": "Testshire SCP", "slack_channel": "C0NOTICE"}],
    )


class Harness:
    def __init__(self, fake: SlackApi, server: BoltServer, engine: Engine, settings: Settings) -> None:
        self.fake, self.server, self.engine, self.settings = fake, server, engine, settings

    def responses(self) -> list[dict]:
        return [c.body for c in self.fake.of("response_url")]

    async def next_response(self, before: int) -> dict:
        await wait_for(lambda: len(self.responses()) > before)
        return self.responses()[before]

    async def click(self, action_id: str, value: str, user: str = "UPRAC") -> dict:
        before = len(self.responses())
        status, _ = await self.server.action(self.fake, action_id, value, user=user)
        assert status == 200
        return await self.next_response(before)

    async def answer(self, key: str, value: str, user: str = "UPRAC") -> dict:
        return await self.click(f"{ids.ANSWER}_0", bk.answer_value("notification", key, value), user)


async def _start(fake: SlackApi, engine: Engine, settings: Settings) -> BoltServer:
    client = AsyncWebClient(token="xoxb-test-token", base_url=fake.base_url)
    assistant = SlackAssistant(settings, engine, settings.criteria(), today=lambda: TODAY)
    server = BoltServer(build_app(assistant, client=client), assistant=assistant)
    await server.start()
    return server


@pytest_asyncio.fixture
async def harness(engine: Engine, slack_settings: Settings) -> AsyncIterator[Harness]:
    fake = SlackApi()
    fake.start()
    server = await _start(fake, engine, slack_settings)
    try:
        yield Harness(fake, server, engine, slack_settings)
    finally:
        await server.stop()
        fake.stop()


def _button_values(blocks: list[dict]) -> dict[str, str]:
    found = {}
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("type") == "button":
                found[element["text"]["text"]] = element.get("value", "")
    return found


@pytest.mark.asyncio
async def test_signatures_are_verified(harness: Harness) -> None:
    body = "command=%2Fsafeguarding&user_id=UPRAC&team_id=T1&text="
    forged = sign(body, secret="not-the-secret")
    stale = sign(body, timestamp=int(time.time()) - 600)
    for headers in (forged, stale, {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00"}):
        status, _ = await harness.server.post(body, "application/x-www-form-urlencoded", signed=headers)
        assert status == 401
    assert harness.fake.calls == []  # nothing reached a listener


@pytest.mark.asyncio
async def test_slash_command_asks_privately_with_buttons(harness: Harness) -> None:
    status, _ = await harness.server.command(harness.fake)
    assert status == 200
    message = await harness.next_response(0)
    assert message["response_type"] == "ephemeral"
    for block in message["blocks"]:
        Block.parse(block)  # valid Block Kit
    buttons = _button_values(message["blocks"])
    # issue 10 item 1: the age comes first (s16C concerns a child)
    assert {"Under 18", "18 to 24", "25 or over", "What does this mean?", "Start again"} <= set(buttons)
    assert buttons["Under 18"] == "notification|age|under_18"
    assert "How old was the child or young person" in texts(message["blocks"])
    message = await harness.answer("age", "under_18")
    buttons = _button_values(message["blocks"])
    assert {"Known", "Suspected", "Not suspected", "Unsure", "What does this mean?", "Start again"} <= set(buttons)
    assert buttons["Known"] == "notification|abuse_or_neglect|known"
    assert "Is abuse or neglect of the child known or suspected?" in texts(message["blocks"])
    assert harness.fake.of("chat.postMessage") == []  # nothing public


@pytest.mark.asyncio
async def test_full_flow_resumes_after_restart_and_opens_a_case(
    harness: Harness, engine: Engine, slack_settings: Settings
) -> None:
    await harness.server.command(harness.fake, user=OFFICER)
    await harness.next_response(0)
    await harness.answer("age", "under_18", user=OFFICER)
    await harness.answer("abuse_or_neglect", "suspected", user=OFFICER)
    message = await harness.answer("harm", "died", user=OFFICER)
    assert "Does any of these describe the incident?" in texts(message["blocks"])

    # help on the current question
    helped = await harness.click(ids.HELP, "notification|context", user=OFFICER)
    assert "inconsistent notification" in texts(helped["blocks"])
    assert "Source: Child Safeguarding Practice Review Panel guidance" in texts(helped["blocks"])

    # restart the bot mid-conversation: the answers are in the database
    await harness.server.stop()
    with Session(engine) as session:
        row = session.exec(select(ConversationRow)).one()
        assert row.answers == {"age": "under_18", "abuse_or_neglect": "suspected", "harm": "died"}
    harness.server = await _start(harness.fake, engine, slack_settings)
    before = len(harness.responses())
    await harness.server.command(harness.fake, user=OFFICER)
    resumed = await harness.next_response(before)
    assert "Resuming where you left off." in texts(resumed["blocks"])
    assert "Does any of these describe the incident?" in texts(resumed["blocks"])

    await harness.answer("context", "sudi", user=OFFICER)
    await harness.answer("location", "in_area", user=OFFICER)
    result = await harness.answer("looked_after", "no", user=OFFICER)
    shown = texts(result["blocks"])
    assert "Notify the Panel" in shown and "`notify`" in shown
    assert "Source: Children Act 2004, s16C(1)" in shown
    assert "Sudden unexpected death in infancy" in shown
    assert "Thu 31 Dec 2026" in shown  # panel notification, counted from TODAY over Christmas
    # The button carries the decision and the answers it came from (issue 10: the case records them).
    button = _button_values(result["blocks"])["Open a case"]
    assert button.split("|")[0] == "notify" and "harm.died" in button.split("|")

    # open a case: the modal
    status, _ = await harness.server.action(harness.fake, ids.OPEN_CASE, button, user=OFFICER)
    assert status == 200
    opened = await wait_for(lambda: harness.fake.of("views.open"))
    view = opened[0].body["view"]
    assert view["callback_id"] == ids.OPEN_CASE_VIEW
    assert {b.get("block_id") for b in view["blocks"]} >= {"aware", "partnership", "summary", "child_name", "child_dob", "nhs_number"}

    values = {
        "aware": {"value": {"type": "datepicker", "selected_date": "2026-12-21"}},
        "partnership": {"value": {"type": "static_select", "selected_option": {"value": "default"}}},
        "summary": {"value": {"type": "plain_text_input", "value": SUMMARY}},
        "child_name": {"value": {"type": "plain_text_input", "value": CHILD_NAME}},
        "child_dob": {"value": {"type": "datepicker", "selected_date": CHILD_DOB}},
        "nhs_number": {"value": {"type": "plain_text_input", "value": NHS}},
    }
    status, body = await harness.server.view_submission(ids.OPEN_CASE_VIEW, values, view["private_metadata"])
    assert status == 200 and "errors" not in body
    notices = await wait_for(lambda: [c for c in harness.fake.of("chat.postMessage") if c.body["channel"] == "C0NOTICE"])
    await wait_for(lambda: [c for c in harness.fake.of("chat.postMessage") if c.body["channel"] == OFFICER])

    cases = CaseService(engine, slack_settings).list()
    assert len(cases) == 1
    case = cases[0]
    assert case.la_aware == date(2026, 12, 21) and case.opened_by == f"slack:{OFFICER}"
    assert case.summary == SUMMARY and case.request_type == "criteria:notify"
    assert case.decision == "notify"
    assert case.answers["harm"] == "died" and case.answers["location"] == "in_area"
    with Session(engine) as session:
        subject = session.exec(select(CaseSubject)).one()
        assert (subject.name, subject.nhs_number) == (CHILD_NAME, "9434765919")

    notice = json.dumps(notices[0].body)
    assert case.reference in notice and "notify" in notice
    assert "Notify the Child Safeguarding Practice Review Panel" in notice and "Wed 30 Dec 2026" in notice
    for call in harness.fake.of("chat.postMessage") + harness.fake.of("chat.postEphemeral"):
        posted = json.dumps(call.body)
        for secret in (CHILD_NAME, "Pip", CHILD_DOB, "03 Apr 2019", "9434765919", "943 476 5919", SUMMARY, "unexplained injuries"):
            assert secret not in posted, f"{secret!r} leaked into {call.method} to {call.body.get('channel')}"


@pytest.mark.asyncio
async def test_modal_errors_and_non_officers(harness: Harness) -> None:
    harness.fake.usergroups["SOFFICERS"] = ["UGROUPMEMBER"]
    # a practitioner who is not a case officer cannot open the modal
    before = len(harness.responses())
    await harness.server.action(harness.fake, ids.OPEN_CASE, "notify", user="UPRAC")
    refusal = await harness.next_response(before)
    assert "Only case officers" in refusal["text"]
    assert harness.fake.of("views.open") == []

    # membership of a configured user group counts
    await harness.server.action(harness.fake, ids.OPEN_CASE, "notify", user="UGROUPMEMBER")
    opened = await wait_for(lambda: harness.fake.of("views.open"))
    metadata = opened[0].body["view"]["private_metadata"]

    values = {
        "aware": {"value": {"type": "datepicker", "selected_date": "2027-06-01"}},  # future: a warning
        "partnership": {"value": {"type": "static_select", "selected_option": {"value": "default"}}},
        "summary": {"value": {"type": "plain_text_input", "value": SUMMARY}},
        "nhs_number": {"value": {"type": "plain_text_input", "value": "1234567890"}},
    }
    status, body = await harness.server.view_submission(ids.OPEN_CASE_VIEW, values, metadata, user="UGROUPMEMBER")
    assert status == 200
    response = json.loads(body)
    assert response["response_action"] == "errors"
    # a future awareness date is accepted with a warning (tests/test_case_rules.py): the NHS
    # number alone refuses the form
    assert set(response["errors"]) == {"nhs_number"}
    assert "1234567890" not in body
    status, body = await harness.server.view_submission(ids.OPEN_CASE_VIEW, values, "{}", user="UPRAC")
    assert "Only case officers" in body
    assert CaseService(harness.engine, harness.settings).list() == []


@pytest.mark.asyncio
async def test_mention_is_private_and_retried_event_handled_once(harness: Harness) -> None:
    mention = {"type": "app_mention", "user": "UPRAC", "text": "<@UBOT> does this meet the criteria?",
               "channel": "C0GENERAL", "ts": "1.1", "event_ts": "1.1"}
    status, _ = await harness.server.event(mention, "Ev0MENTION1")
    assert status == 200
    await wait_for(lambda: harness.fake.of("chat.postEphemeral"))
    status, _ = await harness.server.event(mention, "Ev0MENTION1", retry=1)
    assert status == 200
    # a later, different event is handled: by then the retry would have been too
    await harness.server.event({**mention, "ts": "1.2", "event_ts": "1.2"}, "Ev0MENTION2")
    await wait_for(lambda: len(harness.fake.of("chat.postEphemeral")) >= 2)
    ephemeral = harness.fake.of("chat.postEphemeral")
    assert len(ephemeral) == 2
    assert ephemeral[0].body["user"] == "UPRAC" and ephemeral[0].body["channel"] == "C0GENERAL"
    assert harness.fake.of("chat.postMessage") == []


@pytest.mark.asyncio
async def test_direct_message_and_rate_limit_retry(harness: Harness) -> None:
    harness.fake.fail_next("chat.postMessage", 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
    started = time.monotonic()
    dm = {"type": "message", "channel_type": "im", "channel": "D0DM", "user": "UPRAC",
          "text": "hello", "ts": "2.1", "event_ts": "2.1"}
    await harness.server.event(dm, "Ev0DM1")
    delivered = await wait_for(lambda: harness.fake.of("chat.postMessage"), timeout=15)
    assert time.monotonic() - started >= 0.9  # waited for Retry-After
    attempts = [c for c in harness.fake.calls if c.method == "chat.postMessage"]
    assert [c.status for c in attempts] == [429, 200]
    assert delivered[0].body["channel"] == "D0DM"
    assert "How old was the child or young person" in texts(delivered[0].body["blocks"])
    # the bot's own messages are ignored
    await harness.server.event({**dm, "bot_id": "BBOT", "ts": "2.2"}, "Ev0DM2")
    await harness.server.event({**dm, "ts": "2.3", "text": "review"}, "Ev0DM3")
    await wait_for(lambda: len(harness.fake.of("chat.postMessage")) >= 2)
    assert len(harness.fake.of("chat.postMessage")) == 2
    assert "Rapid review" in texts(harness.fake.of("chat.postMessage")[1].body["blocks"])


@pytest.mark.asyncio
async def test_app_home_lists_the_viewers_open_cases(harness: Harness) -> None:
    service = CaseService(harness.engine, harness.settings)
    mine = service.open_case(la_aware=date(2026, 12, 21), actor=f"slack:{OFFICER}", summary=SUMMARY)
    service.open_case(la_aware=date(2026, 12, 1), actor="slack:USOMEONEELSE")
    await harness.server.event({"type": "app_home_opened", "user": OFFICER, "tab": "home",
                                "channel": "D0HOME", "event_ts": "3.1"}, "Ev0HOME1")
    published = await wait_for(lambda: harness.fake.of("views.publish"))
    view = json.dumps(published[0].body["view"])
    assert published[0].body["user_id"] == OFFICER
    assert mine.reference in view and "Wed 30 Dec 2026" in view
    assert "Your open cases* (1)" in view
    assert SUMMARY not in view

    await harness.server.event({"type": "app_home_opened", "user": "UPRAC", "tab": "home",
                                "channel": "D0HOME2", "event_ts": "3.2"}, "Ev0HOME2")
    await wait_for(lambda: len(harness.fake.of("views.publish")) >= 2)
    other = json.dumps(harness.fake.of("views.publish")[1].body["view"])
    assert "Only case officers can see cases." in other and mine.reference not in other


@pytest.mark.asyncio
async def test_review_flow_records_decision_on_a_case(harness: Harness) -> None:
    service = CaseService(harness.engine, harness.settings)
    case = service.open_case(la_aware=date(2026, 12, 1), actor="cli:test")
    await harness.server.command(harness.fake, user=OFFICER, text="review")
    first = await harness.next_response(0)
    assert "Rapid review" in texts(first["blocks"])
    review = harness.server.assistant.tree.flow("review")
    result: dict = {}
    for key in review.question_keys():
        value = "yes" if key == "improvements" else "no"
        result = await harness.click(f"{ids.ANSWER}_0", bk.answer_value("review", key, value), user=OFFICER)
    assert "Initiate a local child safeguarding practice review" in texts(result["blocks"])
    await harness.server.action(harness.fake, ids.RECORD_DECISION, "local_review", user=OFFICER)
    opened = await wait_for(lambda: harness.fake.of("views.open"))
    view = opened[0].body["view"]
    values = {"reference": {"value": {"type": "plain_text_input", "value": case.reference}},
              "on": {"value": {"type": "datepicker", "selected_date": "2026-12-18"}}}
    status, body = await harness.server.view_submission(ids.RECORD_VIEW, values, view["private_metadata"])
    assert status == 200 and "errors" not in body
    updated = service.get(case.reference)
    assert updated.milestones[-1].kind == "decision_local_review"
    assert "highlights or may highlight improvements" in (updated.milestones[-1].note or "")
    assert any(d.deadline.key == "lcspr_publication" for d in updated.deadlines)


@pytest.mark.asyncio
async def test_a_forged_decision_never_reaches_the_channel_notice(harness: Harness) -> None:
    """The decision comes back from Slack: a hand-made request can put anything in the button
    value or the modal's private_metadata. Hand-made metadata is refused (it is not sealed by
    the bot), and a forged button naming a decision the criteria cannot give opens no form:
    only a decision the criteria can give is ever shown in the channel."""
    forged = "<!channel> <https://evil.example/login|Open case SG-1>"
    values = {
        "aware": {"value": {"type": "datepicker", "selected_date": "2026-12-21"}},
        "partnership": {"value": {"type": "static_select", "selected_option": {"value": "default"}}},
        "summary": {"value": {"type": "plain_text_input", "value": SUMMARY}},
    }
    status, body = await harness.server.view_submission(
        ids.OPEN_CASE_VIEW, values, json.dumps({"decision": forged}), user=OFFICER)
    assert status == 200 and "errors" in body
    assert harness.fake.of("chat.postMessage") == []

    before = len(harness.responses())
    status, _ = await harness.server.action(harness.fake, ids.OPEN_CASE, "exploded", user=OFFICER)
    assert status == 200
    refusal = await harness.next_response(before)
    assert "exploded" not in json.dumps(refusal)
    assert harness.fake.of("views.open") == []  # no form for a decision the criteria cannot give
    assert [c for c in harness.fake.of("chat.postMessage") if c.body["channel"] == "C0NOTICE"] == []
    assert CaseService(harness.engine, harness.settings).list() == []


@pytest.mark.asyncio
async def test_back_undoes_the_latest_answer_through_the_engine(harness: Harness, engine: Engine) -> None:
    await harness.server.command(harness.fake)
    first = await harness.next_response(0)
    assert "Back" not in _button_values(first["blocks"])  # nothing to undo yet
    await harness.answer("age", "under_18")
    await harness.answer("abuse_or_neglect", "suspected")
    second = await harness.answer("harm", "died")
    assert _button_values(second["blocks"])["Back"] == "notification"
    back = await harness.click(ids.BACK, "notification")
    assert "Has the child died or been seriously harmed?" in texts(back["blocks"])
    with Session(engine) as session:
        row = session.exec(select(ConversationRow)).one()
        assert row.answers == {"age": "under_18", "abuse_or_neglect": "suspected"}
        assert row.context["history"] == ["age", "abuse_or_neglect"]
