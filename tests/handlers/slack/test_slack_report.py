"""``/safeguarding report`` (issue 15): the real Bolt app over HTTP with signed requests, the
loopback Slack Web API (tests/support/slack_api.py, with files_upload_v2's documented flow).
A case officer gets the headline figures privately and the HTML report in their DM; anyone
else is refused; a bad date gets one line. SQLite only: the database does not matter here."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
import pytest_asyncio

from bot.case_subjects import record_subject
from bot.settings import Settings
from handlers.slack.officers import NOT_AN_OFFICER
from store.db import make_engine, upgrade
from tests.handlers.slack.test_slack_reminder_actions import (
    OFFICER,
    PRACTITIONER,
    Slack,
)
from tests.handlers.slack.test_slack_reminder_actions import (
    slack_settings as _slack_settings,
)
from tests.slack_harness import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
slack_settings = _slack_settings
CHILD = "Robin Fictional-Reportchild"


@pytest_asyncio.fixture
async def slack(tmp_path: Path, slack_settings: Settings) -> AsyncIterator[tuple[Slack, str]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'slack-report.db'}")
    upgrade(engine)
    harness = Slack(engine, slack_settings)  # today: Tue 22 Dec 2026
    ref = harness.service.open_case(la_aware=date(2025, 12, 22), actor="t").reference
    record_subject(engine, ref, name=CHILD, date_of_birth=None, nhs_number=None, actor="t")
    harness.service.record_milestone(ref, "panel-notified", on=date(2026, 1, 5), actor="t",
                                     note=f"{CHILD} was known to another LA")
    await harness.start()
    try:
        yield harness, ref
    finally:
        await harness.stop()
        engine.dispose()


async def test_an_officer_gets_the_figures_privately_and_the_html_in_their_dm(slack) -> None:  # type: ignore[no-untyped-def]
    harness, ref = slack
    assert harness.server is not None
    status, _ = await harness.server.command(harness.fake, user=OFFICER, text="report")
    assert status == 200
    reply = await harness.reply()
    assert reply["response_type"] == "ephemeral"
    assert "01 Apr 2025 to 31 Mar 2026" in reply["text"]
    assert "Panel notifications within 5 working days: 0 of 1 (late 1" in reply["text"]
    complete = await wait_for(lambda: harness.calls("files.completeUploadExternal"))
    assert complete[0]["channel_id"] == "D0DM0001"  # the asker's DM, never a channel
    assert harness.calls("conversations.open")[0]["users"] == OFFICER
    asked = harness.calls("files.getUploadURLExternal")[0]
    assert asked["filename"] == "safeguarding-report-2025-04-01-to-2026-03-31.html"
    page = harness.fake.uploads[complete[0]["files"][0]["id"]].decode("utf-8")
    assert int(asked["length"]) == len(page.encode("utf-8"))
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 10 and ref in page
    # Nothing identifying the child, in the chat or the file; the reference only in the file.
    posted = harness.everything_posted() + json.dumps(complete)
    assert CHILD not in posted and "Robin" not in page and ref not in posted


async def test_a_period_can_be_given_and_a_bad_one_is_refused_in_one_line(slack) -> None:  # type: ignore[no-untyped-def]
    harness, _ = slack
    assert harness.server is not None
    await harness.server.command(harness.fake, user=OFFICER, text="report from 2026-04-01 to 2026-03-01")
    refused = await harness.reply()
    assert "before its start date" in refused["text"] and "\n" not in refused["text"]
    await harness.server.command(harness.fake, user=OFFICER, text="report 2025-01-01 2025-12-31")
    reply = await harness.reply(2)
    assert "01 Jan 2025 to 31 Dec 2025" in reply["text"]
    await wait_for(lambda: harness.calls("files.completeUploadExternal"))
    assert len(harness.calls("files.getUploadURLExternal")) == 1


async def test_anyone_else_is_refused_and_nothing_is_uploaded(slack) -> None:  # type: ignore[no-untyped-def]
    harness, _ = slack
    assert harness.server is not None
    await harness.server.command(harness.fake, user=PRACTITIONER, text="report")
    await wait_for(lambda: NOT_AN_OFFICER in harness.everything_posted())
    assert harness.calls("files.getUploadURLExternal") == []
    # Any other text still starts the criteria conversation.
    await harness.server.command(harness.fake, user=PRACTITIONER, text="")
    await wait_for(lambda: len(harness.calls("response_url")) + len(harness.calls("chat.postEphemeral")) >= 2)
