"""Corrections to a case's record: a milestone's date amended, a milestone voided, the
awareness date corrected. Pure domain code.

A correction is checked by replaying the whole corrected record through the same rule that
records milestones (``lifecycle.record``: order, requirements, not before awareness), in the
order the milestones were recorded, so a corrected value can never leave the case in a state
that recording could not have produced: amending panel-notified to after the rapid review was
sent, or voiding panel-notified while the rapid review stays recorded, is refused in one line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from bot.core.lifecycle import (
    CaseFacts,
    LifecycleError,
    awareness_warnings,
    check_awareness,
    milestone_warnings,
    record,
)
from scheduler.timescales import Milestone


@dataclass(frozen=True)
class Entry:
    """One milestone as recorded: its row id (to name it in a correction), kind and date."""

    id: int
    kind: Milestone
    on: date


def replay(la_aware: date, entries: Iterable[Entry], *, incident: date | None = None) -> CaseFacts:
    """The case rebuilt from its awareness date and milestones, each checked as if recorded
    again in order; LifecycleError (one line) names the first that no longer fits."""
    check_awareness(la_aware, incident)
    facts = CaseFacts(la_aware=la_aware)
    for entry in entries:
        facts = record(facts, entry.kind, entry.on)
    return facts


def check_reason(reason: str | None) -> str:
    """Every correction, closure and withdrawal says why (it goes into the audit log)."""
    cleaned = (reason or "").strip()
    if not cleaned:
        raise LifecycleError("a reason is required (--reason TEXT)")
    if len(cleaned) > 500:
        raise LifecycleError("the reason is longer than 500 characters")
    return cleaned


def amended(entries: list[Entry], target: int, on: date) -> list[Entry]:
    """The entries with entry ``target`` dated ``on``."""
    return [Entry(e.id, e.kind, on) if e.id == target else e for e in entries]


def without(entries: list[Entry], target: int) -> list[Entry]:
    """The entries with entry ``target`` voided."""
    return [e for e in entries if e.id != target]


def find(entries: list[Entry], kind: Milestone, reference: str) -> Entry:
    """The latest recorded entry of ``kind`` (a repeatable milestone's last one): the one a
    correction names by its milestone key."""
    found = [e for e in entries if e.kind == kind]
    if not found:
        raise LifecycleError(f"{reference} has no {kind.value.replace('_', '-')} recorded")
    return found[-1]


def correction_warnings(kind: Milestone | None, on: date, today: date | None) -> tuple[str, ...]:
    """The recording rule's future-date warning, for a corrected value."""
    if kind is None:
        return awareness_warnings(on, today)
    return milestone_warnings(kind, on, today)
