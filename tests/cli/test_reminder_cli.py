"""remind, calendar, pack, status, snooze and digest through the real entry point."""

from __future__ import annotations

import pytest

import json
from pathlib import Path

from icalendar import Calendar


pytestmark = [pytest.mark.integration, pytest.mark.subprocess]
from tests.cli.test_cli import one_line_error, run


def _open(env: dict[str, str], aware: str = "2026-12-22", **extra: str) -> str:
    args = ["case", "open", "--aware", aware, "--json"]
    for key, value in extra.items():
        args += [f"--{key}", value]
    result = run(args, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["reference"]


def test_remind_twice_at_the_same_moment_sends_once(cli_env: dict[str, str]) -> None:
    ref = _open(cli_env)
    first = run(["remind", "--now", "2026-12-29T09:00", "--json"], cli_env)
    assert first.returncode == 0, first.stderr
    items = json.loads(first.stdout)
    assert [(i["case"], i["deadline"], i["occasion"], i["due"]) for i in items] == [
        (ref, "panel_notification", "before", "2026-12-31"),
        (ref, "partners_notification", "before", "2026-12-31"),
    ]
    second = run(["remind", "--now", "2026-12-29T09:00", "--json"], cli_env)
    assert json.loads(second.stdout) == []
    outbox = Path(cli_env["SAFEGUARD_DATA_DIR"]) / "outbox"
    assert len(list(outbox.glob("*-folder.json"))) == 2


def test_remind_overdue_and_milestone_stops_it(cli_env: dict[str, str]) -> None:
    ref = _open(cli_env)
    overdue = json.loads(run(["remind", "--now", "2027-01-05T10:00", "--json"], cli_env).stdout)
    assert {(i["deadline"], i["occasion"]) for i in overdue if i["deadline"] != "rapid_review"} == {
        ("panel_notification", "overdue"), ("partners_notification", "overdue")
    }
    assert run(["case", "record", ref, "panel-notified", "--on", "2027-01-05"], cli_env).returncode == 0
    next_day = json.loads(run(["remind", "--now", "2027-01-06T09:00", "--json"], cli_env).stdout)
    assert [(i["deadline"], i["occasion"]) for i in next_day if i["deadline"] != "rapid_review"] == [
        ("partners_notification", "overdue")
    ]


def test_remind_holds_on_a_bank_holiday(cli_env: dict[str, str]) -> None:
    _open(cli_env, "2026-12-17")
    assert json.loads(run(["remind", "--now", "2026-12-28T09:00", "--json"], cli_env).stdout) == []
    human = run(["remind", "--now", "2026-12-28T09:00"], cli_env)
    assert "not a working day" in human.stdout


def test_remind_bad_moment(cli_env: dict[str, str]) -> None:
    assert "--now" in one_line_error(run(["remind", "--now", "soonish"], cli_env))


def test_calendar_ics_names_reference_and_step_only(cli_env: dict[str, str], tmp_path: Path) -> None:
    ref = _open(cli_env, summary="Fictional Child Name, aged 3")
    target = tmp_path / "out.ics"
    result = run(["calendar", ref, "--output", str(target)], cli_env)
    assert result.returncode == 0, result.stderr
    calendar = Calendar.from_ical(target.read_bytes())
    events = calendar.walk("VEVENT")
    assert len(events) == 3
    summaries = sorted(str(e["SUMMARY"]) for e in events)
    assert summaries[0].startswith(f"{ref}: ")
    assert all(str(e["DTSTART"].dt) in {"2026-12-31", "2027-01-15"} for e in events)
    assert b"Fictional Child Name" not in target.read_bytes()
    assert "no case" in one_line_error(run(["calendar", "SG-1999-0009"], cli_env))


def test_pack_and_status(cli_env: dict[str, str]) -> None:
    ref = _open(cli_env, summary="Fictional outline")
    pack = run(["pack", ref], cli_env)
    assert pack.returncode == 0, pack.stderr
    # Dates as the forms write them (issue 10 item 10).
    assert "Notify the Panel by Thursday 31/12/2026" in pack.stdout
    assert "Date the LA became aware: 22/12/2026" in pack.stdout
    assert "[not recorded: fill in]" in pack.stdout
    status = run(["status", "--json"], cli_env)
    data = json.loads(status.stdout)
    assert data["reminders"]["pending"] > 0 and data["outbox"] == {}


def test_snooze_command(cli_env: dict[str, str]) -> None:
    ref = _open(cli_env, "2026-11-20")
    result = run(["case", "snooze", ref, "panel_notification"], cli_env)
    assert result.returncode == 0, result.stderr
    assert "snoozed until" in result.stdout
    assert "no open deadline" in one_line_error(run(["case", "snooze", ref, "lcspr_publication"], cli_env))
