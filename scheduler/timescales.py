"""Statutory timescales as data: loading and validating config/timescales.toml.

The rules a partnership may change (how many working days, counted from which event, which
milestone meets them, and where the rule comes from) live in a TOML file, not in code. This
module only knows the vocabulary those rules may use and refuses a file that uses anything else,
naming the entry and field, so a typo cannot silently move a statutory deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from config import ConfigFileError, parse_toml, read_text


class Event(StrEnum):
    """Moments a clock can count from."""

    LA_AWARE = "la_aware"
    PARTNERS_AWARE = "partners_aware"
    PANEL_NOTIFIED = "panel_notified"
    RAPID_REVIEW_SENT = "rapid_review_sent"
    DECISION_TO_INITIATE = "decision_to_initiate"
    PLANNED_PUBLICATION = "planned_publication"


EVENT_DESCRIPTIONS: dict[Event, str] = {
    Event.LA_AWARE: "the LA became aware",
    Event.PARTNERS_AWARE: "the safeguarding partners became aware",
    Event.PANEL_NOTIFIED: "the Panel was notified",
    Event.RAPID_REVIEW_SENT: "the rapid review was sent to the Panel",
    Event.DECISION_TO_INITIATE: "the decision to initiate a local review",
    Event.PLANNED_PUBLICATION: "the planned publication date",
}


class Milestone(StrEnum):
    """What a partnership records as having happened on a case."""

    PARTNERS_AWARE = "partners_aware"
    PANEL_NOTIFIED = "panel_notified"
    PARTNERS_NOTIFIED = "partners_notified"
    NOTIFICATION_NOT_REQUIRED = "notification_not_required"
    RAPID_REVIEW_SENT = "rapid_review_sent"
    PANEL_RESPONDED = "panel_responded"
    DECISION_LOCAL_REVIEW = "decision_local_review"
    DECISION_NO_REVIEW = "decision_no_review"
    DECISION_NATIONAL_REVIEW = "decision_national_review"
    PUBLICATION_PLANNED = "publication_planned"
    FINAL_REPORT_SENT = "final_report_sent"
    PUBLISHED = "published"
    # Appended (issue 10): the steps the seeds name that had no milestone.
    SOS_OFSTED_NOTIFIED = "sos_ofsted_notified"
    RAPID_REVIEW_DELAY_NOTIFIED = "rapid_review_delay_notified"
    PANEL_REQUESTED_INFORMATION = "panel_requested_information"
    PANEL_INFORMATION_SENT = "panel_information_sent"
    PANEL_DECIDED_NATIONAL_REVIEW = "panel_decided_national_review"
    LCSPR_COMMISSION_NOTIFIED = "lcspr_commission_notified"
    PUBLICATION_DELAY_NOTIFIED = "publication_delay_notified"
    LEARNING_REQUEST_DECIDED = "learning_request_decided"
    # Appended (issue 15): the Panel's response says whether it agrees with the partnership's
    # decision on a local review; the yearly report counts it. Either one is the response.
    PANEL_AGREED = "panel_agreed"
    PANEL_DISAGREED = "panel_disagreed"


class StepCondition(StrEnum):
    """When a step runs on a case at all (``runs_when``; every listed condition must hold).

    The lifecycle decides each from the case's facts: its criteria decision and the core's
    ``also_notify`` (bot/core/criteria.py), its request type and its planned publication.
    """

    # The case may be a serious incident: no criteria decision of ``not_required`` and not a
    # learning request (Tees: used "where the criteria for a serious incident notification is
    # not met"). A case with no answers keeps every step.
    SERIOUS_INCIDENT = "serious_incident"
    # The criteria evaluation says the Secretary of State and Ofsted must also be notified (a
    # looked-after child's death; a care leaver's death).
    SOS_OFSTED = "sos_ofsted"
    # The case is a learning request.
    LEARNING_REQUEST = "learning_request"
    # The planned publication date is later than the six-month publication date.
    LATE_PUBLICATION = "late_publication"


class Basis(StrEnum):
    STATUTORY = "statutory"
    STATUTORY_GUIDANCE = "statutory_guidance"
    PANEL_GUIDANCE = "panel_guidance"
    PANEL_AIM = "panel_aim"
    # No seed sets this timescale: a default of this bot that the partnership should set.
    LOCAL_PRACTICE = "local_practice"


# A timescale on this basis is another body's aim, not the partnership's duty: it is shown as
# awaited (never missed or overdue) and chased, not escalated.
AWAITED_BASES = frozenset({Basis.PANEL_AIM})


RuleKind = Literal["working_days_after", "working_days_before", "calendar_months_after"]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: RuleKind
    amount: int = Field(ge=0, le=400)

    def describe(self, counts_from: Event) -> str:
        """A sentence a practitioner reads: "5 working days after the LA became aware"."""
        unit = {
            "working_days_after": ("working day", "after"),
            "working_days_before": ("working day", "before"),
            "calendar_months_after": ("calendar month", "after"),
        }[self.kind]
        if self.amount == 0 and self.kind == "working_days_after":
            return f"as soon as {EVENT_DESCRIPTIONS[counts_from]} (that working day)"
        noun = unit[0] if self.amount == 1 else unit[0] + "s"
        return f"{self.amount} {noun} {unit[1]} {EVENT_DESCRIPTIONS[counts_from]}"


SOURCE_MAX = 500


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    document: str = Field(min_length=3)
    section: str = Field(min_length=3)

    @model_validator(mode="after")
    def _fits(self) -> Source:
        # The citation is stored with every deadline (deadline.source, 500 characters).
        if len(self.cite()) > SOURCE_MAX:
            raise ValueError(f"document and section together exceed {SOURCE_MAX} characters")
        return self

    def cite(self) -> str:
        return f"{self.document}, {self.section}"


class Timescale(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=3)
    counts_from: Event
    allowed_counts_from: tuple[Event, ...] = ()
    rule: Rule
    met_by: Milestone
    # Other milestones that also meet it (the Panel's response: a request for more information
    # or its decision to hold a national review is a response too).
    met_by_any: tuple[Milestone, ...] = ()
    not_applicable_when: tuple[Milestone, ...] = ()
    basis: Basis
    source: Source
    runs_when: tuple[StepCondition, ...] = ()
    # Another timescale's key: until counts_from is known, the due date is counted from that
    # timescale's due date instead and shown as provisional (the final report: 7 working days
    # before the six-month publication date, until a publication date is planned).
    provisional_from: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")

    @model_validator(mode="after")
    def _anchor_allowed(self) -> Timescale:
        if self.allowed_counts_from and self.counts_from not in self.allowed_counts_from:
            raise ValueError(
                f"counts_from {self.counts_from.value!r} is not one of "
                f"{[e.value for e in self.allowed_counts_from]}"
            )
        return self

    def describe_rule(self) -> str:
        return self.rule.describe(self.counts_from)


class TimescaleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timescale: list[Timescale]

    @field_validator("timescale")
    @classmethod
    def _unique_keys(cls, value: list[Timescale]) -> list[Timescale]:
        seen: set[str] = set()
        for item in value:
            if item.key in seen:
                raise ValueError(f"duplicate timescale key {item.key!r}")
            if item.provisional_from is not None and item.provisional_from not in seen:
                raise ValueError(
                    f"timescale {item.key!r}: provisional_from {item.provisional_from!r} must name "
                    "a timescale listed before it"
                )
            seen.add(item.key)
        return value


REQUIRED_KEYS = (
    "panel_notification",
    "partners_notification",
    "rapid_review",
    "panel_response",
    "lcspr_publication",
    "final_report_to_panel",
)


class TimescaleConfigError(ConfigFileError):
    """The timescale file cannot be used; the message names the file, entry and field."""


@dataclass(frozen=True)
class Timescales:
    """The validated set of timescales, in the order the file lists them."""

    items: tuple[Timescale, ...]
    origin: str

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def get(self, key: str) -> Timescale:
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(key)

    def keys(self) -> list[str]:
        return [item.key for item in self.items]

    def with_counts_from(self, key: str, counts_from: Event) -> Timescales:
        """A copy where ``key`` counts from another event (a partnership's choice).

        Refused unless the file lists that event in the entry's ``allowed_counts_from``.
        """
        current = self.get(key)
        allowed = current.allowed_counts_from or (current.counts_from,)
        if counts_from not in allowed:
            raise TimescaleConfigError(
                f"{key} may count from {[e.value for e in allowed]}, not {counts_from.value!r}"
            )
        replaced = current.model_copy(update={"counts_from": counts_from})
        return Timescales(
            tuple(replaced if item.key == key else item for item in self.items), self.origin
        )


def _format_error(origin: str, data: dict, error: ValidationError) -> str:
    first = error.errors()[0]
    loc = list(first["loc"])
    where = ".".join(str(part) for part in loc)
    if len(loc) >= 2 and loc[0] == "timescale" and isinstance(loc[1], int):
        try:
            key = data["timescale"][loc[1]].get("key", f"#{loc[1] + 1}")
        except (KeyError, IndexError, AttributeError):
            key = f"#{loc[1] + 1}"
        rest = ".".join(str(part) for part in loc[2:])
        where = f"timescale {key!r}" + (f" field {rest!r}" if rest else "")
    return f"{origin}: {where}: {first['msg']}"


def parse_timescales(text: str, origin: str = "timescales.toml") -> Timescales:
    """Validate TOML text into Timescales or raise TimescaleConfigError with one clear line."""
    try:
        data = parse_toml(text, origin)
    except ConfigFileError as exc:
        raise TimescaleConfigError(str(exc)) from None
    try:
        parsed = TimescaleFile.model_validate(data)
    except ValidationError as exc:
        raise TimescaleConfigError(_format_error(origin, data, exc)) from None
    keys = {item.key for item in parsed.timescale}
    missing = [key for key in REQUIRED_KEYS if key not in keys]
    if missing:
        raise TimescaleConfigError(f"{origin}: required timescale(s) missing: {', '.join(missing)}")
    return Timescales(tuple(parsed.timescale), origin)


def load_timescales(path: Path | None = None) -> Timescales:
    """The partnership's file if given, else the embedded config/timescales.toml."""
    try:
        text, origin = read_text("timescales.toml", path)
    except ConfigFileError as exc:
        raise TimescaleConfigError(str(exc)) from None
    return parse_timescales(text, origin)
