"""The real Teams SDK app over HTTP on loopback: activities signed by a loopback OpenID issuer
the app is configured to trust (and forged and expired ones), replies captured by the loopback
Bot Connector (tests/support/bot_connector.py). One app per module: starting it costs a second.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.cases import CaseService
from bot.routing import Router
from handlers.teams import cards
from handlers.teams.app import build_app
from handlers.teams.assistant import NOT_AN_OFFICER, TeamsAssistant
from handlers.teams.officers import UNAVAILABLE
from handlers.transports.sender import OutboxSender
from handlers.transports.teams import teams_transport
from store import outbox
from store.db import make_engine, session_scope, upgrade
from store.models import CaseSubject, OutboxMessage, TeamsConversation
from tests.support.teams import APP_ID, TeamsServer, TeamsWorld, activity, card_action

pytestmark = pytest.mark.integration

TODAY = date(2026, 12, 22)
NOW = datetime(2026, 12, 22, 9, 0, tzinfo=UTC)
OFFICER = "6f1c0d2e-0000-4000-8000-00000000a001"
PRACTITIONER = "6f1c0d2e-0000-4000-8000-00000000b002"
OFFICER_GROUP = "6f1c0d2e-0000-4000-8000-00000000c001"  # the case officers' Entra group
TEAM_GROUP = "6f1c0d2e-0000-4000-8000-00000000c002"  # nested in it
GROUP_MEMBER = "6f1c0d2e-0000-4000-8000-00000000a003"  # in TEAM_GROUP: an officer through the group
LATE_MEMBER = "6f1c0d2e-0000-4000-8000-00000000a004"  # in TEAM_GROUP, first seen while Graph is down
UNCONSENTED_MEMBER = "6f1c0d2e-0000-4000-8000-00000000a005"  # in TEAM_GROUP, asked without the permission
CHILD_NAME = "Pip Fictional-Testchild"
NHS = "943 476 5919"  # passes the modulus-11 check; fictional
CHANNEL = "19:general@thread.tacv2"


class Teams:
    def __init__(self, world: TeamsWorld, server: TeamsServer, assistant: TeamsAssistant) -> None:
        self.world, self.server, self.assistant = world, server, assistant
        self.connector = world.connector

    @property
    def service_url(self) -> str:
        return self.connector.service_url

    def message(self, user: str, text: str, *, channel: bool = False) -> dict[str, Any]:
        """Post a message; the card the bot sent back (to the sender's personal chat)."""
        before = len(self.connector.sent())
        response = self.server.post(activity("message", user, channel=channel, service_url=self.service_url,
                                             text=text))
        assert response.status_code == 200, response.text
        self.connector.wait_for(lambda calls: len(self.connector.sent()) > before)
        sent = self.connector.sent()[before:]
        cards_sent = [c for c in sent if c.body.get("attachments")]
        assert cards_sent, sent
        return cards_sent[0].body["attachments"][0]["content"] | {"_conversation": cards_sent[0].conversation}

    def click(self, user: str, verb: str, data: dict[str, Any], *, channel: bool = False) -> dict[str, Any]:
        """An Action.Execute click; the card Teams shows in its place."""
        response = self.server.post(card_action(user, verb, data, service_url=self.service_url, channel=channel))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["statusCode"] == 200 and body["type"] == cards.CONTENT_TYPE, body
        return body["value"]


def texts(card: dict[str, Any]) -> str:
    return "\n".join(b.get("text", "") for b in card.get("body", []))


def action(card: dict[str, Any], title: str) -> dict[str, Any]:
    found = [a for a in card.get("actions", []) if a["title"] == title]
    assert found, [a["title"] for a in card.get("actions", [])]
    return found[0]


@pytest.fixture(scope="module")
def teams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Teams]:
    folder: Path = tmp_path_factory.mktemp("teams")
    world = TeamsWorld()
    settings = world.settings(
        folder / "var",
        teams_case_officers=[OFFICER, f"group:{OFFICER_GROUP}"],
        partnerships=[{"key": "default", "name": "Testshire SCP", "teams_channel": CHANNEL}],
    )
    world.graph.group(OFFICER_GROUP, TEAM_GROUP)
    world.graph.group(TEAM_GROUP, GROUP_MEMBER, LATE_MEMBER, UNCONSENTED_MEMBER)
    world.graph.group("6f1c0d2e-0000-4000-8000-00000000c009", PRACTITIONER)  # some other group
    engine = make_engine(f"sqlite:///{folder / 'teams.db'}")
    upgrade(engine)
    assistant = TeamsAssistant(settings, engine, settings.criteria(), today=lambda: TODAY)
    server = TeamsServer(build_app(assistant), settings.teams_http_port, world).start()
    try:
        yield Teams(world, server, assistant)
    finally:
        server.stop()
        engine.dispose()
        world.close()


