"""Conversation state and Slack event de-duplication on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, inspect

from bot.conversation import ConversationService, ConversationState
from store.db import current_revision, head_revision


def test_migration_creates_tables(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {"conversation", "slack_event"} <= tables


def test_conversation_survives_a_restart(engine: Engine) -> None:
    key = "slack:T1:D1:U1"
    ConversationService(engine).save(
        key, ConversationState("notification", {"harm": "died"}, {"history": ["harm"]})
    )
    engine.dispose()  # a restart: nothing kept in memory
    state = ConversationService(engine).load(key)
    assert state == ConversationState("notification", {"harm": "died"}, {"history": ["harm"]})


def test_save_replaces_and_clear_forgets(engine: Engine) -> None:
    service = ConversationService(engine)
    service.save("k", ConversationState("notification", {"harm": "died"}))
    service.save("k", ConversationState("review", {"improvements": "yes"}))
    assert service.load("k") == ConversationState("review", {"improvements": "yes"})
    service.clear("k")
    assert service.load("k") is None
    assert service.load("other") is None


def test_slack_event_claimed_once_even_concurrently(engine: Engine) -> None:
    service = ConversationService(engine)
    results: list[bool] = []
    lock = threading.Lock()

    def claim() -> None:
        outcome = service.claim_event("Ev0TESTRETRY")
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False, False, False, True]
    assert service.claim_event("Ev0OTHER") is True
