"""The Slack manifest, the Slack settings and ``safeguard-bot run``'s choice of adapter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.settings import SettingsError, load_settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def test_manifest_matches_what_the_app_listens_for() -> None:
    manifest = yaml.safe_load((ROOT / "config" / "slack-manifest.yml").read_text())
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/safeguarding"]
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_home_opened", "app_mention", "message.im",
    }
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "app_mentions:read", "im:history", "usergroups:read"} <= scopes
    source = "".join(p.read_text() for p in sorted((ROOT / "handlers" / "slack" / "listeners").glob("*.py")))
    for listener in ('app.command("/safeguarding")', 'app.event("app_mention")',
                     'app.event("message")', 'app.event("app_home_opened")'):
        assert listener in source


def test_slack_configured_per_mode(tmp_path: Path) -> None:
    assert not load_settings(data_dir=tmp_path).slack_configured()
    socket = load_settings(data_dir=tmp_path, slack_bot_token="xoxb-1", slack_app_token="xapp-1")
    assert socket.slack_configured()
    assert not load_settings(data_dir=tmp_path, slack_bot_token="xoxb-1").slack_configured()
    http = load_settings(data_dir=tmp_path, slack_bot_token="xoxb-1", slack_mode="http",
                         slack_signing_secret="s")
    assert http.slack_configured()
    assert "xoxb-1" not in repr(http)


def test_bad_case_officer_id_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="slack_case_officers.*SAFEGUARD_SLACK_CASE_OFFICERS"):
        load_settings(data_dir=tmp_path, slack_case_officers=["alice"])


def test_run_without_tokens_falls_back_to_the_terminal_chat(cli_env: dict[str, str]) -> None:
    """The chat runs in the terminal; when it ends the service keeps running (reminders, mail)
    until it is told to stop."""
    import signal
    import threading
    import time

    env = dict(cli_env)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.extend(iter(process.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        assert process.stdin is not None
        process.stdin.write("1\n4\n2\n6\n1\n\n")  # under 18, unsure, serious, none, in area: discuss
        process.stdin.close()
        deadline = time.monotonic() + 60
        while not any("The chat has ended" in line for line in errors):
            assert time.monotonic() < deadline, "".join(errors)
            assert process.poll() is None, "".join(errors)
            reader.join(0.05)
        assert process.poll() is None  # still serving after the chat ended
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        assert process.stdout is not None
        out = process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, "".join(errors)
    assert "Slack is not configured" in "".join(errors)
    assert "Decision: Discuss with the LA notifier now (discuss)" in out