# --- the SDK's own token validation ------------------------------------------------------------

@pytest.mark.parametrize("token", ["missing", "forged", "expired", "wrong audience", "not a jwt"])
def test_a_request_without_a_valid_token_gets_401(teams: Teams, token: str) -> None:
    connector = teams.connector
    raw = {
        "missing": None,
        "forged": connector.token(APP_ID, forged=True),
        "expired": connector.token(APP_ID, expired=True),
        "wrong audience": connector.token(APP_ID, audience="some-other-bot"),
        "not a jwt": "not-a-token",
    }[token]
    before = len(connector.calls)
    response = teams.server.post(activity("message", PRACTITIONER, service_url=teams.service_url, text="hi"),
                                 token=raw)
    assert response.status_code == 401
    assert len(connector.calls) == before  # nothing was answered


def test_a_token_for_another_service_url_gets_401(teams: Teams) -> None:
    token = teams.connector.token(APP_ID, service_url="https://elsewhere.example/")
    response = teams.server.post(activity("message", PRACTITIONER, service_url=teams.service_url, text="hi"),
                                 token=token)
    assert response.status_code == 401


# --- the criteria assistant -------------------------------------------------------------------

def test_criteria_walk_through_in_the_personal_chat(teams: Teams) -> None:
    card = teams.message(PRACTITIONER, "restart")
    assert card["_conversation"] == f"a:personal-29:{PRACTITIONER}"
    flow = teams.assistant.tree.flow("notification")
    first = flow.next_question({}, include_optional=True)
    assert flow.question(first).text in texts(card)
    help_card = teams.click(PRACTITIONER, cards.HELP, action(card, "What does this mean?")["data"])
    assert f"Source: {cards.plain(flow.question(first).source)}" in texts(help_card)
    # Answer until the result, always the first option (the card refreshed in place each time).
    for _ in range(20):
        answers = [a for a in card["actions"] if a["verb"] == cards.ANSWER]
        if not answers:
            break
        card = teams.click(PRACTITIONER, cards.ANSWER, answers[0]["data"])
    assert "Decision:" in texts(card)
    assert "Source:" in texts(card)
    assert any(a["title"] == "Start again" for a in card["actions"])


def test_resume_after_a_restart_of_the_app(teams: Teams) -> None:
    card = teams.message(PRACTITIONER, "restart")
    first = next(a for a in card["actions"] if a["verb"] == cards.ANSWER)
    second = teams.click(PRACTITIONER, cards.ANSWER, first["data"])
    # A new assistant over the same database: the conversation is where it was.
    fresh = TeamsAssistant(teams.assistant.settings, teams.assistant.engine, teams.assistant.tree)
    state = fresh.talk.store.load(f"teams:11111111-2222-3333-4444-555555555555:{PRACTITIONER}")
    assert state is not None and first["data"]["question"] in state.answers
    resumed = teams.message(PRACTITIONER, "hello")
    assert "Resuming where you left off" in texts(resumed)
    assert texts(second).split("\n")[0] in texts(resumed) or "So far" in texts(resumed)


def test_a_channel_mention_answers_privately_never_in_the_channel(teams: Teams) -> None:
    before = len(teams.connector.sent(CHANNEL))
    card = teams.message(PRACTITIONER, "<at>safeguard-bot</at> check an incident", channel=True)
    assert card["_conversation"] == f"a:personal-29:{PRACTITIONER}"
    in_channel = teams.connector.sent(CHANNEL)[before:]
    assert in_channel and all(not c.body.get("attachments") for c in in_channel)
    assert "private chat" in in_channel[0].body["text"]


