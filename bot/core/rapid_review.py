"""The rapid review as a run process: its timeline and the rules on its progress. Pure.

The 15 working days of a rapid review are where partnerships lose time (issue 14). The national
rule is only the end date (config/timescales.toml ``rapid_review``); the steps in between are
local practice (config/rapid_review.toml, the Devon/Dorset and BSCP patterns), so every step
here is shown as local practice and never as statute.

What lives here, and nowhere else: loading and validating the timeline, the due date of each
step, whether an agency's summary is requested, returned or late, when a late agency is chased
or escalated, what a step's done date is from the facts, the sign-off rule for "sent to the
Panel" and the one-line progress ("4 of 6 agencies returned, 1 of 3 sign-offs, meeting Tue
15 Dec") that the CLI, ``case show``, the digest and App Home all show.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from config import ConfigFileError, read_toml
from scheduler.calendar import WorkingCalendar

ACTIONS = ("requests", "returns", "chase", "escalate", "meeting", "draft", "signoff", "sent")
PARTNER_ROLES = ("local_authority", "police", "health")
PARTNER_LABELS = {"local_authority": "Local authority", "police": "Police", "health": "Health (ICB)"}
REQUESTED, RETURNED, LATE = "requested", "returned", "late"
LOCAL_PRACTICE = "local_practice"
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class RapidReviewConfigError(ConfigFileError):
    """The rapid review timeline cannot be used; one line naming the file and the bad key."""


class RapidReviewError(ValueError):
    """A rapid review change that cannot be made (one line for the person who asked)."""


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    day: int
    action: str
    source: str  # "document, section": cited wherever the step is shown
    basis: str = LOCAL_PRACTICE


@dataclass(frozen=True)
class Timeline:
    steps: tuple[Step, ...]
    request_cover: tuple[str, ...]
    request_secure: str
    request_source: str
    origin: str = "config/rapid_review.toml"

    def step_for(self, action: str) -> Step | None:
        return next((s for s in self.steps if s.action == action), None)

    def day_of(self, action: str, default: int) -> int:
        step = self.step_for(action)
        return step.day if step else default

    def dues(self, start: date, calendar: WorkingCalendar) -> dict[str, date]:
        """Each step's due date: the step's ``day``-th working day after ``start`` (day 0)."""
        return {s.key: calendar.add_working_days(start, s.day) for s in self.steps}


def parse_timeline(data: Mapping[str, Any], origin: str) -> Timeline:
    """Validate a parsed rapid_review.toml (RapidReviewConfigError names the bad key)."""

    def bad(where: str, why: str) -> RapidReviewConfigError:
        return RapidReviewConfigError(f"{origin}: {where}: {why}")

    sources = data.get("sources") or {}
    if not isinstance(sources, dict):
        raise bad("sources", "must be a table")

    def cite(where: str, source_id: Any) -> str:
        entry = sources.get(source_id) if isinstance(source_id, str) else None
        if not isinstance(entry, dict) or not entry.get("document") or not entry.get("section"):
            raise bad(where, f"source {source_id!r} is not a [sources] entry with document and section")
        return f"{entry['document']}, {entry['section']}"

    raw_steps = data.get("step")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise bad("step", "at least one [[step]] is needed")
    steps: list[Step] = []
    for index, raw in enumerate(raw_steps):
        where = f"step[{index}]"
        if not isinstance(raw, dict):
            raise bad(where, "must be a table")
        unknown = set(raw) - {"key", "label", "day", "basis", "source", "action"}
        if unknown:
            raise bad(where, f"unknown field(s) {', '.join(sorted(unknown))}")
        key = raw.get("key")
        if not isinstance(key, str) or not _KEY.match(key):
            raise bad(f"{where}.key", "must be lower-case letters, digits and _ (1 to 40)")
        where = f"step {key}"
        if any(s.key == key for s in steps):
            raise bad(where, "the key is used twice")
        label = raw.get("label")
        if not isinstance(label, str) or not label.strip():
            raise bad(f"{where}.label", "is required")
        day = raw.get("day")
        if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 60:
            raise bad(f"{where}.day", "must be a whole number of working days from 0 to 60")
        basis = raw.get("basis", LOCAL_PRACTICE)
        if basis != LOCAL_PRACTICE:
            raise bad(f"{where}.basis", "must be local_practice: these steps are never statute")
        action = raw.get("action")
        if action not in ACTIONS:
            raise bad(f"{where}.action", f"must be one of {', '.join(ACTIONS)}")
        if any(s.action == action for s in steps):
            raise bad(f"{where}.action", f"{action} is the action of another step too")
        steps.append(Step(key, label.strip(), day, action, cite(f"{where}.source", raw.get("source"))))
    for before, after in itertools.pairwise(steps):
        if after.day < before.day:
            raise bad(f"step {after.key}.day", f"is before the step above it ({before.key}, day {before.day})")
    request = data.get("request") or {}
    cover = request.get("cover") or []
    if not isinstance(cover, list) or not all(isinstance(c, str) and c.strip() for c in cover) or not cover:
        raise bad("request.cover", "must be a list of what agencies are asked to cover")
    secure = request.get("secure") or ""
    if not isinstance(secure, str):
        raise bad("request.secure", "must be text")
    return Timeline(tuple(steps), tuple(c.strip() for c in cover), secure.strip(),
                    cite("request.source", request.get("source")), origin)


def load_timeline(path: Path | None = None) -> Timeline:
    """The embedded config/rapid_review.toml, or a partnership's own copy."""
    try:
        data, origin = read_toml("rapid_review.toml", path)
    except ConfigFileError as exc:
        raise RapidReviewConfigError(str(exc)) from None
    return parse_timeline(data, origin)


