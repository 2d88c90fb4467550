"""One table of case rules, run through every adapter that can apply them: the CLI and Slack.

Each row is an operation (open a case aware on a date; record a milestone on a date after the
given ones) and what must come of it: accepted, accepted with a warning containing some text,
or refused with a message containing some text. The rules are the case service's
(bot/cases.py over bot/core/lifecycle.py), so both adapters must give the same outcome.

The CLI is the real entry point (``bot.cli.main``) in-process; Slack is the real Bolt app over
HTTP with signed requests against the loopback Slack Web API: the "Record as done" modal for
milestones, the open-case modal for awareness. Both run on the same database engine (SQLite
and PostgreSQL). Dates are relative to today in London, the day both adapters stand on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import Engine

from bot.cases import CaseService
from bot.cli import main
from bot.settings import Settings, load_settings
from handlers.slack import ids
from handlers.slack import case_blocks as cb
from scheduler.calendar import today_in_london
from tests.slack_harness import wait_for
from tests.handlers.slack.test_slack_reminder_actions import (  # noqa: F401  (slack_settings is a fixture)
    LONDON,
    OFFICER,
    Slack,
    reminder_buttons,
    slack_settings,
)

pytestmark = pytest.mark.integration

TODAY = today_in_london()
AWARE = TODAY - timedelta(days=3)


def day(offset: int) -> date:
    """A day relative to the case's awareness date."""
    return AWARE + timedelta(days=offset)


# The deadline whose "Record as done" button records each milestone.
STEP = {"panel-notified": "panel_notification", "rapid-review-sent": "rapid_review"}


@dataclass(frozen=True)
class Row:
    name: str
    op: str  # "open" or "record"
    on: date
    milestone: str | None = None
    given: tuple[tuple[str, date], ...] = ()
    partnership: str | None = None  # open: the key asked for; record: the case's partnership
    outcome: str = "ok"  # ok, warning, refused
    text: str = ""


FUTURE = (TODAY - AWARE).days + 2
ROWS = [
    Row("open: aware in the past", "open", day(0)),
    Row("open: aware today", "open", TODAY),
    Row("open: aware in the future", "open", TODAY + timedelta(days=5), outcome="warning",
        text="is in the future"),
    Row("open: aware before the duty began", "open", date(2017, 1, 10), outcome="refused",
        text="before the notification duty began"),
    Row("open: unknown partnership", "open", day(0), partnership="gone", outcome="refused",
        text="unknown partnership 'gone'; configured: default"),
    Row("record: panel notified after awareness", "record", day(1), "panel-notified"),
    Row("record: panel notified before awareness", "record", day(-1), "panel-notified",
        outcome="refused", text="before the LA became aware"),
    Row("record: panel notified in the future", "record", day(FUTURE), "panel-notified",
        outcome="warning", text="panel-notified date"),
    Row("record: rapid review before the Panel is notified", "record", day(1), "rapid-review-sent",
        outcome="refused", text="before panel-notified is recorded"),
    Row("record: rapid review dated before the notification", "record", day(1), "rapid-review-sent",
        given=(("panel-notified", day(2)),), outcome="refused", text="is before panel-notified"),
    Row("record: rapid review after the notification", "record", day(2), "rapid-review-sent",
        given=(("panel-notified", day(1)),)),
    Row("record: rapid review in the future", "record", day(FUTURE), "rapid-review-sent",
        given=(("panel-notified", day(1)),), outcome="warning", text="is in the future"),
    Row("record: a case whose partnership is no longer configured", "record", day(1),
        "panel-notified", partnership="retired", outcome="warning",
        text="partnership 'retired' is no longer configured"),
]


@dataclass
class Outcome:
    outcome: str
    messages: list[str] = field(default_factory=list)

    def check(self, row: Row, adapter: str) -> None:
        assert self.outcome == row.outcome, f"{adapter}: {row.name}: {self}"
        if row.text:
            assert any(row.text in m for m in self.messages), f"{adapter}: {row.name}: {self}"
        if row.outcome == "ok":
            assert self.messages == [], f"{adapter}: {row.name}: {self}"