def _result_card(teams: Teams, user: str) -> dict[str, Any]:
    card = teams.message(user, "restart")
    for _ in range(20):
        if any(a["title"] == "Open a case" for a in card.get("actions", [])):
            return card
        answers = [a for a in card["actions"] if a["verb"] == cards.ANSWER]
        assert answers, texts(card)
        card = teams.click(user, cards.ANSWER, answers[0]["data"])
    raise AssertionError("no result")


# --- cases for case officers ------------------------------------------------------------------

def test_a_non_officer_is_refused_a_case(teams: Teams) -> None:
    result = _result_card(teams, PRACTITIONER)
    refused = teams.click(PRACTITIONER, cards.OPEN_CASE_FORM, action(result, "Open a case")["data"])
    assert NOT_AN_OFFICER.split(".")[0] in texts(refused).replace("\\", "")


def test_an_officer_opens_a_case_and_the_channel_hears_no_child_detail(teams: Teams) -> None:
    result = _result_card(teams, OFFICER)
    form = teams.click(OFFICER, cards.OPEN_CASE_FORM, action(result, "Open a case")["data"])
    submit = action(form, "Open case")["data"]
    # Teams merges the inputs into the action's data.
    bad = teams.click(OFFICER, cards.OPEN_CASE, {**submit, "aware": TODAY.isoformat(), "summary": "",
                                                 "partnership": "default"})
    assert "summary" in texts(bad)
    values = {"aware": TODAY.isoformat(), "partnership": "default", "summary": "Fictional summary",
              "child_name": CHILD_NAME, "child_dob": "2019-04-03", "nhs_number": NHS}
    view = teams.click(OFFICER, cards.OPEN_CASE, {**submit, **values})
    assert "Opened" in texts(view)
    again = teams.click(OFFICER, cards.OPEN_CASE, {**submit, **values})
    assert "already submitted" in texts(again)
    # From the case view: assign, with the case service's own refusal for a bad owner.
    assign = action(view, "Assign")["data"]
    assert "Only case officers" in texts(teams.click(PRACTITIONER, cards.ASSIGN, {**assign, "owner": "pat@x.gov.uk"}))
    refused = teams.click(OFFICER, cards.ASSIGN, {**assign, "owner": "not an owner"})
    assert "neither a Slack user ID" in texts(refused).replace("\\", "")
    assigned = teams.click(OFFICER, cards.ASSIGN, {**assign, "owner": "pat@testshire.gov.uk"})
    assert "Assigned to pat" in texts(assigned)
    snoozed = teams.click(OFFICER, cards.SNOOZE, action(view, "Snooze to next working day")["data"])
    assert "snoozed" in texts(snoozed)
    cases = CaseService(teams.assistant.engine, teams.assistant.settings).list()
    assert len(cases) == 1
    with Session(teams.assistant.engine) as session:
        assert session.exec(select(CaseSubject)).first() is not None  # the details are in the record
    # The case notice waits in the outbox for the Teams channel (delivered by the transport).
    with Session(teams.assistant.engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.transport == "teams")).all()
    assert [r.recipient for r in rows] == [CHANNEL]
    for row in rows:
        dumped = json.dumps({"body": row.body, "subject": row.subject, "payload": row.payload})
        assert CHILD_NAME not in dumped and "943" not in dumped and "2019-04-03" not in dumped
        assert cases[0].reference in dumped


def test_installing_in_a_team_keeps_the_channel_reference(teams: Teams) -> None:
    install = activity("installationUpdate", OFFICER, channel=True, service_url=teams.service_url, action="add")
    assert teams.server.post(install).status_code in {200, 201}
    with Session(teams.assistant.engine) as session:
        row = session.get(TeamsConversation, CHANNEL)
    assert row is not None and row.service_url == teams.service_url and row.kind == "channel"


# --- case officers through an Entra group (Microsoft Graph checkMemberGroups) ---------------

def test_a_member_of_the_officer_group_opens_a_case(teams: Teams) -> None:
    graph = teams.world.graph
    result = _result_card(teams, GROUP_MEMBER)
    form = teams.click(GROUP_MEMBER, cards.OPEN_CASE_FORM, action(result, "Open a case")["data"])
    values = {"aware": TODAY.isoformat(), "partnership": "default", "summary": "Via the officer group"}
    view = teams.click(GROUP_MEMBER, cards.OPEN_CASE, {**action(form, "Open case")["data"], **values})
    assert "Opened" in texts(view)
    asked = [c for c in graph.member_checks if c["user"] == GROUP_MEMBER]
    assert len(asked) == 1  # asked once (transitively, through TEAM_GROUP), then from the cache
    assert asked[0]["groupIds"] == [OFFICER_GROUP]
    assert not [c for c in graph.member_checks if c["user"] == OFFICER]  # listed by id: Graph not asked


