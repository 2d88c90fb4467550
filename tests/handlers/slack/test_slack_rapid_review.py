"""The rapid review on App Home (issue 14): "Start rapid review" for a case officer, and "Sign
off" for a safeguarding partner registered by ``slack_user``, through the real Bolt app with
signed requests and the loopback Slack Web API (SQLite: the service is tested on both databases
in tests/cli/test_rapid_review_cli.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Engine

from bot.rapid_review import RapidReviewService
from bot.settings import Settings, load_settings
from handlers.slack import ids
from store.db import make_engine, upgrade
from tests.handlers.slack.test_slack_reminder_actions import (
    CHANNEL,
    CHILD_NAME,
    OFFICER,
    PRACTITIONER,
    SECRET,
    Slack,
    open_case,
)
from tests.slack_harness import wait_for

pytestmark = pytest.mark.integration
PARTNER = "U0POLICE1"


@pytest.fixture
def rr_settings(tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path / "var", slack_bot_token="xoxb-test-token", slack_signing_secret=SECRET,
        slack_mode="http", slack_case_officers=[OFFICER, PARTNER],
        partnerships=[{
            "key": "default", "name": "Testshire SCP", "slack_channel": CHANNEL,
            "agencies": [{"key": "police", "name": "Testshire Police", "email": "lead@testshire.police.uk"},
                         {"key": "health", "name": "Testshire ICB", "email": "safeguarding@nhs.net"}],
            "partners": [{"role": "police", "name": "Det Supt Rowe", "email": "rowe@testshire.police.uk",
                          "slack_user": PARTNER}],
        }],
    )


@pytest_asyncio.fixture
async def slack(tmp_path: Path, rr_settings: Settings) -> AsyncIterator[Slack]:
    engine: Engine = make_engine(f"sqlite:///{tmp_path / 'slack.db'}")
    upgrade(engine)
    harness = Slack(engine, rr_settings)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
        engine.dispose()


async def _home(slack: Slack, user: str, count: int) -> dict[str, Any]:
    await slack.server.event({"type": "app_home_opened", "user": user, "tab": "home",  # type: ignore[union-attr]
                              "channel": "D0HOME", "event_ts": f"3.{count}"}, f"Ev0RRHOME{count}")
    published = await wait_for(lambda: len(slack.calls("views.publish")) >= count and slack.calls("views.publish"))
    return published[count - 1]["view"]


def _button(view: dict[str, Any], reference: str) -> dict[str, Any]:
    block = next(b for b in view["blocks"] if b.get("block_id") == f"rr_{reference}")
    element = block.get("accessory") or block["elements"][0]
    return {"action_id": element["action_id"], "type": "button", "value": element["value"],
            "text": element["text"]}


def _dms(slack: Slack, user: str) -> list[str]:
    return [m["text"] for m in slack.calls("chat.postMessage") if m["channel"] == user]


@pytest.mark.asyncio
async def test_start_and_sign_off_from_app_home(slack: Slack) -> None:
    case = open_case(slack)
    home = await _home(slack, OFFICER, 1)
    start = _button(home, case.reference)
    assert start["action_id"] == ids.RAPID_REVIEW_START

    await slack.click(start, user=PRACTITIONER, where="home")  # not a case officer: refused
    await wait_for(lambda: _dms(slack, PRACTITIONER))
    rapid = RapidReviewService(slack.service)
    assert rapid.progress_of(case.reference) is None

    await slack.click(start, where="home")
    [told] = await wait_for(lambda: _dms(slack, OFFICER))
    assert "2 agencies asked" in told and "Testshire Police" in told
    assert [a.agency for a in rapid.status(case.reference).agencies] == ["police", "health"]
    redrawn = await wait_for(lambda: len(slack.calls("views.publish")) >= 2 and slack.calls("views.publish"))
    sign = _button(redrawn[1]["view"], case.reference)
    assert sign["action_id"] == ids.RAPID_REVIEW_SIGNOFF
    assert "0 of 2 agencies returned, 0 of 3 sign-offs" in json.dumps(redrawn[1]["view"])

    await slack.click(sign, where="home")  # an officer who is not a partner cannot sign for one
    await wait_for(lambda: len(_dms(slack, OFFICER)) >= 2)
    assert "only a safeguarding partner" in _dms(slack, OFFICER)[1]
    assert rapid.status(case.reference).signoffs == ()

    await slack.click(sign, user=PARTNER, where="home")
    [signed] = await wait_for(lambda: _dms(slack, PARTNER))
    assert "recorded" in signed and "1 of 3 sign-offs" in signed
    [signoff] = rapid.status(case.reference).signoffs
    assert (signoff.partner, signoff.by, signoff.via) == ("police", "Det Supt Rowe", "slack")
    assert CHILD_NAME not in slack.everything_posted()


@pytest.mark.asyncio
async def test_the_partners_dm_carries_the_sign_off_button(slack: Slack) -> None:
    from sqlmodel import Session, select

    from handlers.transports.interface import OutboundMessage
    from handlers.transports.slack import render_blocks
    from store.models import OutboxMessage

    case = open_case(slack)
    rapid = RapidReviewService(slack.service)
    rapid.start(case.reference, agencies=["police"], actor="test")
    rapid.mark_draft(case.reference, actor="test")
    with Session(slack.engine) as session:
        [row] = session.exec(select(OutboxMessage).where(OutboxMessage.recipient == PARTNER)).all()
    assert row.transport == "slack"
    blocks = render_blocks(OutboundMessage(row.id or 0, row.transport, row.recipient, row.subject, row.body,
                                           row.payload))
    assert blocks is not None
    [button] = [e for b in blocks for e in b.get("elements", []) if e.get("type") == "button"]
    assert button["action_id"] == ids.RAPID_REVIEW_SIGNOFF
    await slack.click({k: button[k] for k in ("action_id", "type", "value", "text")}, user=PARTNER)
    await wait_for(lambda: rapid.status(case.reference).signoffs)
    assert [s.by for s in rapid.status(case.reference).signoffs] == ["Det Supt Rowe"]
