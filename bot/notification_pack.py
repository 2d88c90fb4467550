"""The notification pack: everything the DfE online notification form asks for, in one text.

The Child safeguarding incident notification system times out after 20 minutes and saves
nothing, so a notifier gathers the answers first and pastes them in. The headings follow the
service's "before you start" list and the fields DfE publishes in its notification statistics
(shared/domain-facts.md §3), and every field the partnership's referral form carries (the Tees
form, seed 004) is carried over; fields the current form may also ask for but that could not be
verified are marked as such. Dates are written as the forms write them (DD/MM/YYYY). This text
contains the child's details: it is for the notifier's terminal only, never for a channel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from bot.cases import CaseView
from bot.core.lifecycle import DeadlineState, DeadlineStatus
from bot.settings import PartnershipSettings

MISSING = "[not recorded: fill in]"

STATUS_LABELS = {
    "not_known_to_csc": "Not known to children's social care",
    "early_help": "Known to early help services",
    "yot": "Known to the youth offending team",
    "child_in_need": "Child in need",
    "child_protection": "Child protection plan",
    "looked_after": "Looked-after child",
}

# The criteria answers (bot/core/criteria.py's keys) as the form's questions put them.
HARM_LABELS = {
    "died": "Child death",
    "serious_harm": "Serious harm",
    "not_serious": "Harm, not serious",
    "unsure": "Not yet known whether serious",
}
ABUSE_LABELS = {
    "known": "Known",
    "suspected": "Suspected",
    "not_suspected": "Not known or suspected",
    "unsure": "Not yet known",
}
LOCATION_LABELS = {
    "in_area": "In the local authority's area",
    "resident_harmed_outside_england": "Outside England; the child normally lives in the area",
    "elsewhere_in_england": "Elsewhere in England",
    "outside_area_not_resident": "Outside the area; the child does not live in it",
}
REQUEST_LABELS = {
    "serious_incident_notification": "Serious incident notification request",
    "learning_request": "Learning request",
}
YES_NO = {"yes": "Yes", "no": "No"}


def _get(data: Mapping[str, Any], *path: str) -> Any:
    value: Any = data
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _text(value: Any) -> str:
    if value in (None, "", [], {}):
        return MISSING
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def form_date(value: Any) -> str:
    """A date as the referral and notification forms write it: 04/01/2012."""
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    try:
        return date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    except ValueError:
        return _text(value)


def _age(dob: Any, on: date) -> str:
    try:
        born = date.fromisoformat(str(dob))
    except ValueError:
        return MISSING
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return f"{years}" if years >= 1 else f"under 1 ({(on - born).days} days)"


def _records(rows: Any, fields: Iterable[str]) -> str:
    """Agencies or relevant others, one per line, never a Python dict."""
    if not isinstance(rows, list) or not rows:
        return MISSING
    lines = []
    for row in rows:
        if isinstance(row, Mapping):
            parts = [str(row[f]).replace("\n", ", ") for f in fields if row.get(f)]
            lines.append(", ".join(parts))
        elif row:
            lines.append(str(row))
    return ("\n    " + "\n    ".join(lines)) if lines else MISSING


def _answer(view: CaseView, details: Mapping[str, Any], key: str, labels: Mapping[str, str]) -> str:
    """A criteria answer: the case's own (case open/assess), else one the details carry."""
    value = view.answers.get(key) or _get(details, "criteria", key)
    return labels.get(value, _text(value)) if value else MISSING


def _step_state(state: DeadlineState | None, view: CaseView, what: str) -> str:
    """Where a step stands, in words that do not claim more than the record says."""
    if state is None:
        if view.decision == "not_required":
            return f"{what}: not applicable (the criteria decision is not_required)"
        return f"{what}: not applicable to this case"
    due = f"{what} by {state.deadline.due:%A} {form_date(state.deadline.due)} ({state.deadline.rule}"
    if state.status in (DeadlineStatus.MET, DeadlineStatus.MISSED) and state.completed_on:
        return f"{due}; recorded as sent on {form_date(state.completed_on)})."
    if state.status is DeadlineStatus.NOT_APPLICABLE:
        return f"{due}; not applicable: notification-not-required is recorded)."
    return f"{due}; open)."


def _statuses(details: Mapping[str, Any]) -> str:
    statuses = [str(s) for s in (_get(details, "child_status") or [])]
    stated = _get(details, "child_status_details") or {}
    labels = []
    for status in statuses:
        label = STATUS_LABELS.get(status, status)
        extra = stated.get(status) if isinstance(stated, Mapping) else None
        labels.append(f"{label} ({extra})" if extra else label)
    return _text(labels)


