"""The ``safeguard-bot`` command line, run through the real entry point in a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.subprocess]

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed console script if present, else ``python -m bot`` (same entry point)."""
    script = shutil.which("safeguard-bot")
    command = [script] if script else [sys.executable, "-m", "bot"]
    env = dict(env)
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        command + args, env=env, cwd=cwd or ROOT, capture_output=True, text=True, timeout=120
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_deadlines_json_for_christmas_2026(cli_env: dict[str, str]) -> None:
    result = run(["deadlines", "--aware", "2026-12-22", "--json"], cli_env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [(d["key"], d["due"]) for d in data] == [
        ("panel_notification", "2026-12-31"),
        ("partners_notification", "2026-12-31"),
        ("rapid_review", "2027-01-15"),
    ]
    for item in data:
        assert {"key", "label", "due", "rule", "source"} <= item.keys()
        assert item["source"]


def test_deadlines_with_every_event(cli_env: dict[str, str]) -> None:
    result = run(
        [
            "deadlines", "--aware", "22/12/2027", "--notified", "2027-12-31",
            "--rapid-review-submitted", "2028-01-14", "--decision", "2028-01-14",
            "--publication", "2028-07-10", "--json",
        ],
        cli_env,
    )
    assert result.returncode == 0, result.stderr
    due = {d["key"]: d["due"] for d in json.loads(result.stdout)}
    assert due == {
        "panel_notification": "2027-12-31",
        "partners_notification": "2027-12-31",
        "rapid_review": "2028-01-17",
        "panel_response": "2028-02-04",
        "lcspr_publication": "2028-07-14",
        "final_report_to_panel": "2028-06-29",
        # Issue 10: inform the Panel, Ofsted and DfE as soon as a local review is decided.
        "lcspr_commission_notification": "2028-01-14",
    }


def test_deadlines_human_table(cli_env: dict[str, str]) -> None:
    result = run(["deadlines", "--aware", "2026-12-22"], cli_env)
    assert result.returncode == 0
    assert "Thu 31 Dec 2026" in result.stdout
    assert "Fri 15 Jan 2027" in result.stdout
    assert "Sources:" in result.stdout and "s16C" in result.stdout


def test_deadlines_needs_no_database(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = run(["deadlines", "--aware", "2026-12-22"], cli_env, cwd=tmp_path)
    assert result.returncode == 0
    assert not (tmp_path / "var").exists()
    assert not Path(cli_env["SAFEGUARD_DATA_DIR"]).exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["deadlines", "--aware", "2026-02-30"], "--aware"),
        (["deadlines", "--aware", "yesterday-ish"], "not a date"),
        (["deadlines", "--aware", "2026-12-22", "--notified", "2026-12-21"], "before --aware"),
        (["deadlines"], "--aware"),
        (["case", "record", "SG-2026-0001", "teleported", "--on", "2026-12-23"], "unknown milestone"),
        (["case", "open", "--aware", "31/02/2026"], "not a real date"),
    ],
)
def test_user_errors_exit_2_with_one_line(cli_env: dict[str, str], args: list[str], fragment: str) -> None:
    assert fragment in one_line_error(run(args, cli_env))


def test_bad_setting_names_the_key(cli_env: dict[str, str]) -> None:
    env = dict(cli_env, SAFEGUARD_DATABASE_URL="mysql://nobody@nowhere/db")
    line = one_line_error(run(["case", "list"], env))
    assert "SAFEGUARD_DATABASE_URL" in line


def test_bad_setting_in_toml_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('rapid_review_counts_from = "whenever"\n')
    line = one_line_error(run(["--config", str(config), "deadlines", "--aware", "2026-12-22"], cli_env))
    assert "rapid_review_counts_from" in line