# Agencies -----------------------------------------------------------------------------------


def agency_status(due: date, returned_on: date | None, today: date) -> str:
    """requested | returned | late: late from the day after the summary was due."""
    if returned_on is not None:
        return RETURNED
    return LATE if today > due else REQUESTED


@dataclass(frozen=True)
class AgencyFacts:
    agency: str
    requested_on: date
    due: date
    returned_on: date | None = None
    chased_on: date | None = None
    escalated_on: date | None = None


def to_chase(agencies: Iterable[AgencyFacts], chase_on: date, today: date) -> list[str]:
    """The agencies to chase today: late, not chased yet, and the chase step's day has come."""
    if today < chase_on:
        return []
    return [a.agency for a in agencies
            if agency_status(a.due, a.returned_on, today) == LATE and a.chased_on is None]


def to_escalate(agencies: Iterable[AgencyFacts], escalate_on: date, today: date) -> list[str]:
    """The agencies to escalate to the partnership today: still late on or after the
    escalation step's day, and not escalated yet."""
    if today < escalate_on:
        return []
    return [a.agency for a in agencies
            if agency_status(a.due, a.returned_on, today) == LATE and a.escalated_on is None]


# Steps and progress --------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """What a rapid review holds, as the rules need it."""

    started_on: date
    agencies: tuple[AgencyFacts, ...]
    signoffs: Mapping[str, date]  # partner role -> the day they signed off
    meeting_on: date | None = None
    draft_on: date | None = None
    sent_on: date | None = None
    chase_run_on: date | None = None
    escalate_run_on: date | None = None
    partners_needed: int = 3
    done: Mapping[str, date] = field(default_factory=dict)


def step_done_on(step: Step, progress: Progress, today: date) -> date | None:
    """When a step was done, from the facts (None while it is not)."""
    agencies = progress.agencies
    if step.action == "requests":
        return min((a.requested_on for a in agencies), default=None)
    if step.action == "returns":
        if agencies and all(a.returned_on for a in agencies):
            return max(a.returned_on for a in agencies if a.returned_on)
        return None
    if step.action == "chase":
        return progress.chase_run_on
    if step.action == "escalate":
        return progress.escalate_run_on
    if step.action == "meeting":
        return progress.meeting_on if progress.meeting_on and progress.meeting_on <= today else None
    if step.action == "draft":
        return progress.draft_on
    if step.action == "signoff":
        if len(progress.signoffs) >= progress.partners_needed:
            return max(progress.signoffs.values())
        return None
    if step.action == "sent":
        return progress.sent_on
    return progress.done.get(step.key)


def check_sent(signoffs: int, reason: str | None, needed: int = 3) -> str | None:
    """"Sent to the Panel" needs the three safeguarding partners' sign-off (seed 002: "Signed by
    the three safeguarding partners"); with fewer, a reason is required and returned cleaned."""
    cleaned = " ".join((reason or "").split()) or None
    if signoffs < needed and cleaned is None:
        raise RapidReviewError(
            f"only {signoffs} of {needed} safeguarding partners have signed off: "
            "say why it is sent without them (--reason)"
        )
    if cleaned is not None and len(cleaned) > 500:
        raise RapidReviewError("the reason is longer than 500 characters")
    return cleaned


def progress_line(returned: int, requested: int, signoffs: int, meeting_on: date | None,
                  needed: int = 3) -> str:
    """"4 of 6 agencies returned, 1 of 3 sign-offs, meeting Tue 15 Dec"."""
    meeting = f"meeting {meeting_on:%a} {meeting_on.day} {meeting_on:%b}" if meeting_on else "no meeting set"
    return f"{returned} of {requested} agencies returned, {signoffs} of {needed} sign-offs, {meeting}"


_SIGNOFF_WORDS = re.compile(
    r"\b(approved?|agreed?|sign(?:ed)?[ -]?off|i sign|confirmed?|yes)\b", re.IGNORECASE
)


def reply_signs_off(text: str) -> bool:
    """Whether a partner's reply says they sign off: a word of approval in what they wrote
    (the quoted request below it, lines starting with '>', and anything after the usual
    "On ... wrote:" line are not theirs). "not approved" is not approval."""
    own: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith((">", "-----Original")) or re.match(r"^On .+wrote:$", stripped):
            break
        own.append(stripped)
    words = " ".join(own)
    if re.search(r"\b(not|don't|do not|cannot|can't|won't)\s+(yet\s+)?(approve|agree|sign)", words, re.IGNORECASE):
        return False
    return bool(_SIGNOFF_WORDS.search(words))


def check_agencies(wanted: Sequence[str], known: Sequence[str]) -> list[str]:
    """The agency keys asked for, each known, none twice (one line listing the known ones)."""
    if not known:
        raise RapidReviewError(
            "the partnership has no agencies configured ([[partnerships.agencies]] in the settings)"
        )
    chosen: list[str] = []
    for key in wanted:
        key = key.strip()
        if not key:
            continue
        if key not in known:
            raise RapidReviewError(f"unknown agency {key!r}; configured: {', '.join(known)}")
        if key not in chosen:
            chosen.append(key)
    if not chosen:
        raise RapidReviewError("no agency named (--agencies KEY,KEY...)")
    return chosen
