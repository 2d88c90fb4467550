"""The draft rapid review report as a .docx (python-docx), from what the case holds.

Sections follow issue 14 and what the seeds ask a rapid review to conclude with (seed 002's
aims: immediate action, learning and how it is disseminated, parallel processes, the decision
on an LCSPR with key lines of enquiry, sign-off by the three partners; seed 003: facts gathered
from local agencies' overview reports). A partnership's own .docx template is honoured when
configured (``rapid_review_template``): every ``{{placeholder}}`` in its paragraphs and table
cells is replaced by the section of that name (the names are PLACEHOLDERS below); a template
with none of them gets the sections appended after its own text.

The child appears as initials (and age, legal status) unless the partnership sets
``share_child_details_with_agencies``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.core.criteria import CriteriaTree
from bot.core.text import fmt_day

# Section key -> heading. The keys are also the template's placeholders ({{case_facts}}...).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("case_facts", "Case facts"),
    ("children", "The child(ren)"),
    ("agency_involvement", "Agency involvement"),
    ("chronology", "Chronology of milestones"),
    ("immediate_actions", "Immediate safeguarding actions"),
    ("decision", "Decision and rationale against each LCSPR criterion"),
    ("national_review", "National review recommendation"),
    ("learning", "Learning and dissemination"),
    ("parallel_processes", "Parallel processes"),
    ("signoffs", "Sign-off by the safeguarding partners"),
)
PLACEHOLDERS = tuple(key for key, _ in SECTIONS) + ("reference", "partnership", "title")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_TO_COMPLETE = "To be completed by the rapid review panel."
_DECISIONS = {
    "decision_local_review": "A local child safeguarding practice review (LCSPR) is to be commissioned",
    "decision_no_review": "No local child safeguarding practice review: the learning is set out below",
    "decision_national_review": "The partners think a national review may be appropriate",
}


def sections(data: dict[str, Any], criteria: CriteriaTree | None = None) -> dict[str, list[str]]:
    """Each section's paragraphs, from RapidReviewService.report's data."""
    case, review, partnership = data["case"], data["review"], data["partnership"]
    milestones = {m.kind: m for m in case.milestones if not m.voided}
    notified = milestones.get("panel_notified")
    facts = [
        f"Case reference: {case.reference}",
        f"Partnership: {partnership.name}",
        f"Notifying local authority: {case.local_authority or 'not recorded'}",
        f"Date the local authority became aware: {fmt_day(case.la_aware)}",
        f"Date notified to the Panel: {fmt_day(notified.on) if notified else 'not recorded'}",
        f"Rapid review started: {fmt_day(review.started_on)}",
        f"Rapid review meeting: {fmt_day(review.meeting) if review.meeting else 'not yet set'}",
    ]
    if case.incident_date:
        facts.insert(4, f"Date of the incident: {fmt_day(case.incident_date)}")
    children = [
        f"{c['name']}: age {c['age'] if c['age'] is not None else 'not recorded'}; "
        f"legal status: {c['legal_status'] or 'not recorded'}"
        for c in data["children"]
    ] or ["No child recorded on the case."]
    agencies = []
    for a in review.agencies:
        state = f"returned {fmt_day(a.returned_on)}" if a.returned_on else (
            f"not returned (due {fmt_day(a.due)}{', chased ' + fmt_day(a.chased_on) if a.chased_on else ''})")
        agencies.append(f"{a.name}: requested {fmt_day(a.requested_on)}, {state}")
    chronology = [f"{fmt_day(m.on)}: {m.key.replace('-', ' ')}" for m in sorted(case.milestones, key=lambda m: m.on)
                  if not m.voided]
    chronology.insert(0, f"{fmt_day(case.la_aware)}: local authority became aware")
    chronology += [f"{fmt_day(s.done_on)}: {s.label}" for s in review.steps if s.done_on]
    decided = [milestones[k] for k in _DECISIONS if k in milestones]
    decision = []
    for m in decided:
        if m.kind == "decision_national_review":
            continue
        decision.append(f"{_DECISIONS[m.kind]} (recorded {fmt_day(m.on)}).")
        if m.note:
            decision += [part.strip() for part in m.note.split(";") if part.strip()]
    if not decision:
        decision = [("No decision recorded yet (record it with `safeguard-bot criteria --flow review "
                     f"--record {case.reference} --answer ...`, or in Slack).")]
        if criteria is not None and "review" in criteria.flows:
            review_flow = criteria.flow("review")
            decision += [f"Criterion: {review_flow.question(k).text}" for k in review_flow.question_keys()]
    national = milestones.get("decision_national_review")
    national_text = ([f"{_DECISIONS['decision_national_review']} (recorded {fmt_day(national.on)})."]
                     + ([national.note] if national.note else [])) if national else [
        "The partners do not recommend a national review (none recorded)."]
    details = data.get("details") or {}
    signoffs = [f"{s.partner.replace('_', ' ').capitalize()}: signed off by {s.by} on {fmt_day(s.on)}"
                for s in review.signoffs]
    missing = 3 - len(review.signoffs)
    if missing > 0:
        signoffs.append(f"{missing} of 3 safeguarding partners have not yet signed off.")
    return {
        "case_facts": facts,
        "children": children,
        "agency_involvement": agencies or ["No agency was asked."],
        "chronology": chronology,
        "immediate_actions": list(details.get("immediate_actions") or []) or [_TO_COMPLETE],
        "decision": decision,
        "national_review": national_text,
        "learning": list(details.get("learning") or []) or [_TO_COMPLETE],
        "parallel_processes": list(details.get("parallel_processes") or []) or [_TO_COMPLETE],
        "signoffs": signoffs,
    }


def render(data: dict[str, Any], template: Path | None = None,
           criteria: CriteriaTree | None = None) -> bytes:
    """The .docx bytes: the partnership's template filled in, else a plain document."""
    from docx import Document

    content = sections(data, criteria)
    title = f"Rapid review: {data['case'].reference}"
    scalars = {"reference": data["case"].reference, "partnership": data["partnership"].name, "title": title}
    document = Document(str(template)) if template else Document()
    used = _fill(document, content, scalars) if template else False
    if not used:
        if not template:
            document.add_heading(title, level=0)
            document.add_paragraph(f"{data['partnership'].name}. Draft written from the case record by "
                                   "safeguard-bot; the timeline dates are local practice, not statute.")
        for key, heading in SECTIONS:
            document.add_heading(heading, level=1)
            for line in content[key]:
                document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _paragraphs(document: Any) -> Iterable[Any]:
    yield from document.paragraphs
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                yield from cell.paragraphs


