"""A DEBUG run logs no child's details (issue 10).

The bot's logging is set up exactly as ``safeguard-bot run`` sets it up, at DEBUG. Then the real
Bolt app, against the loopback Slack Web API, opens a case (the modal's submission carries the
child's details), the case modal is opened from a reminder (``views.open`` carries them back),
and the case's details are written to the database (SQL parameters carry them). Everything the
configured handlers wrote, screen and log file, must be free of them. Fictional data only.
"""

from __future__ import annotations

import imaplib
import json
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine

from bot.case_subjects import record_subject
from bot.cases import CaseService
from bot.logs import LibraryFloor, configure_logging
from bot.settings import Settings, load_settings
from handlers.slack import ids
from handlers.slack.app import build_app
from handlers.slack.assistant import SlackAssistant
from handlers.transports.slack import reminder_blocks
from tests.slack_harness import SECRET, BoltServer, wait_for
from tests.support.slack_api import SlackApi

pytestmark = pytest.mark.integration

TODAY = date(2026, 12, 22)
OFFICER = "U0OFFICER"
CHILD_NAME = "Pip Fictional-Testchild"
CHILD_DOB = date(2019, 4, 3)
NHS = "9434765919"  # fictional; passes the modulus-11 check
SECRETS = (CHILD_NAME, "Fictional-Testchild", "2019-04-03", "03 Apr 2019", NHS, "943 476 5919")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the logging configuration back as it was (it is process-wide)."""
    root = logging.getLogger()
    handlers, level, debug = list(root.handlers), root.level, imaplib.Debug  # type: ignore[attr-defined]
    levels = {name: lg.level for name, lg in logging.root.manager.loggerDict.items()
              if isinstance(lg, logging.Logger)}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for name, logger in logging.root.manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            logger.setLevel(levels.get(name, logging.NOTSET))
    imaplib.Debug = debug  # type: ignore[attr-defined]


@pytest.fixture
def debug_settings(tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path / "var",
        log_level="DEBUG",
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=SECRET,
        slack_mode="http",
        slack_case_officers=[OFFICER],
        partnerships=[{"key": "default", "name": "Testshire SCP", "slack_channel": "C0NOTICE"}],
    )


def _case_view_button(case) -> dict:  # type: ignore[no-untyped-def]
    state = next(s for s in case.deadlines if s.deadline.key == "panel_notification")
    payload = {"kind": "reminder", "reference": case.reference, "deadline": "panel_notification",
               "occasion": "before", "label": state.deadline.label, "phrase": "due soon",
               "due_text": "soon", "rule": state.deadline.rule, "source": state.deadline.source}
    for block in reminder_blocks(payload):
        for element in block.to_dict().get("elements", []):
            if element.get("action_id") == ids.CASE_VIEW:
                return {"action_id": ids.CASE_VIEW, "type": "button", "value": element["value"],
                        "text": element["text"], "block_id": "b", "action_ts": "1.0"}
    raise AssertionError("no Open case button")


@pytest.mark.asyncio
async def test_a_debug_run_logs_no_child_details(
    engine: Engine, debug_settings: Settings, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    capsys.readouterr()
    configure_logging(debug_settings.log_level, debug_settings.data_dir, quiet=False,
                      log_file=debug_settings.data_dir / "safeguard-bot.log")  # asked for
    assert logging.getLogger("handlers.slack.app").isEnabledFor(logging.DEBUG)  # the bot is at DEBUG

    fake = SlackApi()
    fake.start()
    client = AsyncWebClient(token="xoxb-test-token", base_url=fake.base_url)
    server = BoltServer(build_app(SlackAssistant(debug_settings, engine, debug_settings.criteria(), today=lambda: TODAY), client=client))
    await server.start()
    try:
        # An officer opens a case with the child's details in the modal (opened by the button, so
        # its private_metadata is the bot's own sealed one).
        status, _ = await server.action(fake, ids.OPEN_CASE, "notify", user=OFFICER)
        assert status == 200
        form = (await wait_for(lambda: fake.of("views.open")))[0].body["view"]
        values = {
            "aware": {"value": {"type": "datepicker", "selected_date": "2026-12-21"}},
            "partnership": {"value": {"type": "static_select", "selected_option": {"value": "default"}}},
            "summary": {"value": {"type": "plain_text_input", "value": "Fictional summary"}},
            "child_name": {"value": {"type": "plain_text_input", "value": CHILD_NAME}},
            "child_dob": {"value": {"type": "datepicker", "selected_date": CHILD_DOB.isoformat()}},
            "nhs_number": {"value": {"type": "plain_text_input", "value": NHS}},
        }
        status, _ = await server.view_submission(ids.OPEN_CASE_VIEW, values, form["private_metadata"], user=OFFICER)
        assert status == 200
        await wait_for(lambda: [c for c in fake.of("chat.postMessage") if c.body["channel"] == OFFICER])
        # Another case, its details recorded from the CLI side; then opened from a reminder.
        service = CaseService(engine, debug_settings)
        case = service.open_case(la_aware=date(2026, 12, 21), actor=f"slack:{OFFICER}", summary="Fictional")
        record_subject(engine, case.reference, name=CHILD_NAME, date_of_birth=CHILD_DOB,
                       nhs_number=NHS, actor=f"slack:{OFFICER}")
        click = {
            "type": "block_actions", "team": {"id": "T1", "domain": "test"},
            "user": {"id": OFFICER, "team_id": "T1"}, "api_app_id": "A1", "trigger_id": "trig.1",
            "actions": [_case_view_button(case)],
            "container": {"type": "view", "view_id": "VHOME"}, "view": {"id": "VHOME", "type": "home"},
        }
        status, _ = await server.post(urlencode({"payload": json.dumps(click)}), "application/x-www-form-urlencoded")
        assert status == 200
        opened = await wait_for(lambda: fake.of("views.open")[1:])
        assert CHILD_NAME in json.dumps(opened[0].body) and NHS in json.dumps(opened[0].body)  # really sent
    finally:
        await server.stop()
        fake.stop()

    for handler in logging.getLogger().handlers:
        handler.flush()
    logged = (debug_settings.data_dir / "safeguard-bot.log").read_text(encoding="utf-8")
    screen = capsys.readouterr().err
    assert logged.strip(), "the log file is empty: nothing was captured"
    for secret in SECRETS:
        assert secret not in logged, f"{secret!r} in the log file"
        assert secret not in screen, f"{secret!r} on the screen"


def test_library_records_below_info_are_dropped_whatever_their_loggers_level() -> None:
    """What the handlers' filter does with the loggers that matter, and with one nobody listed."""
    keep = LibraryFloor()

    def passes(name: str, level: int) -> bool:
        return keep.filter(logging.LogRecord(name, level, __file__, 1, "m", None, None))

    assert passes("handlers.slack.app", logging.DEBUG) and passes("store.cases", logging.DEBUG)
    assert not passes("slack_sdk.web.async_base_client", logging.DEBUG)
    assert not passes("slack_bolt.AsyncApp", logging.DEBUG) and not passes("safeguard-bot", logging.DEBUG)
    assert not passes("sqlalchemy.engine.Engine", logging.INFO) and passes("sqlalchemy.engine.Engine", logging.WARNING)
    assert not passes("some.library.nobody.listed", logging.DEBUG)
    assert passes("some.library.nobody.listed", logging.INFO)
    assert not passes("pypdf._reader", logging.WARNING)


def test_imaplib_debug_output_is_switched_off(tmp_path: Path, restore_logging: None) -> None:
    imaplib.Debug = 4  # type: ignore[attr-defined]  # someone debugging a mailbox
    configure_logging("DEBUG", tmp_path, quiet=True)
    assert imaplib.Debug == 0  # type: ignore[attr-defined]