def test_toml_settings_apply(cli_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('closure_days = ["2026-12-29"]\n')
    result = run(["--config", str(config), "deadlines", "--aware", "2026-12-22", "--json"], cli_env)
    assert result.returncode == 0, result.stderr
    # Closure days never move a due date (issue 10 item 2).
    assert json.loads(result.stdout)[0]["due"] == "2026-12-31"


def test_case_lifecycle_through_the_cli(cli_env: dict[str, str]) -> None:
    opened = run(["case", "open", "--aware", "2026-12-22", "--summary", "Fictional", "--json"], cli_env)
    assert opened.returncode == 0, opened.stderr
    case = json.loads(opened.stdout)
    ref = case["reference"]
    assert ref == "SG-2026-0001"
    assert {d["key"] for d in case["deadlines"]} == {
        "panel_notification", "partners_notification", "rapid_review"
    }

    recorded = run(["case", "record", ref, "panel-notified", "--on", "2026-12-30", "--json"], cli_env)
    assert recorded.returncode == 0, recorded.stderr
    statuses = {d["key"]: d["status"] for d in json.loads(recorded.stdout)["deadlines"]}
    assert statuses["panel_notification"] == "met"

    refused = run(["case", "record", ref, "panel-responded", "--on", "2027-01-05"], cli_env)
    assert "before rapid-review-sent" in one_line_error(refused)

    listed = run(["case", "list", "--json"], cli_env)
    assert json.loads(listed.stdout)[0]["next_deadline"]["key"] == "partners_notification"

    shown = run(["case", "show", ref], cli_env)
    assert "panel-notified" in shown.stdout and "met (2026-12-30)" in shown.stdout


def test_db_upgrade_command(cli_env: dict[str, str]) -> None:
    result = run(["db", "upgrade"], cli_env)
    assert result.returncode == 0, result.stderr
    assert "revision" in result.stdout
    assert Path(cli_env["SAFEGUARD_DATA_DIR"], "safeguard.db").exists()


def test_python_dash_m_bot(cli_env: dict[str, str]) -> None:
    env = dict(cli_env, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "bot", "deadlines", "--aware", "2026-12-22", "--json"],
        env=env, capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)[0]["due"] == "2026-12-31"


def test_case_commands_on_postgresql(cli_env: dict[str, str], fresh_pg_url: str) -> None:
    env = dict(cli_env, SAFEGUARD_DATABASE_URL=fresh_pg_url)
    opened = run(["case", "open", "--aware", "2027-12-22", "--json"], env)
    assert opened.returncode == 0, opened.stderr
    assert json.loads(opened.stdout)["deadlines"][2]["due"] == "2028-01-17"


def test_deadlines_before_the_duty_began_warn_but_answer(cli_env: dict[str, str]) -> None:
    # 4 and 5 June 2012: the moved spring bank holiday and the Diamond Jubilee.
    result = run(["deadlines", "--aware", "2012-06-01", "--json"], cli_env)
    assert result.returncode == 0
    assert json.loads(result.stdout)[0]["due"] == "2012-06-12"
    assert "before the notification duty began" in result.stderr


def test_two_partnerships_on_the_default_prefix_refused_in_one_line(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "two.toml"
    config.write_text('[[partnerships]]\nkey = "north"\n[[partnerships]]\nkey = "south"\n')
    env = dict(cli_env, SAFEGUARD_CONFIG_FILE=str(config))
    line = one_line_error(run(["case", "open", "--aware", "2026-11-20", "--partnership", "south"], env))
    assert "north" in line and "south" in line and "reference_prefix" in line


@pytest.mark.parametrize("owner", ["<!channel>", "U123"])
def test_case_open_refuses_a_bad_owner(cli_env: dict[str, str], owner: str) -> None:
    line = one_line_error(run(["case", "open", "--aware", "2026-11-20", "--owner", owner], cli_env))
    assert "owner" in line and "Slack user ID" in line
    assert json.loads(run(["case", "list", "--json"], cli_env).stdout) == []


def test_case_open_warns_when_a_slack_owner_cannot_reach_slack(cli_env: dict[str, str]) -> None:
    opened = run(["case", "open", "--aware", "2026-11-20", "--owner", "U0123ABCD", "--json"], cli_env)
    assert opened.returncode == 0, opened.stderr
    assert json.loads(opened.stdout)["owner"] == "U0123ABCD"
    warnings = [line for line in opened.stderr.splitlines() if "U0123ABCD" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: ")
    assert "Slack is not configured" in warnings[0] and "SAFEGUARD_SLACK_BOT_TOKEN" in warnings[0]