def _fill(document: Any, content: dict[str, list[str]], scalars: dict[str, str]) -> bool:
    """Replace {{placeholders}}; True if the template had any. A section placeholder alone in
    its paragraph becomes one paragraph per line; inline ones are joined with "; "."""
    used = False
    for paragraph in list(_paragraphs(document)):
        text = paragraph.text
        names = _PLACEHOLDER.findall(text)
        if not names:
            continue
        used = True
        alone = _PLACEHOLDER.fullmatch(text.strip())
        if alone and alone.group(1) in content:
            lines = content[alone.group(1)]
            _set_text(paragraph, lines[0] if lines else "")
            anchor = paragraph
            for line in lines[1:]:
                anchor = _insert_after(anchor, line)
            continue

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in scalars:
                return scalars[name]
            if name in content:
                return "; ".join(content[name])
            return match.group(0)  # not ours: left for the partnership to see

        _set_text(paragraph, _PLACEHOLDER.sub(value, text))
    return used


def _set_text(paragraph: Any, text: str) -> None:
    runs = paragraph.runs
    if not runs:
        paragraph.add_run(text)
        return
    runs[0].text = text  # keeps the first run's formatting
    for run in runs[1:]:
        run.text = ""


def _insert_after(paragraph: Any, text: str) -> Any:
    from copy import deepcopy

    from docx.text.paragraph import Paragraph

    element = deepcopy(paragraph._p)
    paragraph._p.addnext(element)
    new = Paragraph(element, paragraph._parent)
    _set_text(new, text)
    return new
