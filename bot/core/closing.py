"""When a case ends: the closing rule. Pure domain code.

A case is closed once every deadline is done (met, missed, i.e. done late, or not applicable)
and it has reached an end:

- the incident did not meet the notification criteria (notification-not-required, or the
  case's criteria answers give the decision not_required);
- no local review was decided and the Panel has responded to the rapid review;
- the local review was published.

When a partnership's case *file* is closed is the bot's own rule (issue 11): no seed document
defines a closure. Each end rests on what the seeds say the last step is:

- notification not required: the s16C(1) duty applies only "if the child dies or is seriously
  harmed" where abuse or neglect is known or suspected (seeds/001, Working Together chapter 4);
  an incident that does not meet it starts no rapid review;
- no local review: "the rapid review should conclude with a decision about whether an LCSPR
  should be commissioned" (seeds/002, Serious Incident Notifications ... Process, October 2024)
  and "on receipt of the information from the rapid review, the Panel will decide whether it is
  appropriate to commission a national review" (seeds/001), hence the Panel's response too;
- published: "the report should be completed and published as soon as possible and no later
  than 6 months from the date of the decision to initiate a review" (seeds/001). Anything else ends by a person's
decision: ``close`` with a reason, which marks the steps still open not applicable.
A withdrawn case (opened by mistake, a duplicate) runs no deadlines at all.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

from bot.core.lifecycle import CaseFacts, DeadlineState, DeadlineStatus
from scheduler.timescales import Milestone


# The Panel's response to the rapid review, however it is recorded (a request for more
# information is not yet its response).
PANEL_RESPONSES = (
    Milestone.PANEL_RESPONDED,
    Milestone.PANEL_AGREED,
    Milestone.PANEL_DISAGREED,
    Milestone.PANEL_DECIDED_NATIONAL_REVIEW,
)


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


STATUSES = tuple(s.value for s in CaseStatus)


def end_reached(facts: CaseFacts) -> str | None:
    """The end the case has reached, in words, or None."""
    if facts.has(Milestone.NOTIFICATION_NOT_REQUIRED):
        return "notification not required"
    if facts.decision == "not_required":
        # The case's criteria answers settle it (case open/assess --answer): the same end,
        # reached by the recorded assessment rather than the milestone.
        return "notification not required (criteria answers)"
    if facts.has(Milestone.DECISION_NO_REVIEW) and any(facts.has(m) for m in PANEL_RESPONSES):
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
