"""Teams conversation references (store/teams.py) on both databases."""

from __future__ import annotations

from sqlalchemy import Engine

from store import teams
from store.db import session_scope


def test_a_reference_is_kept_updated_and_found_for_a_thread(engine: Engine) -> None:
    channel = "19:general@thread.tacv2"
    with session_scope(engine) as session:
        teams.save_reference(session, channel, service_url="https://smba.example/uk/", tenant_id="t",
                             team_id=channel, kind="channel")
    with session_scope(engine) as session:
        teams.save_reference(session, channel, service_url="https://smba.example/emea/", tenant_id="t",
                             team_id=channel, kind="channel")
    with session_scope(engine) as session:
        assert teams.service_url(session, channel) == "https://smba.example/emea/"
        assert teams.service_url(session, f"{channel};messageid=1700000000000") == "https://smba.example/emea/"
        assert teams.service_url(session, "19:other@thread.tacv2") is None
