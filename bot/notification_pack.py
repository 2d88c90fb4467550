"""The notification pack: everything the DfE online notification form asks for, in one text.

The Child safeguarding incident notification system times out after 20 minutes and saves
nothing, so a notifier gathers the answers first and pastes them in. The headings follow the
service's "before you start" list and the fields DfE publishes in its notification statistics
(shared/domain-facts.md §3); fields the current form may also ask for but that could not be
verified are marked as such. This text contains the child's details: it is for the notifier's
terminal only, never for a channel.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.cases import CaseView
from bot.core.lifecycle import DeadlineStatus
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


def _get(data: dict[str, Any], *path: str) -> Any:
    value: Any = data
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _text(value: Any) -> str:
    if value in (None, "", [], {}):
        return MISSING
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def _age(dob: Any, on: date) -> str:
    try:
        born = date.fromisoformat(str(dob))
    except ValueError:
        return MISSING
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return f"{years}" if years >= 1 else f"under 1 ({(on - born).days} days)"


def build_pack(view: CaseView, details: dict[str, Any], partnership: PartnershipSettings | None) -> str:
    incident = view.incident_date or _get(details, "incident_date")
    dob = _get(details, "child", "date_of_birth")
    age_on = view.incident_date or view.la_aware
    statuses = [STATUS_LABELS.get(s, s) for s in (_get(details, "child_status") or [])]
    notify = next((s for s in view.deadlines if s.deadline.key == "panel_notification"), None)
    lines = [
        f"NOTIFICATION PACK — case {view.reference}",
        "Child safeguarding incident notification system (for local authorities in England).",
        "Contains personal data: do not forward, post or print beyond the notifier.",
        "",
        "Deadline",
    ]
    if notify is not None:
        state = "already recorded as sent" if notify.status is not DeadlineStatus.OPEN else "open"
        lines.append(
            f"  Notify the Panel by {notify.deadline.due:%A %d %B %Y} ({notify.deadline.rule}; {state})."
        )
        lines.append(f"  Source: {notify.deadline.source}.")
    lines += [
        "",
        "1. Notifier (your details)",
        f"  Local authority / partnership: {partnership.name if partnership else view.partnership}",
        f"  Name, role: {MISSING}",
        f"  Telephone and e-mail: {MISSING}",
        "",
        "2. Child (up to 4 children per incident; one notification per incident)",
        f"  Name: {_text(_get(details, 'child', 'name'))}",
        f"  Date of birth: {_text(dob)}   Age at incident: {_age(dob, age_on) if dob else MISSING}",
        f"  Sex / gender: {_text(_get(details, 'child', 'sex'))}",
        f"  Ethnicity: {_text(_get(details, 'child', 'ethnicity'))}",
        f"  Disability: {_text(_get(details, 'child', 'disability'))}",
        f"  Address / area: {_text(_get(details, 'child', 'address'))}",
        f"  NHS number: {_text(_get(details, 'child', 'nhs_number'))}",
        f"  Health information / GP: {_text(_get(details, 'gp'))}",
        f"  Status at the time (looked after, CIN or CP plan, known to agencies): {_text(statuses)}",
        f"  Parents / carers: {_text(_get(details, 'parents_carers'))}",
        f"  Siblings: {_text(_get(details, 'siblings'))}",
        "",
        "3. Incident",
        f"  Nature (child death / serious harm): {_text(_get(details, 'criteria', 'harm'))}",
        f"  Abuse or neglect known or suspected: {_text(_get(details, 'criteria', 'abuse_or_neglect'))}",
        f"  Date of incident (time if possible): {_text(incident.isoformat() if isinstance(incident, date) else incident)}",
        f"  Date the LA became aware: {view.la_aware.isoformat()}",
        f"  Location: {_text(_get(details, 'incident_location'))}",
        f"  Case outline: {_text(view.summary or _get(details, 'summary'))}",
        f"  Agencies involved: {_text(_get(details, 'agencies'))}",
        "",
        "4. Documents to attach (legal documents, letters, e-mails, forms)",
        f"  Referral received from: {_text(_get(details, 'referrer', 'agency'))}",
        "",
        "Possibly asked too (unverified against the current form): category of abuse, police",
        "involvement, media interest, other local authorities involved.",
    ]
    return "\n".join(lines)