def setup_case(engine: Engine, settings: Settings, row: Row) -> str:
    """The case a "record" row acts on, with its given milestones, opened by the service."""
    if row.partnership is not None:  # opened while the partnership was configured
        settings = settings.model_copy(update={"partnerships": [
            *settings.partnerships,
            settings.partnerships[0].model_copy(update={"key": row.partnership, "reference_prefix": "RT"}),
        ]})
    service = CaseService(engine, settings)
    view = service.open_case(la_aware=AWARE, actor="test", summary="Fictional",
                             partnership_key=row.partnership)
    for milestone, on in row.given:
        service.record_milestone(view.reference, milestone, on=on, actor="test")
    return view.reference


# --- the CLI ----------------------------------------------------------------------------------


def through_cli(row: Row, engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch,
                capsys: pytest.CaptureFixture[str]) -> Outcome:
    monkeypatch.setenv("SAFEGUARD_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    if row.op == "open":
        args = ["case", "open", "--aware", row.on.isoformat(), "--summary", "Fictional", "--json"]
        if row.partnership:
            args += ["--partnership", row.partnership]
    else:
        reference = setup_case(engine, settings, row)
        assert row.milestone is not None
        args = ["case", "record", reference, row.milestone, "--on", row.on.isoformat(), "--json"]
    capsys.readouterr()
    status = main(args)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    if status == 2:
        assert len(lines) == 1 and lines[0].startswith("safeguard-bot: error: "), err
        return Outcome("refused", lines)
    assert status == 0, err
    json.loads(out)
    assert all(line.startswith("warning: ") for line in lines), err
    return Outcome("warning" if lines else "ok", lines)


# --- Slack ------------------------------------------------------------------------------------


async def through_slack(row: Row, slack: Slack) -> Outcome:
    posted_before = len(slack.calls("chat.postMessage"))
    if row.op == "open":
        await slack.click({"action_id": ids.OPEN_CASE, "type": "button", "value": "notify"})
        view = (await slack.opened_view())["view"]
        values = {
            "aware": {"value": {"type": "datepicker", "selected_date": row.on.isoformat()}},
            "partnership": {"value": {"type": "static_select",
                                      "selected_option": {"value": row.partnership or "default"}}},
            "summary": {"value": {"type": "plain_text_input", "value": "Fictional"}},
        }
        status, body = await slack._send({
            "type": "view_submission", "team": {"id": "T1", "domain": "test"},
            "user": {"id": OFFICER, "team_id": "T1"}, "api_app_id": "A1", "trigger_id": "t.2",
            "view": {"id": "V1", "type": "modal", "callback_id": ids.OPEN_CASE_VIEW,
                     "private_metadata": view["private_metadata"], "state": {"values": values}},
        })
        assert status == 200
        response = json.loads(body) if body else {}
        expect = "Opened."
    else:
        reference = setup_case(slack.engine, slack.settings, row)
        assert row.milestone is not None
        case = slack.service.get(reference)
        await slack.click(reminder_buttons(case, STEP[row.milestone])[ids.RECORD_DONE])
        view = (await slack.opened_view())["view"]
        response = await slack.submit(view, row.on.isoformat())
        expect = "Recorded for"
    if response.get("response_action") == "errors":
        return Outcome("refused", list(response["errors"].values()))
    assert response == {}
    dms = await wait_for(lambda: [
        m for m in slack.calls("chat.postMessage")[posted_before:]
        if m.get("channel") == OFFICER and str(m.get("text", "")).startswith(expect)
    ])
    lines = str(dms[0]["text"]).splitlines()[1:]
    assert all(line.startswith("Warning: ") for line in lines), lines
    return Outcome("warning" if lines else "ok", lines)


@pytest.mark.asyncio
@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
async def test_case_rules_are_the_same_in_the_cli_and_in_slack(
    row: Row, engine: Engine, slack_settings: Settings, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli_settings = load_settings(data_dir=slack_settings.data_dir)
    through_cli(row, engine, cli_settings, monkeypatch, capsys).check(row, "CLI")

    slack = Slack(engine, slack_settings)
    slack.now = datetime.combine(TODAY, time(10, 0), tzinfo=LONDON)
    await slack.start()
    try:
        (await through_slack(row, slack)).check(row, "Slack")
    finally:
        await slack.stop()


def test_the_table_covers_every_outcome_and_both_operations() -> None:
    assert {r.outcome for r in ROWS} == {"ok", "warning", "refused"}
    assert {(r.op, r.outcome) for r in ROWS} >= {
        ("open", "ok"), ("open", "warning"), ("open", "refused"),
        ("record", "ok"), ("record", "warning"), ("record", "refused"),
    }
    assert cb.DONE_ON  # the record-done modal's date field, where Slack shows a refusal
