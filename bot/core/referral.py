"""What a referral form says, once read: the ``Referral`` record and its JSON form.

The JSON keys are a contract (``safeguard-bot parse-referral --json``): keys may be added, never
renamed or removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

REQUEST_TYPES = ("serious_incident_notification", "learning_request")
CHILD_STATUSES = (
    "not_known_to_csc",
    "early_help",
    "yot",
    "child_in_need",
    "child_protection",
    "looked_after",
)
INCIDENT_NATURES = ("died", "serious_harm")  # "Nature of incident: Death [X] Serious harm [ ]"


@dataclass
class Referrer:
    name: str | None = None
    agency: str | None = None
    email: str | None = None
    role: str | None = None
    phone: str | None = None


@dataclass
class Child:
    name: str | None = None
    date_of_birth: date | None = None
    nhs_number: str | None = None
    address: str | None = None
    gender: str | None = None


@dataclass
class Referral:
    """One referral form. Missing or doubtful fields are listed in ``warnings``, never raised."""

    request_type: str | None = None
    referrer: Referrer = field(default_factory=Referrer)
    child: Child = field(default_factory=Child)
    submission_date: date | None = None
    incident_date: date | None = None
    aware_date: date | None = None
    child_status: list[str] = field(default_factory=list)
    # What the form states beside a ticked status ("Known to Early Help Services (Please State)
    # [X] Northtown Family Hub" -> {"early_help": "Northtown Family Hub"}).
    child_status_details: dict[str, str] = field(default_factory=dict)
    incident_nature: list[str] = field(default_factory=list)
    parents_carers: list[str] = field(default_factory=list)
    siblings: list[str] = field(default_factory=list)
    gp: str | None = None
    # The notifying local authority the form names (the case service keeps it when it is one of
    # the partnership's local_authorities).
    local_authority: str | None = None
    agencies: list[dict[str, str]] = field(default_factory=list)
    relevant_others: list[dict[str, str]] = field(default_factory=list)
    summary: str | None = None
    warnings: list[str] = field(default_factory=list)
    # The message's attachments: position, type and file name. The file name can name the
    # child, so it lives here (the case record) and nowhere else: reasons and warnings refer to
    # an attachment by position and type.
    attachments: list[dict[str, Any]] = field(default_factory=list)
    source_format: str = ""
    content_sha256: str = ""
    fields_found: int = 0
    # The criteria answers the form settles (the keys of ``safeguard-bot criteria --answer``),
    # so the mail intake can record them on the case: see ``criteria_answers``.
    answers: dict[str, str] = field(default_factory=dict)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def as_json(self) -> dict[str, Any]:
        def iso(day: date | None) -> str | None:
            return day.isoformat() if day else None

        return {
            "request_type": self.request_type,
            "referrer": {
                "name": self.referrer.name,
                "agency": self.referrer.agency,
                "email": self.referrer.email,
                "role": self.referrer.role,
                "phone": self.referrer.phone,
            },
            "child": {
                "name": self.child.name,
                "date_of_birth": iso(self.child.date_of_birth),
                "nhs_number": self.child.nhs_number,
                "address": self.child.address,
                "gender": self.child.gender,
            },
            "submission_date": iso(self.submission_date),
            "incident_date": iso(self.incident_date),
            "aware_date": iso(self.aware_date),
            "child_status": list(self.child_status),
            "child_status_details": dict(self.child_status_details),
            "incident_nature": list(self.incident_nature),
            "parents_carers": list(self.parents_carers),
            "siblings": list(self.siblings),
            "gp": self.gp,
            "local_authority": self.local_authority,
            "agencies": [dict(a) for a in self.agencies],
            "relevant_others": [dict(o) for o in self.relevant_others],
            "summary": self.summary,
            "warnings": list(self.warnings),
            "attachments": [dict(a) for a in self.attachments],
            "source_format": self.source_format,
            "content_sha256": self.content_sha256,
            "answers": dict(self.answers),
        }


def age_band(born: date, on: date) -> str | None:
    """The criteria's ``age`` answer for someone born on ``born``, on the day ``on``: under_18,
    18_to_24 or 25_or_over (None when ``on`` is before the birth)."""
    if on < born:
        return None
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    if years < 18:
        return "under_18"
    return "18_to_24" if years < 25 else "25_or_over"


def criteria_answers(ref: Referral) -> dict[str, str]:
    """The criteria answers a form's own fields settle without doubt; anything else is left for
    a person to answer, because a wrong answer here would silently decide a statutory question.

    - ``age``: from the date of birth, on the date of death / incident (else the date of
      awareness), since what counts is the age when the child died or was harmed.
    - ``looked_after``: yes when "Looked After Child" is ticked; no when only "Not Known to
      Children's Social Care" is (a looked-after child is known to it). Other statuses say
      nothing about it: a form may tick one status of several.
    - ``family_known_to_csc`` (the Tees question): yes when "Child Protection" is ticked (a plan
      exists because of a current concern about abuse or neglect); no when only "Not Known to
      Children's Social Care" is. Early help or child in need need not mean abuse or neglect.
    - ``harm``: died or serious_harm when the form ticks exactly one of them ("Nature of
      incident"); a date of death / incident alone does not say which.
    - A looked-after tick beside a date of birth that makes the person 18 or over cannot both
      be right: neither is kept and the referral says so.
    Abuse or neglect and location are never read from the form: they are judgements.
    """
    answers: dict[str, str] = {}
    on = ref.incident_date or ref.aware_date
    if ref.child.date_of_birth is not None and on is not None:
        band = age_band(ref.child.date_of_birth, on)
        if band is not None:
            answers["age"] = band
    if len(ref.incident_nature) == 1:
        answers["harm"] = ref.incident_nature[0]
    statuses = set(ref.child_status)
    if statuses == {"not_known_to_csc"}:
        answers["looked_after"] = "no"
        answers["family_known_to_csc"] = "no"
    elif "not_known_to_csc" not in statuses:
        if "looked_after" in statuses:
            answers["looked_after"] = "yes"
        if "child_protection" in statuses:
            answers["family_known_to_csc"] = "yes"
    if answers.get("looked_after") == "yes" and answers.get("age", "under_18") != "under_18":
        del answers["looked_after"]
        del answers["age"]
        ref.warn("'Looked After Child' is ticked but the date of birth makes the person 18 or over: "
                 "neither is recorded as a criteria answer")
    return answers
