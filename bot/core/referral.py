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
    parents_carers: list[str] = field(default_factory=list)
    siblings: list[str] = field(default_factory=list)
    gp: str | None = None
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
            "parents_carers": list(self.parents_carers),
            "siblings": list(self.siblings),
            "gp": self.gp,
            "agencies": [dict(a) for a in self.agencies],
            "relevant_others": [dict(o) for o in self.relevant_others],
            "summary": self.summary,
            "warnings": list(self.warnings),
            "attachments": [dict(a) for a in self.attachments],
            "source_format": self.source_format,
            "content_sha256": self.content_sha256,
        }
