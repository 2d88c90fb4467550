"""A partnership taken out of the settings while its cases remain in the database: its team's
messages (the digest, reminders, escalations) go to the local transport, addressed to it, and
never to another partnership's channel (they name its cases' references and dates)."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.cases import CaseService
from bot.routing import Router
from bot.settings import PartnershipSettings, Settings
from scheduler.calendar import LONDON, WorkingCalendar
from scheduler.digest import send_digests
from scheduler.reminders import load_policy
from scheduler.sweep import Sweeper
from store.models import OutboxMessage

NORTH = PartnershipSettings(key="north", name="Northtown SCP", reference_prefix="NT", slack_channel="C0NORTH01",
                            escalation_contact="head@northtown.example.gov.uk")
SOUTH = PartnershipSettings(key="south", name="Southville SCP", reference_prefix="SV", slack_channel="C0SOUTH01",
                            escalation_contact="head@southville.example.gov.uk")


def _settings(tmp_path: Path, *partnerships: PartnershipSettings) -> Settings:
    return Settings(data_dir=tmp_path / "var", partnerships=list(partnerships), slack_bot_token="xoxb-test")


def test_an_unconfigured_partnerships_team_is_the_local_transport_never_another_channel(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    router = Router(_settings(tmp_path, NORTH))
    with caplog.at_level("WARNING", logger="bot.routing"):
        for _ in range(3):
            assert router("south", "channel", None) == [("folder", "partnership south (not configured)")]
            assert router("south", "escalation_contact", None) == [("folder", "partnership south (not configured)")]
    assert router("south", "owner", "U0OWNER01") == [("slack", "U0OWNER01")]  # the case's own owner
    assert router("north", "channel", None) == [("slack", "C0NORTH01")]
    assert len([r for r in caplog.records if "south" in r.getMessage()]) == 1  # said once


def test_the_digest_and_reminders_of_a_removed_partnership_stay_out_of_the_others_channel(
        engine: Engine, tmp_path: Path) -> None:
    both = _settings(tmp_path, NORTH, SOUTH)
    cases = CaseService(engine, both)
    cases.open_case(la_aware=date(2026, 12, 22), actor="t", partnership_key="north")
    south = cases.open_case(la_aware=date(2026, 12, 22), actor="t", partnership_key="south").reference
    router = Router(_settings(tmp_path, NORTH))  # Southville taken out of the settings
    moment = datetime.combine(date(2026, 12, 29), time(9, 0), tzinfo=LONDON)
    send_digests(engine, moment, load_policy(), lambda key: WorkingCalendar(), router)
    Sweeper(engine, load_policy(), lambda key: WorkingCalendar(), router).sweep(moment)
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage)).all()
    about_south = [r for r in rows if south in r.body or south in r.subject]
    assert about_south, "the removed partnership's case is still reminded and in a digest"
    assert {r.recipient for r in about_south} == {"partnership south (not configured)"}
    assert all(r.transport == "folder" for r in about_south)
    assert any(r.recipient == "C0NORTH01" for r in rows)  # Northtown's own still go to its channel
