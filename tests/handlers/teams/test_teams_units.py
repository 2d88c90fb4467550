"""Teams settings, routing and card rendering, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.routing import Router
from bot.settings import SettingsError, load_settings
from handlers.teams import cards
from handlers.teams.officers import (
    CACHE_SECONDS,
    CACHE_SIZE,
    OfficerCheckUnavailable,
    TeamsOfficers,
)
from handlers.transports.interface import OutboundMessage
from handlers.transports.teams import render_card

APP_ID = "00000000-0000-0000-0000-00000000b07a"
USER = "6f1c0d2e-0000-4000-8000-00000000a001"
GROUP = "6f1c0d2e-0000-4000-8000-00000000c001"


def test_teams_mode_on_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SAFEGUARD_TEAMS_MODE", "on")
    monkeypatch.setenv("SAFEGUARD_TEAMS_APP_ID", APP_ID)
    monkeypatch.setenv("SAFEGUARD_TEAMS_APP_PASSWORD", "secret")
    monkeypatch.setenv("SAFEGUARD_TEAMS_CASE_OFFICERS", f"{USER.upper()}, GROUP:{GROUP}")
    settings = load_settings(data_dir=tmp_path)
    assert settings.teams_configured()
    assert settings.teams_case_officers == [USER, f"group:{GROUP}"]
    assert not load_settings(data_dir=tmp_path, teams_mode=False).teams_configured()


def test_the_team_hears_things_in_its_teams_channel_only_with_teams_configured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    partnerships = [{"key": "default", "teams_channel": "19:x@thread.tacv2", "team_email": "team@x.gov.uk"}]
    on = load_settings(data_dir=tmp_path, teams_mode=True, teams_app_id=APP_ID, teams_app_password="s",
                       partnerships=partnerships)
    assert ("teams", "19:x@thread.tacv2") in Router(on)("default", "channel", None)
    off = load_settings(data_dir=tmp_path, partnerships=partnerships)
    assert all(kind != "teams" for kind, _ in Router(off)("default", "channel", None))


def test_outsiders_text_is_escaped_once_for_the_cards_markdown() -> None:
    hostile = "[Open case](https://evil.example) **now** <at>everyone</at> & co"
    card = render_card(OutboundMessage(1, "teams", "19:x", subject="From *outside*", body=hostile,
                                       payload={"kind": "intake_notice"}))
    shown = "\n".join(b["text"] for b in card["body"])
    assert "](https://" not in shown and "\\[Open case\\]\\(https://evil\\.example\\)" in shown
    assert "\\*\\*now\\*\\*" in shown and "\\<at\\>" in shown
    assert "&amp;" not in shown  # escaped once, for Markdown, not HTML-escaped as well
    assert shown.startswith("**From \\*outside\\***")


def test_a_reminder_card_carries_its_buttons_and_nothing_but_the_payload() -> None:
    payload = {"reference": "SG-2026-0001", "deadline": "panel_notification", "label": "Notify the Panel",
               "occasion": "overdue", "phrase": "overdue", "due_text": "Thu 31 Dec 2026",
               "rule": "5 working days", "source": "Working Together 2023, chapter 5"}
    card = cards.reminder_card(payload)
    assert [a["verb"] for a in card["actions"]] == [cards.RECORD_DONE, cards.SNOOZE, cards.CASE_VIEW]
    assert all(a["data"] == {"reference": "SG-2026-0001", "deadline": "panel_notification"} for a in card["actions"])
    assert card["body"][0]["text"].startswith("**Escalation:")


def test_the_weekly_digest_renders_its_sections_escaped() -> None:
    payload = {"kind": "digest", "title": "Weekly digest",
               "sections": [{"heading": "Due this week", "lines": ["SG-2026-0001: Notify the Panel (Thu)"]},
                            "an older plain section"]}
    card = render_card(OutboundMessage(2, "teams", "19:x", subject="Digest", body="fallback", payload=payload))
    shown = [b["text"] for b in card["body"]]
    assert shown[0] == "Weekly digest"
    assert "**Due this week**" in shown
    assert "- SG\\-2026\\-0001: Notify the Panel \\(Thu\\)" in shown
    assert "an older plain section" in shown


@pytest.mark.parametrize("entry", ["a", "group:", "group:not-a-guid", f"team:{GROUP}", f"{USER}x"])
def test_a_case_officer_entry_must_be_an_object_id_or_a_group(tmp_path, entry: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SettingsError) as raised:
        load_settings(data_dir=tmp_path, teams_case_officers=entry)
    message = str(raised.value)
    assert "\n" not in message and "SAFEGUARD_TEAMS_CASE_OFFICERS" in message and "group:<group object id>" in message


def test_group_entries_need_the_tenant(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(data_dir=tmp_path, teams_case_officers=f"group:{GROUP}")
    with pytest.raises(SettingsError, match="SAFEGUARD_TEAMS_TENANT_ID"):
        TeamsOfficers(settings)


class _Counted(TeamsOfficers):
    """The real check with Graph's answer faked: who is in the group, or an outage."""

    def __init__(self, settings, members: set[str], clock) -> None:  # type: ignore[no-untyped-def]
        super().__init__(settings, provider=object(), clock=clock)  # type: ignore[arg-type]
        self.members, self.asked, self.down = members, [], False

    def _ask_graph(self, user: str) -> bool:
        self.asked.append(user)
        if self.down:
            raise OfficerCheckUnavailable("down")
        return user in self.members


def test_graph_answers_are_cached_for_a_while_in_a_bounded_cache_and_errors_never_allow(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(data_dir=tmp_path, teams_tenant_id=APP_ID,
                             teams_case_officers=f"{USER},group:{GROUP}")
    now = [0.0]
    member = "6f1c0d2e-0000-4000-8000-00000000a002"
    officers = _Counted(settings, {member}, lambda: now[0])
    assert officers.is_officer(USER.upper()) and officers.asked == []  # listed by id: no Graph call
    assert not officers.is_officer(None) and not officers.is_officer("")
    assert not officers.is_officer("29:1abc-not-an-object-id") and officers.asked == []
    assert officers.is_officer(member) and officers.is_officer(member)
    assert officers.asked == [member]
    now[0] += CACHE_SECONDS + 1
    officers.down = True
    with pytest.raises(OfficerCheckUnavailable):
        officers.is_officer(member)  # expired, and Graph is down: no answer, not a yes
    with pytest.raises(OfficerCheckUnavailable):
        officers.is_officer(member)  # the failure was not cached
    officers.down = False
    for n in range(CACHE_SIZE + 10):
        officers.is_officer(f"6f1c0d2e-0000-4000-8000-{n:012d}")
    assert len(officers._cache) == CACHE_SIZE


def test_doctor_checks_the_teams_credentials(tmp_path: Path) -> None:
    """issue 16 item 6: `doctor` asks Entra (the loopback authority) for the bot's Bot
    Connector token: ok with the right secret; with a wrong one, FAIL naming the setting and
    the authority's AADSTS code."""
    from bot.doctor import checks_for
    from tests.support.teams import teams_world

    with teams_world() as world:
        [good] = [c for c in checks_for(world.settings(tmp_path / "a")) if c.part == "teams"]
        assert good.ok and "Bot Connector token" in good.message
        bad_settings = world.settings(tmp_path / "b", teams_app_password="not-the-secret")
        [bad] = [c for c in checks_for(bad_settings) if c.part == "teams"]
    assert not bad.ok and "AADSTS" in bad.message and "TEAMS_APP_PASSWORD" in bad.message.upper()
