"""When a case ends: the closing rule. Pure domain code.

A case is closed once every deadline is done (met, missed, i.e. done late, or not applicable)
and it has reached an end:

- the incident did not meet the notification criteria (notification-not-required);
- no local review was decided and the Panel has responded to the rapid review;
- the local review was published.

This is the rule issue 11 sets for the bot; no seed document defines when a partnership's
case file is closed (Working Together 2023 chapter 5 sets the steps and their timescales, not
a closure), so it is marked here as the bot's own rule. Anything else ends by a person's
decision: ``close`` with a reason, which marks the steps still open not applicable.
A withdrawn case (opened by mistake, a duplicate) runs no deadlines at all.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

from bot.core.lifecycle import CaseFacts, DeadlineState, DeadlineStatus
from scheduler.timescales import Milestone


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


STATUSES = tuple(s.value for s in CaseStatus)


def end_reached(facts: CaseFacts) -> str | None:
    """The end the case has reached, in words, or None."""
    if facts.has(Milestone.NOTIFICATION_NOT_REQUIRED):
        return "notification not required"
    if facts.has(Milestone.DECISION_NO_REVIEW) and facts.has(Milestone.PANEL_RESPONDED):
        return "no local review decided and the Panel has responded"
    if facts.has(Milestone.PUBLISHED):
        return "local review published"
    return None


def open_steps(states: list[DeadlineState]) -> list[DeadlineState]:
    return [s for s in states if s.status is DeadlineStatus.OPEN]


def closes_itself(facts: CaseFacts, states: list[DeadlineState]) -> str | None:
    """Why the case is now closed by the rule (every deadline done and an end reached), or None."""
    end = end_reached(facts)
    if end is None or open_steps(states):
        return None
    return end


def with_status(states: list[DeadlineState], status: str) -> list[DeadlineState]:
    """The deadlines as a case of ``status`` runs them: a closed or withdrawn case has no open
    step (what was open is not applicable); an open case's are as derived."""
    if status == CaseStatus.OPEN:
        return states
    return [
        replace(s, status=DeadlineStatus.NOT_APPLICABLE) if s.status is DeadlineStatus.OPEN else s
        for s in states
    ]


def check_status(value: str) -> str:
    from bot.core.lifecycle import LifecycleError

    cleaned = value.strip().lower()
    if cleaned != "all" and cleaned not in STATUSES:
        raise LifecycleError(f"unknown status {value!r}; expected one of: {', '.join(STATUSES)}, all")
    return cleaned
