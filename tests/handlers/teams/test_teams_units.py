"""Teams settings, routing and card rendering, without a server."""

from __future__ import annotations

import pytest

from bot.routing import Router
from bot.settings import load_settings
from handlers.teams import cards
from handlers.transports.interface import OutboundMessage
from handlers.transports.teams import render_card

APP_ID = "00000000-0000-0000-0000-00000000b07a"


def test_teams_mode_on_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SAFEGUARD_TEAMS_MODE", "on")
    monkeypatch.setenv("SAFEGUARD_TEAMS_APP_ID", APP_ID)
    monkeypatch.setenv("SAFEGUARD_TEAMS_APP_PASSWORD", "secret")
    monkeypatch.setenv("SAFEGUARD_TEAMS_CASE_OFFICERS", "a,b")
    settings = load_settings(data_dir=tmp_path)
    assert settings.teams_configured()
    assert settings.teams_case_officers == ["a", "b"]
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