def test_a_non_member_of_the_officer_group_is_refused(teams: Teams) -> None:
    result = _result_card(teams, PRACTITIONER)
    refused = teams.click(PRACTITIONER, cards.OPEN_CASE_FORM, action(result, "Open a case")["data"])
    assert NOT_AN_OFFICER.split(".")[0] in texts(refused).replace("\\", "")
    assert any(c["user"] == PRACTITIONER for c in teams.world.graph.member_checks)


def test_graph_down_or_refusing_means_refused_with_the_message(teams: Teams, caplog: pytest.LogCaptureFixture) -> None:
    graph = teams.world.graph
    result = _result_card(teams, LATE_MEMBER)
    data = action(result, "Open a case")["data"]
    shown = UNAVAILABLE.split(":")[0]
    graph.throttle(1)  # Graph refuses (429)
    assert shown in texts(teams.click(LATE_MEMBER, cards.OPEN_CASE_FORM, data)).replace("\\", "")
    graph.stop()  # Graph unreachable
    try:
        with caplog.at_level("WARNING", logger="handlers.teams.officers"):
            down = teams.click(LATE_MEMBER, cards.OPEN_CASE_FORM, data)
    finally:
        graph.start()
    assert shown in texts(down).replace("\\", "")
    lines = [r.getMessage() for r in caplog.records if r.name == "handlers.teams.officers"]
    assert lines and "unreachable" in lines[-1]
    assert all(LATE_MEMBER not in line and "Pat" not in line for line in lines)  # no personal data
    # Nothing was cached while Graph could not answer: back up, the member is let in.
    form = teams.click(LATE_MEMBER, cards.OPEN_CASE_FORM, data)
    assert any(a["title"] == "Open case" for a in form.get("actions", [])), texts(form)


def test_without_group_member_read_all_graph_says_403_and_the_member_is_refused(
        teams: Teams, caplog: pytest.LogCaptureFixture) -> None:
    graph = teams.world.graph
    result = _result_card(teams, UNCONSENTED_MEMBER)
    graph.permissions[APP_ID].discard("GroupMember.Read.All")
    try:
        with caplog.at_level("WARNING", logger="handlers.teams.officers"):
            refused = teams.click(UNCONSENTED_MEMBER, cards.OPEN_CASE_FORM, action(result, "Open a case")["data"])
    finally:
        graph.grant(APP_ID, "GroupMember.Read.All")
    assert UNAVAILABLE.split(":")[0] in texts(refused).replace("\\", "")
    lines = [r.getMessage() for r in caplog.records if r.name == "handlers.teams.officers"]
    assert any("403 Authorization_RequestDenied" in line and "GroupMember.Read.All" in line for line in lines)
    assert all(UNCONSENTED_MEMBER not in line for line in lines)


def test_the_token_sent_to_graph_is_the_apps_own_token_for_graph(teams: Teams) -> None:
    import jwt

    graph = teams.world.graph
    checks = [c for c in graph.member_checks if c["user"] == GROUP_MEMBER]
    if not checks:  # run alone: ask now
        teams.assistant.officers._cache.clear()
        assert teams.assistant.is_officer(GROUP_MEMBER)
        checks = [c for c in graph.member_checks if c["user"] == GROUP_MEMBER]
    origin = graph.base_url.removesuffix("/v1.0")
    assert checks[-1]["client_id"] == APP_ID and checks[-1]["scope"] == f"{origin}/.default"
    claims = jwt.decode(checks[-1]["token"], options={"verify_signature": False})
    # The Teams app's own client-credentials token, for Graph (not the Bot Connector's audience).
    assert claims["aud"] == origin and claims["appid"] == APP_ID and claims["tid"] == teams.assistant.settings.teams_tenant_id


# --- proactive messages through the outbox ----------------------------------------------------

def _deliver(teams: Teams, now: datetime) -> Any:
    sender = OutboxSender(teams.assistant.engine, {"teams": teams_transport(teams.assistant.settings,
                                                                            teams.assistant.engine)})
    return asyncio.run(sender.deliver_once(now))


