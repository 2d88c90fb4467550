"""Wiring: settings -> database (upgraded) -> case service, sweeper, sender, router.

Shared by the CLI commands and the long-running service so both run the same code paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TextIO

from sqlalchemy import Engine

from bot.cases import CaseService
from bot.routing import Router
from bot.settings import Settings
from handlers.transports import build_transports
from handlers.transports.interface import Transport
from handlers.transports.sender import OutboxSender
from scheduler.calendar import WorkingCalendar
from scheduler.reminders import ReminderPolicy
from scheduler.sweep import Sweeper
from store.db import open_database


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    cases: CaseService
    router: Router
    policy: ReminderPolicy
    _calendars: dict[str, WorkingCalendar] = field(default_factory=dict)

    def calendar_for(self, partnership_key: str) -> WorkingCalendar:
        if partnership_key not in self._calendars:
            try:
                partnership = self.settings.partnership(partnership_key)
            except ValueError:
                partnership = None
            self._calendars[partnership_key] = self.settings.calendar_for(partnership)
        return self._calendars[partnership_key]

    def sweeper(self) -> Sweeper:
        return Sweeper(self.engine, self.policy, self.calendar_for, self.router)

    def sender(self, transports: dict[str, Transport] | None = None, *, console: TextIO | None = None) -> OutboxSender:
        return OutboxSender(
            self.engine,
            transports if transports is not None else build_transports(self.settings, console=console, engine=self.engine),
            alert_recipient=self.router.alert(),
        )


def open_runtime(settings: Settings, *, writing: bool = True) -> Runtime:
    """Everything wired on a current schema; ``writing=False`` for commands that only read
    (a read-only database, no migration when current: see store.db.open_database)."""
    engine = open_database(settings.resolved_database_url(), writing=writing)
    cases = CaseService(engine, settings)
    return Runtime(settings, engine, cases, Router(settings), cases.policy)
