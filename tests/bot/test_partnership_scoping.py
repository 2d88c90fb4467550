"""The partnership scoping rule (issue 16 item 4), as bot/cases.py states it once."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from bot.cases import OUT_OF_SCOPE, CaseOutOfScope, CaseService, may_act
from bot.settings import PartnershipSettings, load_settings


def test_a_partnership_naming_officers_admits_exactly_them() -> None:
    north = PartnershipSettings(key="north", case_officers=["U0NORTH01", "Lead@North.example"])
    assert may_act(north, "U0NORTH01", installation_officer=False)
    assert may_act(north, ["11111111-2222-3333-4444-555555555555", "lead@north.example"],
                   installation_officer=False)  # an e-mail, compared case-blind
    assert not may_act(north, "U0SOUTH01", installation_officer=True)  # installation-wide is not enough
    assert not may_act(north, None, installation_officer=True)


def test_a_partnership_naming_none_follows_the_installation_wide_lists() -> None:
    open_to_all = PartnershipSettings(key="west")
    assert may_act(open_to_all, "U0ANYONE1", installation_officer=True)
    assert not may_act(open_to_all, "U0ANYONE1", installation_officer=False)


def test_check_scope_refuses_another_partnerships_case_like_no_case(engine: Engine, tmp_path) -> None:
    settings = load_settings(data_dir=tmp_path / "var", partnerships=[
        {"key": "north", "reference_prefix": "NO", "case_officers": ["U0NORTH01"]},
        {"key": "south", "reference_prefix": "SO", "case_officers": ["U0SOUTH01"]},
    ])
    service = CaseService(engine, settings)
    north = service.open_case(la_aware=date(2026, 12, 1), actor="cli:test", partnership_key="north")
    south = service.open_case(la_aware=date(2026, 12, 1), actor="cli:test", partnership_key="south")
    service.check_scope(north.reference, "U0NORTH01", installation_officer=False)
    refusals = []
    for reference in (south.reference, "NO-2026-999"):
        with pytest.raises(CaseOutOfScope) as refused:
            service.check_scope(reference, "U0NORTH01", installation_officer=True)
        refusals.append(str(refused.value))
    assert refusals == [OUT_OF_SCOPE, OUT_OF_SCOPE]