def test_a_reminder_reaches_the_channel_after_a_429_and_is_recorded_from_its_card(teams: Teams) -> None:
    _deliver(teams, NOW)  # whatever earlier tests left in the outbox
    service = CaseService(teams.assistant.engine, teams.assistant.settings)
    case = service.open_case(la_aware=TODAY, actor="cli:test", summary=f"About {CHILD_NAME}",
                             partnership_key="default")
    step = case.next_deadline
    assert step is not None
    payload = {"kind": "reminder", "reference": case.reference, "deadline": step.deadline.key,
               "label": step.deadline.label, "occasion": "before", "phrase": "due in 2 working days",
               "due": step.deadline.due.isoformat(), "due_text": cards.fmt(step.deadline.due),
               "rule": step.deadline.rule, "source": step.deadline.source}
    recipients = Router(teams.assistant.settings)("default", "channel", None)
    assert ("teams", CHANNEL) in recipients
    with session_scope(teams.assistant.engine) as session:
        outbox.enqueue(session, transport="teams", recipient=CHANNEL, subject=f"Reminder: {case.reference}",
                       body=f"Reminder: {case.reference}", payload=payload, dedupe_key=f"t:{case.reference}",
                       not_before=NOW)
    teams.connector.fail_next(429, {"Retry-After": "3"})
    first = _deliver(teams, NOW)
    assert first.retrying and not first.delivered
    assert not _deliver(teams, NOW + timedelta(seconds=2)).delivered  # honours Retry-After
    assert _deliver(teams, NOW + timedelta(seconds=4)).delivered
    posted = [c for c in teams.connector.sent(CHANNEL) if c.body.get("attachments")]
    card = posted[-1].body["attachments"][0]["content"]
    assert case.reference.replace("-", "\\-") in texts(card)
    done = action(card, "Record as done")["data"]
    refused = teams.click(PRACTITIONER, cards.RECORD_DONE, done, channel=True)
    assert "Only case officers" in texts(refused)
    recorded = teams.click(OFFICER, cards.RECORD_DONE, done, channel=True)
    assert "recorded as done" in texts(recorded)
    after = service.get(case.reference)
    state = next(s for s in after.deadlines if s.deadline.key == step.deadline.key)
    assert state.status.value != "open"
    again = teams.click(OFFICER, cards.RECORD_DONE, done, channel=True)
    assert "nothing to record" in texts(again)


def test_no_child_detail_in_any_channel_activity(teams: Teams) -> None:
    _deliver(teams, NOW + timedelta(days=1))  # whatever the outbox holds for the channel
    channel = [c for c in teams.connector.calls if c.conversation == CHANNEL]
    assert channel, "nothing reached the channel"
    dumped = json.dumps([c.body for c in channel])
    for detail in (CHILD_NAME, "943 476 5919", "9434765919", "2019-04-03", "Fictional summary"):
        assert detail not in dumped


def test_a_rapid_review_decision_is_recorded_on_a_case_by_an_officer(teams: Teams) -> None:
    service = CaseService(teams.assistant.engine, teams.assistant.settings)
    case = service.open_case(la_aware=TODAY, actor="cli:test", partnership_key="default")
    card = teams.message(OFFICER, "review restart")
    for _ in range(30):
        answers = [a for a in card.get("actions", []) if a["verb"] == cards.ANSWER]
        if not answers:
            break
        card = teams.click(OFFICER, cards.ANSWER, answers[-1]["data"])  # the last option each time
    assert "Decision:" in texts(card)
    form = teams.click(OFFICER, cards.RECORD_FORM, action(card, "Record on a case")["data"])
    submit = action(form, "Record")["data"]
    assert "Only case officers" in texts(teams.click(PRACTITIONER, cards.RECORD_DECISION, submit))
    missing = teams.click(OFFICER, cards.RECORD_DECISION, {**submit, "reference": "SG-1999-0042",
                                                           "on": TODAY.isoformat()})
    # No such case: partnership scoping's words, the same as for another partnership's case
    assert "belongs to another partnership, or there is no such case" in texts(missing)
    done = teams.click(OFFICER, cards.RECORD_DECISION, {**submit, "reference": case.reference,
                                                        "on": TODAY.isoformat()})
    assert "Recorded" in texts(done)
    assert service.get(case.reference).milestones
