"""Partnership scoping in Teams (issue 16 item 4): the real Teams SDK app over HTTP on loopback,
with activities signed by the loopback issuer (tests/support/teams.py).

Two partnerships, each naming its own case officers (Entra object ids). An officer of North is
refused on South's case at every card action that names a case, in the same words as for a
reference with no case, and nothing is written; on North's own case the same action goes
through. Opening a case offers and accepts North only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from bot.cases import OUT_OF_SCOPE, CaseService, CaseView
from handlers.slack import payloads as pl
from handlers.teams import cards
from handlers.teams.app import build_app
from handlers.teams.assistant import RECORD_SEAL, TeamsAssistant
from store.db import make_engine, upgrade
from store.models import AuditEntry
from tests.handlers.teams.test_teams_app import Teams, action, texts
from tests.support.teams import TeamsServer, TeamsWorld

pytestmark = pytest.mark.integration

TODAY = date(2026, 12, 22)
NORTH = "6f1c0d2e-0000-4000-8000-00000000d001"
SOUTH = "6f1c0d2e-0000-4000-8000-00000000d002"
PANEL = "panel_notification"
NO_CASE = "NO-2026-0999"


@pytest.fixture(scope="module")
def teams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Teams]:
    folder: Path = tmp_path_factory.mktemp("teams-scoping")
    world = TeamsWorld()
    settings = world.settings(
        folder / "var",
        teams_case_officers=[],
        partnerships=[
            {"key": "north", "name": "North SCP", "reference_prefix": "NO", "case_officers": [NORTH]},
            {"key": "south", "name": "South SCP", "reference_prefix": "SO", "case_officers": [SOUTH]},
        ],
    )
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


def two_cases(teams: Teams) -> tuple[CaseView, CaseView]:
    service = CaseService(teams.assistant.engine, teams.assistant.settings)
    north = service.open_case(la_aware=TODAY, actor="cli:test", partnership_key="north")
    south = service.open_case(la_aware=TODAY, actor="cli:test", partnership_key="south")
    return north, south


def audit_rows(teams: Teams) -> int:
    with Session(teams.assistant.engine) as session:
        return int(session.exec(select(func.count()).select_from(AuditEntry)).one())


def record_data(teams: Teams, reference: str) -> dict[str, Any]:
    review = teams.assistant.tree.flow("review")
    answers = {k: ("yes" if k == "improvements" else "no") for k in review.question_keys()}
    sealed = teams.assistant.seal.seal(RECORD_SEAL, NORTH, pl.RecordDecisionMeta(answers=answers))
    return {"sealed": sealed, "reference": reference, "on": TODAY.isoformat()}


ENTRY_POINTS: dict[str, tuple[str, Any]] = {
    "record as done": (cards.RECORD_DONE, lambda t, ref: {"reference": ref, "deadline": PANEL}),
    "snooze": (cards.SNOOZE, lambda t, ref: {"reference": ref, "deadline": PANEL}),
    "case view": (cards.CASE_VIEW, lambda t, ref: {"reference": ref, "deadline": PANEL}),
    "assign": (cards.ASSIGN, lambda t, ref: {"reference": ref, "owner": "pat@north.example"}),
    "record a rapid review decision": (cards.RECORD_DECISION, record_data),
}
REFUSED = texts(cards.message_card(OUT_OF_SCOPE))


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_an_action_on_another_partnerships_case_is_refused_like_no_case(teams: Teams, entry: str) -> None:
    verb, data = ENTRY_POINTS[entry]
    _, south = two_cases(teams)
    before = audit_rows(teams)
    refused = teams.click(NORTH, verb, data(teams, south.reference))
    no_case = teams.click(NORTH, verb, data(teams, NO_CASE))
    assert texts(refused) == texts(no_case) == REFUSED  # nothing of South's case is told
    assert south.reference.replace("-", "\\-") not in texts(refused)
    assert audit_rows(teams) == before  # a refusal writes nothing


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_the_same_action_on_the_officers_own_case_goes_through(teams: Teams, entry: str) -> None:
    verb, data = ENTRY_POINTS[entry]
    north, _ = two_cases(teams)
    answer = teams.click(NORTH, verb, data(teams, north.reference))
    assert texts(answer) != REFUSED
    assert "Only case officers" not in texts(answer)


def test_open_case_offers_and_accepts_the_officers_partnerships_only(teams: Teams) -> None:
    card = teams.message(NORTH, "restart")
    for _ in range(20):
        if any(a["title"] == "Open a case" for a in card.get("actions", [])):
            break
        card = teams.click(NORTH, cards.ANSWER, next(a for a in card["actions"] if a["verb"] == cards.ANSWER)["data"])
    form = teams.click(NORTH, cards.OPEN_CASE_FORM, action(card, "Open a case")["data"])
    choices = [c["value"] for b in form["body"] if b.get("id") == "partnership" for c in b.get("choices", [])]
    assert choices == ["north"]
    before = len(CaseService(teams.assistant.engine, teams.assistant.settings).list())
    submit = {**action(form, "Open case")["data"], "aware": TODAY.isoformat(), "partnership": "south",
              "summary": "Fictional summary"}
    refused = teams.click(NORTH, cards.OPEN_CASE, submit)
    assert "your own partnerships only" in texts(refused)
    assert len(CaseService(teams.assistant.engine, teams.assistant.settings).list()) == before
    opened = teams.click(NORTH, cards.OPEN_CASE, {**submit, "partnership": "north"})
    assert "Opened" in texts(opened)