def _local_authority(view: CaseView, partnership: PartnershipSettings | None) -> str:
    if view.local_authority:
        return view.local_authority
    covered = ", ".join(partnership.local_authorities) if partnership else ""
    hint = f" (one of: {covered}; case assess {view.reference} --la NAME)" if covered else ""
    return MISSING + hint


def build_pack(view: CaseView, details: dict[str, Any], partnership: PartnershipSettings | None) -> str:
    """The pack for one case: its deadline, the notifier, the child, the incident."""
    incident = view.incident_date or _get(details, "incident_date")
    dob = _get(details, "child", "date_of_birth")
    age_on = view.incident_date or view.la_aware
    steps = {s.deadline.key: s for s in view.deadlines}
    gender = _get(details, "child", "gender") or _get(details, "child", "sex")
    referrer = _get(details, "referrer") or {}
    request, submitted = _get(details, "request_type"), _get(details, "submission_date")
    referral_from = ", ".join(
        str(referrer[k]) for k in ("name", "role", "agency", "email", "phone") if referrer.get(k)
    )
    lines = [
        f"NOTIFICATION PACK — case {view.reference}",
        "Child safeguarding incident notification system (for local authorities in England).",
        "Contains personal data: do not forward, post or print beyond the notifier.",
        "",
        "Deadline",
        "  " + _step_state(steps.get("panel_notification"), view, "Notify the Panel"),
    ]
    if "panel_notification" in steps:
        lines.append(f"  Source: {steps['panel_notification'].deadline.source}.")
    if "sos_ofsted_notification" in steps:
        lines.append(
            "  " + _step_state(steps["sos_ofsted_notification"], view,
                               "Notify the Secretary of State and Ofsted")
        )
    lines += [
        "",
        "1. Notifier (your details)",
        f"  Notifying local authority: {_local_authority(view, partnership)}",
        f"  Safeguarding partnership: {partnership.name if partnership else view.partnership}",
        f"  Name, role: {MISSING}",
        f"  Telephone and e-mail: {MISSING}",
        "",
        "2. Child (up to 4 children per incident; one notification per incident)",
        f"  Name: {_text(_get(details, 'child', 'name'))}",
        (f"  Date of birth: {form_date(dob) if dob else MISSING}   "
         f"Age at incident: {_age(dob, age_on) if dob else MISSING}"),
        f"  Sex / gender: {_text(gender)}",
        f"  Ethnicity: {_text(_get(details, 'child', 'ethnicity'))}",
        f"  Disability: {_text(_get(details, 'child', 'disability'))}",
        f"  Address / area: {_text(_get(details, 'child', 'address'))}",
        f"  NHS number: {_text(_get(details, 'child', 'nhs_number'))}",
        f"  Health information / GP: {_text(_get(details, 'gp'))}",
        f"  Status at the time (looked after, CIN or CP plan, known to agencies): {_statuses(details)}",
        (f"  Looked after: {_answer(view, details, 'looked_after', YES_NO)}   "
         f"Care leaver under 25: {_answer(view, details, 'care_leaver_under_25', YES_NO)}"),
        f"  Parents / carers: {_text(_get(details, 'parents_carers'))}",
        f"  Siblings: {_text(_get(details, 'siblings'))}",
        "  Associated / relevant others: "
        + _records(_get(details, "relevant_others"), ("name", "address")),
        "",
        "3. Incident",
        f"  Nature (child death / serious harm): {_answer(view, details, 'harm', HARM_LABELS)}",
        "  Abuse or neglect known or suspected: "
        + _answer(view, details, "abuse_or_neglect", ABUSE_LABELS),
        f"  Date of incident (time if possible): {form_date(incident) if incident else MISSING}",
        f"  Date the LA became aware: {form_date(view.la_aware)}",
        "  Location: "
        + (_answer(view, details, "location", LOCATION_LABELS)
           if view.answers.get("location") or _get(details, "criteria", "location")
           else _text(_get(details, "incident_location"))),
        # The referrer's own account first: the case summary is a line for lists.
        f"  Incident details: {_text(_get(details, 'summary') or view.summary)}",
        "  Agencies / professionals involved: "
        + _records(_get(details, "agencies"), ("name", "title", "agency", "contact")),
        "",
        "4. Documents to attach (legal documents, letters, e-mails, forms)",
        f"  Referral received from: {referral_from or MISSING}",
        f"  Referral type: {REQUEST_LABELS.get(str(request), _text(request))}   "
        + f"Referral dated: {form_date(submitted) if submitted else MISSING}",
        "",
        "Possibly asked too (unverified against the current form): category of abuse, police",
        "involvement, media interest, other local authorities involved.",
    ]
    return "\n".join(lines)
